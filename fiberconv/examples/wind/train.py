r"""The wind example end to end: ``python -m fiberconv.examples.wind [--tiny] [--device cuda] [--out out/wind] ...``
(console script ``fiberconv-wind``; the command line is :mod:`.cli`).

Two tasks on real monthly surface winds (Navy FNOC 1982-1992 on HEALPix, :mod:`fiberconv.datasets.wind`),
trained on 1982-1990 and tested on 1991-1992:

1. **Vorticity and divergence from the wind** (vector -> two scalars): targets from spin-1 spherical
   harmonics (:func:`fiberconv.examples.wind.targets.vorticity_divergence`), learnt by an equivariant SphereConv
   network (:class:`~fiberconv.examples.wind.models.VortDivNet`); reported: the relative error on the test years, also
   with the globe turned by 180 degrees about the x-axis (a grid symmetry).
2. **Wind downscaling** (vector -> vector): the nside-32 wind from the wind pooled to nside 8
   (:class:`~fiberconv.examples.wind.models.Resolution`), by an equivariant vector-field U-Net and by the same U-Net
   treating ``(v_theta, v_phi)`` as two scalar channels (the baseline), each with and without latitude as
   an extra input (:class:`~fiberconv.examples.wind.models.Downscaler`). Reported: RMSE (m/s) and mean angular error of
   the wind direction on the test set, on the test set with the globe rotated by random rotations (inputs
   and targets rotated with the induced representation), by 90 degrees about the polar axis and by 180
   degrees about the x-axis (grid symmetries: exact), the end-to-end equivariance error, and the error
   against the rotation angle.

Writes to ``--out`` (default ``out/wind``): ``summary.txt`` (the table), ``results.json`` (all numbers and
the settings), ``models.pt`` (the trained models' state dicts) and the figures ``wind_maps.png``,
``wind_maps_rotated.png``, ``wind_prediction_views.png`` (Mollweide and polar views), ``vorticity_divergence_maps.png``,
``error_vs_rotation.png``. ``--tiny`` runs everything
at nside 8 on a few months in seconds (for tests).
"""
from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fiberconv.datasets.wind import WindDataError, WindDataset, load
from fiberconv.examples._options import check_loss, check_output_dir, check_parameters
from fiberconv.fields import InducedRepresentation
from fiberconv.nn import SpherePool
from fiberconv.spaces import HealpixGrid

from .cli import DEFAULTS, TINY, Log, build_parser, resolve, resolve_device
from .distributed import Distributed, setup
from .evaluate import (
    grid_symmetry,
    make_pi,
    polar_caps,
    predict,
    random_rotations,
    rel_error,
    rotated_fine,
    wind_metrics,
    x_rotation,
)
from .models import SCALARS2, WIND, Downscaler, Resolution, VortDivNet, count_parameters
from .summary import format_summary
from .targets import vorticity_divergence

__all__ = ["main", "run", "build_parser", "DEFAULTS", "TINY"]

MODEL_SPECS = (  # (name, equivariant, latitude)
    ("equivariant", True, False),
    ("baseline", False, False),
    ("equivariant + lat", True, True),
    ("baseline + lat", False, True),
)
POLAR_DEGREES = 20.0  # the "polar caps" of the table: within 20 degrees of the grid's poles


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------
def load_wind(args) -> WindDataset:
    """The data of ``--data`` (default: the committed Navy winds); SystemExit with one line naming the file and
    what was expected when it cannot be read."""
    kwargs = {}
    if args.data and not (len(args.data) == 1 and str(args.data[0]).endswith(".npz")):
        kwargs = dict(nside=max(args.nside, 1), u_name=args.u_name, v_name=args.v_name)
    try:
        return load(*(args.data or ()), **kwargs)
    except (WindDataError, OSError, ImportError) as e:
        raise SystemExit(f"--data: {e}") from e


def _exit(message: str):
    raise SystemExit(message)


def to_nside(wind: torch.Tensor, grid: HealpixGrid, nside: int) -> tuple[torch.Tensor, HealpixGrid]:
    """Pool ``wind (T, 2, N)`` down to ``nside`` with :class:`SpherePool` (vectors transported)."""
    if nside > grid.nside or nside & (nside - 1):
        raise SystemExit(f"--nside {nside}: must be a power of two <= the data's nside {grid.nside}")
    while grid.nside > nside:
        wind = SpherePool(WIND, grid).to(wind.device)(wind)
        grid = grid.coarsen()
    return wind, grid


def split_months(ds: WindDataset, test_from: int, train_months: int, test_months: int):
    """Indices of training (years < test_from) and test months; the last / first N when limited."""
    t = np.asarray(ds.time)
    if np.issubdtype(t.dtype, np.datetime64):
        years = t.astype("datetime64[Y]").astype(int) + 1970
        train = np.nonzero(years < test_from)[0]
        test = np.nonzero(years >= test_from)[0]
    else:  # undecodable times: the last sixth of the record is the test set
        n_test = max(1, len(t) // 6)
        train, test = np.arange(len(t) - n_test), np.arange(len(t) - n_test, len(t))
    if train_months:
        train = train[-train_months:]
    if test_months:
        test = test[:test_months]
    if len(train) == 0 or len(test) == 0:
        raise SystemExit(f"need training and test months: {len(train)} months before {test_from}, {len(test)} from it "
                         f"(times {t[0]} .. {t[-1]}); choose --test-from")
    return train, test


def _months(ds: WindDataset, idx) -> str:
    t = np.asarray(ds.time)[idx]
    if np.issubdtype(t.dtype, np.datetime64):
        return f"{str(t[0].astype('datetime64[M]'))}..{str(t[-1].astype('datetime64[M]'))} ({len(t)} months)"
    return f"{len(t)} time steps"


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------
def train_model(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, scale: torch.Tensor,
                epochs: int, batch_size: int, lr: float, seed: int, log: Log, label: str,
                lr_flag: str = "--lr", dist: Distributed | None = None) -> list[float]:
    """Adam with cosine decay on ``mean(((model(x) - y) / scale)^2)``; ``scale`` broadcasts over ``(B, C, N)``.
    Returns the mean loss per epoch. A loss that is no longer finite stops the run (SystemExit): the training
    diverged, and ``lr_flag`` is the option to lower. Under torchrun (``dist``) each process trains on its share
    of every batch and the gradients are averaged (:mod:`.distributed`): the same steps as one process."""
    dist = dist or Distributed()
    net = dist.wrap(model)
    n = inputs.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    total = max(epochs * steps_per_epoch, 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    gen = torch.Generator().manual_seed(seed)
    bar = log.progress(total, label)
    history = []
    model.train()
    local = batch_size // dist.world
    for epoch in range(epochs):
        perm = dist.local_order(torch.randperm(n, generator=gen).to(inputs.device))
        run_loss = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * local : (b + 1) * local]
            loss = (((net(inputs[idx]) - targets[idx]) / scale) ** 2).mean()
            value = dist.global_mean(loss, len(idx))  # the same on every process: all stop together
            check_loss(value, f"training of the {label} model (epoch {epoch + 1}, step {b + 1})",
                       f"try a smaller {lr_flag} (now {lr:g})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            run_loss += value * min(batch_size, n - b * batch_size)
            bar.set_postfix_str(f"epoch {epoch + 1}/{epochs} loss {run_loss / min((b + 1) * batch_size, n):.4f}",
                                refresh=False)
            bar.update()
        history.append(run_loss / n)
    bar.close()
    check_parameters(model, f"training of the {label} model", f"try a smaller {lr_flag} (now {lr:g})")
    model.eval()
    return history


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    """The whole example; under torchrun every process runs it, rank 0 logs and writes (:mod:`.distributed`)."""
    args = resolve(args)
    from .._progress import require_tqdm

    require_tqdm()  # before the long work: the progress bars need tqdm
    dist, device = setup(resolve_device(args.device))
    try:
        return _run(args, dist, device)
    finally:
        dist.close()


def _run(args: argparse.Namespace, dist: Distributed, device: torch.device) -> dict:
    log = Log(args.quiet or not dist.main)
    dist.check_batch(args.batch_size, "--batch-size")
    dist.check_batch(args.vd_batch_size, "--vd-batch-size")
    if not args.no_plots:  # before the long work: the figures need matplotlib
        from fiberconv.plot import require_matplotlib

        try:
            require_matplotlib()
        except ImportError as e:
            raise SystemExit(f"{e}; or pass --no-plots") from e
    check_output_dir(args.out, _exit)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    torch.manual_seed(args.seed)

    # ---- data --------------------------------------------------------------------------------------
    ds = load_wind(args)
    train_idx, test_idx = split_months(ds, args.test_from, args.train_months, args.test_months)
    used = np.concatenate([train_idx, test_idx])
    wind = torch.from_numpy(np.ascontiguousarray(ds.wind[used])).to(device=device, dtype=torch.float32)
    wind, grid = to_nside(wind, ds.grid, args.nside)
    fine_train, fine_test = wind[: len(train_idx)], wind[len(train_idx) :]
    if args.levels < 1 or grid.nside < 2 ** args.levels:
        raise SystemExit(f"--levels {args.levels}: cannot pool nside {grid.nside} that often")
    res = Resolution(grid, args.levels).to(device)
    x_train, x_test = res.degrade(fine_train), res.degrade(fine_test)
    wind_scale = float(fine_train.double().pow(2).sum(1).mean().sqrt())
    log(f"data: {ds.meta.get('source', '?')[:90]}")
    log(f"{grid!r}; train {_months(ds, train_idx)}, test {_months(ds, test_idx)}; device {device}, "
        f"{torch.get_num_threads()} threads; rms wind {wind_scale:.2f} m/s")
    results: dict = {
        "settings": {k: v for k, v in vars(args).items() if k not in ("widths_list", "vd_hidden_pair", "angle_list")},
        "data": {"source": ds.meta.get("source", "?"), "train": _months(ds, train_idx), "test": _months(ds, test_idx),
                 "nside": grid.nside, "coarse_nside": res.coarse_grid.nside, "rms_wind": wind_scale},
        "device": str(device), "threads": torch.get_num_threads(),
    }

    # ---- 1. vorticity and divergence ----------------------------------------------------------------
    log("vorticity/divergence targets (healpy spin-1 transforms)")
    zeta, delta = vorticity_divergence(wind.detach().cpu().double().numpy(), grid, iterations=1)
    vd = torch.from_numpy(np.stack([zeta, delta], axis=1)).to(device=device, dtype=torch.float32)
    vd_train, vd_test = vd[: len(train_idx)], vd[len(train_idx) :]
    vd_scale = vd_train.double().pow(2).mean(dim=(0, 2)).sqrt().float()  # (2,) 1/s
    torch.manual_seed(args.seed)
    vd_model = VortDivNet(grid, args.vd_hidden_pair, scale_in=wind_scale, scale_out=vd_scale.tolist()).to(
        device=device, dtype=torch.float32)
    vd_hist = train_model(vd_model, fine_train, vd_train, vd_scale.view(1, 2, 1).to(device), args.vd_epochs,
                          args.vd_batch_size, args.vd_lr, args.seed, log, "vorticity/divergence", "--vd-lr", dist)
    vd_pred = predict(vd_model, fine_test, args.batch_size)
    sym = grid_symmetry("x180", device=device)
    pi_wind = make_pi(grid)
    pi_scalar = InducedRepresentation(SCALARS2, grid)
    vd_pred_rot = predict(vd_model, rotated_fine(pi_wind, fine_test, sym), args.batch_size)
    vd_test_rot = rotated_fine(pi_scalar, vd_test, sym)
    results["vortdiv"] = {
        "model": vd_model.name, "params": count_parameters(vd_model), "loss": vd_hist,
        "rel_error": dict(zip(("vorticity", "divergence"), rel_error(vd_pred, vd_test))),
        "rel_error_x180": dict(zip(("vorticity", "divergence"), rel_error(vd_pred_rot, vd_test_rot))),
        "rel_error_zero": 1.0,
    }

    # ---- 2. downscaling -------------------------------------------------------------------------------
    specs = [s for s in MODEL_SPECS if not (args.no_latitude and s[2])]
    models: dict[str, Downscaler] = {}
    for k, (name, equivariant, latitude) in enumerate(specs):
        torch.manual_seed(args.seed + 1 + k)
        model = Downscaler(grid, args.widths_list, equivariant=equivariant, latitude=latitude, scale=wind_scale)
        model = model.to(device=device, dtype=torch.float32)
        hist = train_model(model, x_train, fine_train, torch.tensor(wind_scale, device=device), args.epochs,
                           args.batch_size, args.lr, args.seed + 1 + k, log, name, dist=dist)
        models[name] = model
        results.setdefault("downscaling", {})[name] = {"params": count_parameters(model), "loss": hist}

    # ---- evaluation on the test set, rotated and not ----------------------------------------------------
    log("evaluation: test set, random rotations, 90° about z, 180° about x")
    rots = random_rotations(args.rotations, seed=args.seed + 1000, device=device)
    fine_cases = {
        "test": fine_test,
        "random SO(3)": rotated_fine(pi_wind, fine_test, rots),
        "90° about z": rotated_fine(pi_wind, fine_test, grid_symmetry("z90", device=device)),
        "180° about x": rotated_fine(pi_wind, fine_test, grid_symmetry("x180", device=device)),
    }
    polar = polar_caps(grid, POLAR_DEGREES, device=device)
    table: dict[str, dict[str, dict[str, float]]] = {"upsampled input": {}}
    preds: dict[str, dict[str, torch.Tensor]] = {name: {} for name in models}
    for case, fine in fine_cases.items():
        inp = res.degrade(fine)
        table["upsampled input"][case] = wind_metrics(inp, fine, polar)
        for name, model in models.items():
            preds[name][case] = predict(model, inp, args.batch_size)
            table.setdefault(name, {})[case] = wind_metrics(preds[name][case], fine, polar)
    # the grid's discretization error: rotating there and back
    back = rotated_fine(pi_wind, fine_cases["random SO(3)"], rots.transpose(-1, -2).contiguous())
    roundtrip = wind_metrics(back, fine_test)["rmse"]
    results["downscaling_table"] = table
    results["polar_caps"] = {"degrees": POLAR_DEGREES, "fraction": float(polar.double().mean())}
    results["resampling_roundtrip_rmse"] = roundtrip
    results["random_rotations"] = rots.cpu().tolist()

    # ---- error against the rotation angle --------------------------------------------------------------
    curve_names = [n for n in ("equivariant", "baseline") if n in models]
    n_sub = min(args.curve_months, fine_test.shape[0])
    sub = torch.linspace(0, fine_test.shape[0] - 1, n_sub).round().long().unique().to(device)
    log(f"error vs rotation angle: {len(args.angle_list)} angles about the x-axis, {len(sub)} test months")
    curves = {n: {"rmse": [], "rmse_polar": [], "angle": []} for n in ["upsampled input"] + curve_names}
    for a in args.angle_list:
        fine = rotated_fine(pi_wind, fine_test[sub], x_rotation(a, device=device))
        inp = res.degrade(fine)
        for n in curves:
            m = wind_metrics(inp if n == "upsampled input" else predict(models[n], inp, args.batch_size), fine, polar)
            for k in curves[n]:
                curves[n][k].append(m[k])
    for n in curve_names:  # skill: RMSE relative to the upsampled input's on the same (rotated) months
        curves[n]["skill"] = [a / b for a, b in zip(curves[n]["rmse"], curves["upsampled input"]["rmse"])]
    results["error_vs_angle"] = {"angles": args.angle_list, "months": len(sub), "curves": curves}

    # ---- figures -----------------------------------------------------------------------------------------
    figures = []
    if not args.no_plots and dist.main:
        log("figures")
        from .plots import plot_error_vs_rotation, plot_scalar_maps, plot_vector_field, plot_wind_maps

        month = _months(ds, test_idx[:1]).split(" ")[0].split("..")[0]
        truth = fine_test[0]
        panels = {f"upsampled input (nside {res.coarse_grid.nside})": x_test[0], "truth": truth}
        error_keys = []
        for name in curve_names:
            panels[f"{name}: prediction"] = preds[name]["test"][0]
            panels[f"{name}: error (pred - truth)"] = preds[name]["test"][0] - truth
            error_keys.append(f"{name}: error (pred - truth)")
        figures.append(plot_wind_maps(out / "wind_maps.png", grid, panels,
                                      f"Surface wind {month}, nside {res.coarse_grid.nside} -> {grid.nside}: speed "
                                      "(colour) and direction (arrows)", error_keys, args.arrow_nside))
        # the baseline on a rotated globe (180° about x): the errors it makes when the poles move
        if "baseline" in models and "equivariant" in models:
            rt = fine_cases["180° about x"][0]
            panels_rot = {"truth, globe rotated 180° about x": rt}
            for name in curve_names:
                panels_rot[f"{name}: error, rotated globe"] = preds[name]["180° about x"][0] - rt
            figures.append(plot_wind_maps(out / "wind_maps_rotated.png", grid, panels_rot,
                                          f"{month} on a globe turned 180° about the x-axis (a grid symmetry)",
                                          [k for k in panels_rot if "error" in k], args.arrow_nside, ncols=3))
        # the equivariant prediction on the whole globe and seen from above each pole
        best = "equivariant" if "equivariant" in preds else next(iter(preds))
        path = out / "wind_prediction_views.png"
        plot_vector_field(preds[best]["test"][0], grid, path, arrow_nside=args.arrow_nside,
                          title=f"{best} prediction {month}: speed (colour) and direction (arrows)")
        figures.append(path)
        vt, vp = vd_test[0].cpu().numpy(), vd_pred[0].cpu().numpy()
        figures.append(plot_scalar_maps(out / "vorticity_divergence_maps.png", grid, {
            "vorticity: truth": vt[0], "vorticity: prediction": vp[0], "vorticity: error": vp[0] - vt[0],
            "divergence: truth": vt[1], "divergence: prediction": vp[1], "divergence: error": vp[1] - vt[1],
        }, f"Vorticity and divergence {month} (1/s), equivariant SphereConv network", units="1/s"))
        figures.append(plot_error_vs_rotation(out / "error_vs_rotation.png", args.angle_list, curves,
                                              f"Downscaling error on a rotated globe ({len(sub)} test months); "
                                              "0° and 180° are grid symmetries", polar_degrees=POLAR_DEGREES))
    results["figures"] = [str(f) for f in figures]
    results["processes"] = dist.world
    if not dist.main:  # rank 0 writes the checkpoint, the table and the results
        return results

    torch.save({"settings": results["settings"], "wind_scale": wind_scale, "vortdiv_scale_out": vd_scale.tolist(),
                "vortdiv": vd_model.state_dict(),
                **{name: model.state_dict() for name, model in models.items()}}, out / "models.pt")

    # ---- table -------------------------------------------------------------------------------------------
    results["wall_time_s"] = log.elapsed()
    text = format_summary(results, grid, res.coarse_grid)
    (out / "summary.txt").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(text, flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    main()

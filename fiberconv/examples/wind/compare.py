r"""The wind example against what climate users pick, at equal wall-clock budgets:
``python -m fiberconv.examples.wind.compare [--budget 60] [--sizes 1k,10k,100k] [--tasks downscaling,vortdiv]``.

Architectures (:data:`ARCHITECTURES`), each a U-Net with three levels (nside 32 / 16 / 8) at about 1k, 10k and
100k parameters:

* ``equivariant`` -- fiberconv's :class:`~fiberconv.nn.SphericalUNet` with the wind as one tangent vector field;
* ``(u,v) as scalars`` -- the same network with the components ``(v_theta, v_phi)`` as two scalar channels
  (isotropic filters; equivariant only about the polar axis);
* ``HEALPix faces Conv2d`` -- DLWP-HPX's layout: 12 face images, neighbour padding, ``Conv2d`` 3 x 3
  (:class:`~.baselines.FaceNet`);
* ``DISCO lat-lon`` -- torch-harmonics' DISCO convolutions on the equiangular grid (:class:`~.baselines.DiscoNet`),
  only where torch-harmonics is importable (the README's ``.venv-bench``); skipped, and said so, elsewhere.

Tasks (:data:`TASKS`), trained on 1982-1990 and tested on 1991-1992 (the committed Navy winds, nside 32):

* ``downscaling`` -- the wind from the wind pooled to nside 8 (vector -> vector, ``y = x + s * net(x / s)``);
  metrics: RMSE (m/s), mean angular error (degrees), RMSE within 20 degrees of the poles;
* ``vortdiv`` -- relative vorticity and divergence from the wind (vector -> two scalars, a rotation-symmetric
  operator: the physics does not know where the poles are); metrics: relative errors of each and the relative
  error within 20 degrees of the poles (both fields).

Each on the test set, on the test set with the globe turned by random rotations (inputs and targets rotated,
:func:`.evaluate.rotated_fine`) and turned 180 degrees about the x-axis (a grid symmetry, exact). Every model
trains with Adam (learning rate decaying as a cosine of the elapsed time) for ``--budget`` seconds of wall clock
on one thread; training throughput is reported in samples (months) per second. Writes ``comparison.md`` (the
tables) and ``comparison.json`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fiberconv.examples._options import check_loss, check_options, check_output_dir, resolve_device

from .cli import Log

__all__ = ["ARCHITECTURES", "TASKS", "SIZES", "build_parser", "main", "run"]

SIZES = ("1k", "10k", "100k")
CASES = ("test", "random SO(3)", "180° about x")
POLAR_DEGREES = 20.0


# ------------------------------------------------------------------------------------------------
# architectures: (B, 2, N) NESTED maps -> (B, 2, N), heads at zero
# ------------------------------------------------------------------------------------------------
class Architecture:
    """One network family at the three sizes; ``width`` per size sets the channels (chosen for ~1k/10k/100k)."""

    name = ""
    widths = (1, 4, 12)

    def available(self) -> bool:
        return True

    def build(self, grid, size: int, vector_out: bool) -> nn.Module:
        raise NotImplementedError


class Equivariant(Architecture):
    name = "equivariant"
    scalar_input = False

    def build(self, grid, size, vector_out):
        from fiberconv.nn import SphericalUNet

        from .models import SCALARS2, WIND

        k = self.widths[size]
        in_type = SCALARS2 if self.scalar_input else WIND
        out_type = SCALARS2 if self.scalar_input or not vector_out else WIND
        net = SphericalUNet(in_type, out_type, grid, widths=[(2 * k, k), (4 * k, 2 * k), (8 * k, 4 * k)])
        with torch.no_grad():
            net.head.weight.zero_()
        return net


class ComponentsAsScalars(Equivariant):
    name = "(u,v) as scalars"
    scalar_input = True


class Faces(Architecture):
    name = "HEALPix faces Conv2d"
    widths = (2, 7, 21)

    def build(self, grid, size, vector_out):
        from .baselines import FaceNet

        c = self.widths[size]
        return FaceNet(grid, 2, 2, [c, 2 * c, 4 * c])


class Disco(Architecture):
    name = "DISCO lat-lon"
    widths = (2, 7, 21)

    def available(self):
        from .baselines import have_torch_harmonics

        return have_torch_harmonics()

    def build(self, grid, size, vector_out):
        from .baselines import DiscoNet

        c = self.widths[size]
        return DiscoNet(grid, 2, 2, [c, 2 * c, 4 * c])


ARCHITECTURES = {a.name: a for a in (Equivariant(), ComponentsAsScalars(), Faces(), Disco())}
ARCH_KEYS = {"equivariant": "equivariant", "scalars": "(u,v) as scalars", "faces": "HEALPix faces Conv2d",
             "disco": "DISCO lat-lon"}


class Scaled(nn.Module):
    """``y = [x +] s_out * net(x / s_in)``: fixed scales (m/s in, the target's units out)."""

    def __init__(self, net: nn.Module, scale_in: float, scale_out: torch.Tensor, residual: bool):
        super().__init__()
        self.net, self.scale_in, self.residual = net, float(scale_in), bool(residual)
        self.register_buffer("scale_out", scale_out.reshape(1, -1, 1).clone())

    def forward(self, x):
        y = self.net(x / self.scale_in) * self.scale_out.to(x.dtype)
        return x + y if self.residual else y


# ------------------------------------------------------------------------------------------------
# tasks
# ------------------------------------------------------------------------------------------------
class Task:
    """Inputs and targets for training and for each test case, the metrics and the reference row."""

    name = key = ""
    vector_out = residual = False
    columns: tuple[str, ...] = ()

    def metrics(self, pred, truth, polar) -> dict[str, float]:
        raise NotImplementedError


class Downscaling(Task):
    key, vector_out, residual = "downscaling", True, True
    columns = ("RMSE m/s", "angle °", "polar RMSE")

    def __init__(self, grid, fine_train, fine_cases):
        from .models import Resolution

        res = Resolution(grid, 2).to(fine_train.device)
        self.name = f"Wind downscaling nside {res.coarse_grid.nside} -> {grid.nside} (vector -> vector)"
        self.train = (res.degrade(fine_train), fine_train)
        self.cases = {c: (res.degrade(f), f) for c, f in fine_cases.items()}
        s = float(fine_train.double().pow(2).sum(1).mean().sqrt())
        self.scale_in, self.scale_out = s, torch.full((2,), s)
        self.reference = "upsampled input"

    def metrics(self, pred, truth, polar):
        from .evaluate import wind_metrics

        m = wind_metrics(pred, truth, polar)
        return {"RMSE m/s": m["rmse"], "angle °": m["angle"], "polar RMSE": m["rmse_polar"]}


class VortDiv(Task):
    key, vector_out, residual = "vortdiv", False, False
    columns = ("rel. err ζ", "rel. err δ", "polar rel. err")

    def __init__(self, grid, fine_train, fine_cases):
        from .targets import vorticity_divergence

        def target(f):
            z, d = vorticity_divergence(f.detach().cpu().double().numpy(), grid, iterations=1)
            return torch.from_numpy(np.stack([z, d], 1)).to(device=f.device, dtype=f.dtype)

        self.name = f"Vorticity and divergence from the wind, nside {grid.nside} (vector -> 2 scalars)"
        self.train = (fine_train, target(fine_train))
        self.cases = {c: (f, target(f)) for c, f in fine_cases.items()}
        self.scale_in = float(fine_train.double().pow(2).sum(1).mean().sqrt())
        self.scale_out = self.train[1].double().pow(2).mean(dim=(0, 2)).sqrt().float().cpu()
        self.reference = None

    def metrics(self, pred, truth, polar):
        p, t = pred.double(), truth.double()
        pm, tm = p[..., polar], t[..., polar]
        return {"rel. err ζ": float((p[:, 0] - t[:, 0]).norm() / t[:, 0].norm()),
                "rel. err δ": float((p[:, 1] - t[:, 1]).norm() / t[:, 1].norm()),
                "polar rel. err": float(((pm - tm) / t.pow(2).mean((0, 2), keepdim=True).sqrt()).norm()
                                        / (tm / t.pow(2).mean((0, 2), keepdim=True).sqrt()).norm())}


TASKS = {"downscaling": Downscaling, "vortdiv": VortDiv}


# ------------------------------------------------------------------------------------------------
# training on a wall-clock budget
# ------------------------------------------------------------------------------------------------
def train_for(model: nn.Module, x: torch.Tensor, y: torch.Tensor, scale: torch.Tensor, budget: float, batch_size: int,
              lr: float, seed: int, log: Log, label: str) -> dict:
    """Adam on ``mean(((model(x) - y) / scale)^2)`` for ``budget`` seconds of wall clock; the learning rate decays as
    a cosine of the elapsed *time* (so every model ends its decay at the budget, whatever its speed). Returns steps,
    samples, seconds, samples/s and the mean of the last 10 losses."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda _: 0.5 * (1 + math.cos(math.pi * min((time.perf_counter() - t0) / budget, 1.0))))
    gen = torch.Generator().manual_seed(seed)
    n, steps, losses, order = x.shape[0], 0, [], torch.empty(0, dtype=torch.long)
    model.train()
    bar = log.progress(0, label)
    while time.perf_counter() - t0 < budget:
        if order.numel() < batch_size:
            order = torch.cat([order, torch.randperm(n, generator=gen)])
        idx, order = order[:batch_size].to(x.device), order[batch_size:]
        loss = (((model(x[idx]) - y[idx]) / scale) ** 2).mean()
        check_loss(loss.item(), f"training of {label}", "try a smaller --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        steps += 1
        losses.append(loss.item())
        bar.update()
        bar.set_postfix_str(f"loss {losses[-1]:.4f}", refresh=False)
    seconds = time.perf_counter() - t0
    bar.close()
    model.eval()
    return {"steps": steps, "samples": steps * batch_size, "seconds": seconds,
            "samples_per_s": steps * batch_size / seconds, "final_loss": float(np.mean(losses[-10:]))}


# ------------------------------------------------------------------------------------------------
# command line and the run
# ------------------------------------------------------------------------------------------------
DEFAULTS = dict(budget=60.0, sizes="1k,10k,100k", nside=32, train_months=0, test_months=0, rotations=4)
TINY = dict(budget=2.0, sizes="1k", nside=8, train_months=8, test_months=4, rotations=2)


def build_parser(prog: str = "python -m fiberconv.examples.wind.compare") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("--out", default="out/wind_compare", help="output folder (comparison.md, comparison.json)")
    p.add_argument("--budget", type=float, help=f"training wall-clock seconds per model [{DEFAULTS['budget']:g}]")
    p.add_argument("--sizes", help=f"model sizes, from {','.join(SIZES)} [{DEFAULTS['sizes']}]")
    p.add_argument("--archs", default="equivariant,scalars,faces,disco",
                   help="architectures: equivariant, scalars ((u,v) as scalars), faces (HEALPix faces Conv2d), "
                        "disco (torch-harmonics; skipped where it is not importable)")
    p.add_argument("--tasks", default="downscaling,vortdiv", help="tasks: downscaling, vortdiv")
    p.add_argument("--batch-size", type=int, default=4, help="months per step")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (cosine decay over the budget)")
    p.add_argument("--nside", type=int, help=f"working nside (the data pooled to it) [{DEFAULTS['nside']}]")
    p.add_argument("--train-months", type=int, help="only the last N training months (0: all) [0]")
    p.add_argument("--test-months", type=int, help="only the first N test months (0: all) [0]")
    p.add_argument("--rotations", type=int, help=f"random rotations of the test set [{DEFAULTS['rotations']}]")
    p.add_argument("--tiny", action="store_true", help="nside 8, a few months, 1k models, 2 s budgets: seconds")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="cpu", help="torch device")
    p.add_argument("--quiet", action="store_true", help="no progress bars or stage messages")
    return p


def _exit(message: str):
    raise SystemExit(message)


def _choices(text: str, allowed: Sequence[str], flag: str) -> list[str]:
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if not items or bad:
        raise SystemExit(f"{flag}: expected a comma-separated subset of {', '.join(allowed)}, got {text!r}")
    return items


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    for k, v in (TINY if args.tiny else DEFAULTS).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.size_list = _choices(args.sizes, SIZES, "--sizes")
    args.arch_list = [ARCH_KEYS[a] for a in _choices(args.archs, tuple(ARCH_KEYS), "--archs")]
    args.task_list = _choices(args.tasks, tuple(TASKS), "--tasks")
    check_options(args, _exit, positive=("batch_size", "rotations", "nside"),
                  nonnegative=("train_months", "test_months", "threads"), positive_float=("budget", "lr"))
    if args.nside & (args.nside - 1) or args.nside < 8:
        raise SystemExit(f"--nside must be a power of two >= 8 (three U-Net levels), got {args.nside}")
    return args


def run(args: argparse.Namespace) -> dict:
    from .._progress import require_tqdm
    from .evaluate import grid_symmetry, make_pi, polar_caps, predict, random_rotations, rotated_fine
    from .models import count_parameters
    from .train import load_wind, split_months, to_nside

    args = resolve(args)
    require_tqdm()
    device = resolve_device(args.device)
    check_output_dir(args.out, _exit)
    if args.threads:
        torch.set_num_threads(args.threads)
    log = Log(args.quiet)
    args.data, args.test_from = None, 1991
    ds = load_wind(args)
    train_idx, test_idx = split_months(ds, args.test_from, args.train_months, args.test_months)
    wind = torch.from_numpy(np.ascontiguousarray(ds.wind[np.concatenate([train_idx, test_idx])])).to(device, torch.float32)
    wind, grid = to_nside(wind, ds.grid, args.nside)
    fine_train, fine_test = wind[: len(train_idx)], wind[len(train_idx):]
    pi = make_pi(grid)
    rots = random_rotations(args.rotations, seed=args.seed + 1000, device=device)
    log(f"{grid!r}: train {len(train_idx)} months, test {len(test_idx)}; rotating the test set")
    fine_cases = {"test": fine_test, "random SO(3)": rotated_fine(pi, fine_test, rots),
                  "180° about x": rotated_fine(pi, fine_test, grid_symmetry("x180", device=device))}
    polar = polar_caps(grid, POLAR_DEGREES, device=device)
    archs = [ARCHITECTURES[a] for a in args.arch_list]
    skipped = [a.name for a in archs if not a.available()]
    results = {"settings": {k: v for k, v in vars(args).items() if not k.endswith("_list")},
               "device": str(device), "threads": torch.get_num_threads(), "skipped": skipped, "tasks": {}}
    for key in args.task_list:
        task = TASKS[key](grid, fine_train, fine_cases)
        log(task.name)
        rows = {}
        if task.reference:
            rows[task.reference] = {"cases": {c: task.metrics(x, y, polar) for c, (x, y) in task.cases.items()}}
        scale = task.scale_out.view(1, -1, 1).to(device)
        for arch in (a for a in archs if a.available()):
            for size in args.size_list:
                s = SIZES.index(size)
                torch.manual_seed(args.seed + s)
                model = Scaled(arch.build(grid, s, task.vector_out), task.scale_in, task.scale_out, task.residual).to(device)
                label = f"{arch.name} {size}"
                info = train_for(model, *task.train, scale, args.budget, args.batch_size, args.lr, args.seed, log, label)
                cases = {c: task.metrics(predict(model, x, args.batch_size), y, polar) for c, (x, y) in task.cases.items()}
                rows[label] = {"arch": arch.name, "size": size, "params": count_parameters(model), **info, "cases": cases}
                log(f"{label}: {rows[label]['params']} params, {info['steps']} steps, {info['samples_per_s']:.1f} samples/s")
                results["tasks"][key] = {"name": task.name, "columns": task.columns, "rows": rows}
                _write(results, Path(args.out), grid, len(train_idx), len(test_idx))  # so far: a long run can be read early
        results["tasks"][key] = {"name": task.name, "columns": task.columns, "rows": rows}
    text = _write(results, Path(args.out), grid, len(train_idx), len(test_idx))
    print(text, flush=True)
    return results


def _write(results: dict, out: Path, grid, n_train: int, n_test: int) -> str:
    text = format_markdown(results, grid, n_train, n_test)
    (out / "comparison.md").write_text(text + "\n")
    (out / "comparison.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    return text


def format_markdown(results: dict, grid, n_train: int, n_test: int) -> str:
    s = results["settings"]
    lines = [f"Budget {s['budget']:g} s of training per model on {results['device']} ({results['threads']} thread(s)), "
             f"batch {s['batch_size']}, Adam lr {s['lr']:g}; nside {grid.nside}; train {n_train} months (1982-1990), "
             f"test {n_test} months (1991-1992); random SO(3): {s['rotations']} rotations; polar: within "
             f"{POLAR_DEGREES:g}° of the poles."]
    if results["skipped"]:
        lines.append(f"Skipped (torch-harmonics not importable): {', '.join(results['skipped'])}.")
    for task in results["tasks"].values():
        cols = task["columns"]
        lines += ["", f"**{task['name']}**", "",
                  "| model | params | steps | s | samples/s | " + " | ".join(f"{c}: {h}" for c in CASES for h in cols) + " |",
                  "|---|---:|---:|---:|---:|" + "---:|" * (len(CASES) * len(cols))]
        for label, row in task["rows"].items():
            head = (f"| {label} | {row['params']} | {row['steps']} | {row['seconds']:.0f} | {row['samples_per_s']:.1f} |"
                    if "params" in row else f"| {label} | 0 | - | - | - |")
            lines.append(head + "".join(f" {row['cases'][c][h]:.3f} |" for c in CASES for h in cols))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    main()

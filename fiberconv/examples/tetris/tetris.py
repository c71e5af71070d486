"""3-D Tetris: an SE(3)-steerable CNN trained on one orientation keeps its accuracy on rotated pieces;
a plain Conv3d CNN of similar parameter count does not.

Data (generated here)
---------------------
The eight 4-cube pieces of the classic 3-D Tetris task; ``chiral_1`` and ``chiral_2`` are mirror images
of each other, the other six are achiral. A piece is described continuously: its cube centres ``unit``
voxels apart, centred at their mean. A sample is that piece moved by a sub-voxel shift ``t`` (uniform in
``[-shift/2, shift/2]^3``) and then rotated about the grid centre by ``R``: cube centres ``q = R (p + t)``.
It is rasterized on a ``size^3`` :class:`~fiberconv.spaces.voxels.VoxelGrid` as a sum of Gaussian splats
of width ``blob`` voxels, so a continuously rotated piece is sampled as well as an unrotated one.

* Training: the canonical (axis-aligned) orientation only, ``R = I``; fresh random shifts every step.
* Test, from its own generator (other shifts, other rotations): ``n_test`` shifted pieces per class
  (a) unrotated, (b) rotated by a random one of the 24 rotations of the cube, (c) rotated by a
  Haar-random rotation of SO(3). The shift rotates with the piece, so test sample ``i`` of (b) and (c) is
  sample ``i`` of (a) rotated. For (b) the rotation maps the (even, centred) grid onto itself: the input
  is exactly the voxel permutation of (a), and a model that is exactly equivariant under the cube
  rotations gives the same logits to float precision.

Models
------
* **SE(3) CNN**: two :class:`~fiberconv.nn.r3.models.R3GatedBlock` (``R3Conv -> FieldBatchNorm ->
  GatedNonlinearity``; 8 scalar + 8 vector fields each; kernel 9 then 5, radial shells of width
  ``sigma = 1``), a :class:`~fiberconv.nn.CrossProduct` of four pairs of vector fields after the first block,
  :class:`~fiberconv.nn.nonlinear.InvariantPooling` (mean over the grid of the scalars and of the vector
  norms) and a small MLP. Invariant under rotations and translations up to discretization; exactly
  under the 24 cube rotations.
* **plain CNN**: three ``Conv3d`` (k = 3, average pooling, global max pooling) and the same kind of MLP.

Both get the same :class:`MirrorSymmetrized` head, which builds in how a mirror acts on the labels.

Why the two extra pieces (see README.md): the gated and norm nonlinearities of the library commute with
reflections pointwise, so the only source of handedness in a gated SE(3) CNN is the odd (curl-like) part of
its kernels acting on smooth fields; that signal is ~1e-4 of the features, below the discretization
error. ``CrossProduct`` makes it a pointwise product, and the mirror head keeps the achiral part of the
features (and its discretization error) out of the chiral_1 / chiral_2 decision.

Run: ``python -m fiberconv.examples.tetris`` or ``fiberconv-tetris`` (a few minutes on one CPU core); ``--quick``
for the smoke test of the test suite; ``--no-cross`` / ``--no-mirror`` for the ablations.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from fiberconv.examples._options import check_loss, check_options, check_parameters
from fiberconv.examples._progress import progress, require_tqdm
from fiberconv.nn import CrossProduct
from fiberconv.nn.nonlinear import InvariantPooling
from fiberconv.nn.r3.kernels import r3_field_type
from fiberconv.nn.r3.models import R3GatedBlock
from fiberconv.spaces.groups import SO3
from fiberconv.spaces.voxels import VoxelGrid, cube_rotations

PIECES = {
    "chiral_1": [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 1, 0)],
    "chiral_2": [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, -1, 0)],
    "square": [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)],
    "line": [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3)],
    "corner": [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)],
    "L": [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)],
    "T": [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 1)],
    "zigzag": [(0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 1, 0)],
}
N_CLASSES = len(PIECES)
SCALAR = r3_field_type((0, 1))
MIRROR_AXIS = 1  # the mirror y -> -y: dim 3 of a (B, C, X, Y, Z) tensor


# -- data ------------------------------------------------------------------------------------------
def piece_points(unit: float) -> torch.Tensor:
    """Cube centres of every piece ``(8, 4, 3)`` in voxels, centred at their mean."""
    p = torch.tensor(list(PIECES.values()), dtype=torch.float64) * unit
    return p - p.mean(1, keepdim=True)


def render(grid: VoxelGrid, classes: torch.Tensor, rotations: torch.Tensor, shifts: torch.Tensor,
           unit: float, blob: float) -> torch.Tensor:
    """Occupancy fields ``(n, 1, X, Y, Z)`` (float32): piece ``classes[i]`` with cube centres
    ``R_i (p + t_i)``, rasterized as Gaussian splats of width ``blob`` (computed in float64)."""
    x = grid.coordinates(torch.float64)
    q = (piece_points(unit)[classes] + shifts[:, None, :].double()) @ rotations.double().transpose(1, 2)
    out = []
    for qi in q.split(16):
        d2 = ((x[None, ..., None, :] - qi[:, None, None, None]) ** 2).sum(-1)  # (b, X, Y, Z, 4)
        out.append(torch.exp(-d2 / (2 * blob * blob)).sum(-1))
    return torch.cat(out)[:, None].float()


def mirror_permutation(axis: int = MIRROR_AXIS) -> list:
    """``perm[i]``: the piece that the mirror image of piece ``i`` (coordinate ``axis`` negated) is, up to
    a rotation and a translation. ``[1, 0, 2, 3, ...]``: the two chiral pieces swap, the rest are achiral."""
    def canon(cubes):
        c = torch.as_tensor(cubes, dtype=torch.float64)
        return sorted(map(tuple, (c - c.min(0).values).round().long().tolist()))

    sign = torch.ones(3, dtype=torch.float64)
    sign[axis] = -1
    pieces = [canon(c) for c in PIECES.values()]
    perm = []
    for cubes in PIECES.values():
        mirrored = torch.tensor(cubes, dtype=torch.float64) * sign
        hits = {j for R in cube_rotations() for j, p in enumerate(pieces) if canon(mirrored @ R.T) == p}
        assert len(hits) == 1, hits
        perm.append(hits.pop())
    return perm


# -- models ----------------------------------------------------------------------------------------
class MirrorSymmetrized(nn.Module):
    """``logits(x) = (f(x) + f(M x)[perm]) / 2``: ``M`` the mirror of the grid along ``axis`` (exact, a voxel
    flip), ``perm`` its action on the labels (:func:`mirror_permutation`). Then ``logits(M x) =
    logits(x)[perm]`` exactly; for an SE(3)-invariant ``f`` the model is E(3)-equivariant with
    reflections acting on the labels, and the chiral_1 / chiral_2 margin is the mirror-odd part of ``f``."""

    def __init__(self, model: nn.Module, perm, axis: int = MIRROR_AXIS):
        super().__init__()
        self.model, self.dim = model, 2 + axis
        self.register_buffer("perm", torch.as_tensor(perm), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.model(torch.cat([x, x.flip(self.dim)])).chunk(2)
        return (a + b[:, self.perm]) / 2


def mlp(n_in: int, hidden: int = 32) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(n_in), nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, N_CLASSES))


def se3_cnn(scalars: int = 8, vectors: int = 8, cross: int = 4, kernels=(9, 5), sigma: float = 1.0,
            hidden: int = 32) -> nn.Sequential:
    """Gated blocks (``R3Conv -> FieldBatchNorm -> GatedNonlinearity``), a :class:`CrossProduct` after the
    first (``cross`` pairs; 0: none), :class:`InvariantPooling`, MLP."""
    layers, ft = [], SCALAR
    for i, k in enumerate(kernels):
        block = R3GatedBlock(ft, scalars, [(1, vectors)], k, sigma=sigma)
        layers.append(block)
        ft = block.out_type
        if i == 0 and cross:
            layers.append(CrossProduct(ft, cross))
            ft = layers[-1].out_type
    pool = InvariantPooling(ft)
    return nn.Sequential(*layers, pool, *mlp(pool.n_out, hidden))


def plain_cnn(channels=(4, 8, 8), hidden: int = 32, k: int = 3) -> nn.Sequential:
    c1, c2, c3 = channels
    return nn.Sequential(
        nn.Conv3d(1, c1, k, padding=k // 2), nn.ReLU(), nn.AvgPool3d(2),
        nn.Conv3d(c1, c2, k, padding=k // 2), nn.ReLU(),
        nn.Conv3d(c2, c3, k, padding=k // 2), nn.AdaptiveMaxPool3d(1), nn.Flatten(),
        *mlp(c3, hidden),
    )


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# -- training and evaluation -----------------------------------------------------------------------
def train(model: nn.Module, grid: VoxelGrid, args, lr: float, gen: torch.Generator, log: int = 0,
          name: str = "model", lr_flag: str = "--lr") -> float:
    """Adam with a one-cycle schedule on the canonical orientation, fresh random shifts every step. Stops with
    SystemExit when the loss is no longer finite (the training diverged: ``lr_flag`` names the option)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=args.steps, pct_start=0.1)
    y = torch.arange(N_CLASSES).repeat_interleave(args.batch_per_class)
    eye = torch.eye(3, dtype=torch.float64).expand(len(y), 3, 3)
    model.train()
    t0 = time.perf_counter()
    run_loss = None
    bar = progress(args.steps, name, quiet=getattr(args, "quiet", False))
    for step in range(args.steps):
        shifts = (torch.rand(len(y), 3, generator=gen, dtype=torch.float64) - 0.5) * args.shift
        loss = nn.functional.cross_entropy(model(render(grid, y, eye, shifts, args.unit, args.blob)), y)
        value = check_loss(loss, f"training ({name}, step {step + 1})", f"try a smaller {lr_flag} (now {lr:g})")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run_loss = value if run_loss is None else 0.9 * run_loss + 0.1 * value
        bar.set_postfix_str(f"loss {run_loss:.4f}", refresh=False)
        bar.update()
        if log and (step + 1) % log == 0:
            print(f"    step {step + 1:4d}  loss {run_loss:.4f}  {time.perf_counter() - t0:5.1f}s", flush=True)
    bar.close()
    check_parameters(model, f"training ({name})", f"try a smaller {lr_flag} (now {lr:g})")
    return time.perf_counter() - t0


@torch.no_grad()
def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.cat([model(xi) for xi in x.split(32)])


def test_sets(grid: VoxelGrid, args):
    """Labels and the three test sets, from their own generator (seed ``10000 + seed``)."""
    gen = torch.Generator().manual_seed(10_000 + args.seed)
    y = torch.arange(N_CLASSES).repeat_interleave(args.n_test)
    shifts = (torch.rand(len(y), 3, generator=gen, dtype=torch.float64) - 0.5) * args.shift
    cube = cube_rotations(torch.float64)[torch.randint(0, 24, (len(y),), generator=gen)]
    cont = SO3.sample(len(y), seed=gen, dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64).expand(len(y), 3, 3)
    sets = {name: render(grid, y, R, shifts, args.unit, args.blob)
            for name, R in (("unrotated", eye), ("cube-rotated", cube), ("SO(3)-rotated", cont))}
    return y, sets, {"shifts": shifts, "cube": cube, "SO(3)": cont}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m fiberconv.examples.tetris", description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=14,
                    help="grid size, voxels per side (even: the cube rotations map it onto itself)")
    ap.add_argument("--unit", type=float, default=2.0, help="cube spacing, voxels (> 0)")
    ap.add_argument("--blob", type=float, default=1.2, help="Gaussian width of a cube, voxels (> 0)")
    ap.add_argument("--shift", type=float, default=1.0, help="range of the random sub-voxel shift, voxels (>= 0)")
    ap.add_argument("--steps", type=int, default=250, help="training steps (>= 1)")
    ap.add_argument("--batch-per-class", type=int, default=1,
                    help="training pieces per class and step (>= 1; the mirror head doubles the batch)")
    ap.add_argument("--lr", type=float, default=1e-2, help="peak learning rate of the SE(3) CNN")
    ap.add_argument("--plain-lr", type=float, default=3e-3, help="peak learning rate of the plain CNN")
    ap.add_argument("--n-test", type=int, default=32, help="test samples per class and test set")
    ap.add_argument("--no-cross", action="store_true", help="ablation: no CrossProduct layer")
    ap.add_argument("--no-mirror", action="store_true", help="ablation: no mirror-symmetrized head")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (>= 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log", type=int, default=50, help="print the training loss every LOG steps (0: never)")
    ap.add_argument("--quick", action="store_true", help="tiny run for the smoke test")
    ap.add_argument("--quiet", action="store_true", help="no progress bars (tqdm, on stderr)")
    args = ap.parse_args(argv)
    require_tqdm()
    if args.quick:
        args.size, args.steps, args.n_test, args.log = 12, 2, 2, 0
    # every option's range, before any work (a count of 0 would train on empty batches or test on nothing)
    check_options(args, ap.error, positive=("size", "steps", "batch_per_class", "n_test", "threads"),
                  nonnegative=("log",), positive_float=("unit", "blob", "lr", "plain_lr"),
                  nonnegative_float=("shift",))
    return args


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    grid = VoxelGrid(args.size)
    y, tests, _ = test_sets(grid, args)

    perm = mirror_permutation()
    models = {"SE(3) CNN": (se3_cnn(cross=0 if args.no_cross else 4), args.lr, "--lr"),
              "plain CNN": (plain_cnn(), args.plain_lr, "--plain-lr")}
    results = {}
    for name, (model, lr, lr_flag) in models.items():
        if not args.no_mirror:
            model = MirrorSymmetrized(model, perm)
        secs = train(model, grid, args, lr, torch.Generator().manual_seed(args.seed), log=args.log, name=name,
                     lr_flag=lr_flag)
        out = {k: logits(model, v) for k, v in tests.items()}
        r = {"params": n_params(model), "train_s": secs}
        r.update({k: float((o.argmax(-1) == y).float().mean()) for k, o in out.items()})
        scale = float(out["unrotated"].abs().max())
        r["cube_logit_err"] = float((out["cube-rotated"] - out["unrotated"]).abs().max()) / scale
        r["so3_logit_err"] = float((out["SO(3)-rotated"] - out["unrotated"]).abs().max()) / scale
        r["so3_per_class"] = (out["SO(3)-rotated"].argmax(-1) == y).float().view(N_CLASSES, -1).mean(1).tolist()
        results[name] = r
        if args.log:
            print(f"  {name}: trained in {secs:.1f}s; SO(3)-rotated per class: " +
                  ", ".join(f"{k} {100 * a:.0f}%" for k, a in zip(PIECES, r["so3_per_class"])), flush=True)

    print(f"\n3-D Tetris, seed {args.seed}, {args.size}^3 grid, {args.steps} steps, {args.n_test} test samples "
          f"per class and set ({N_CLASSES * args.n_test} per set), chance 12.5%")
    head = f"{'model':10s} {'params':>7s} {'train s':>8s} {'unrotated':>10s} {'cube-rot.':>10s} {'SO(3)-rot.':>11s}" \
           f" {'max|dlogit| cube':>17s}"
    print(head + "\n" + "-" * len(head))
    for name, r in results.items():
        print(f"{name:10s} {r['params']:7d} {r['train_s']:8.1f} {100 * r['unrotated']:9.1f}% "
              f"{100 * r['cube-rotated']:9.1f}% {100 * r['SO(3)-rotated']:10.1f}% {r['cube_logit_err']:17.1e}")
    print(f"wall time {time.perf_counter() - t_start:.1f}s ({args.threads} thread(s))", flush=True)
    return results


if __name__ == "__main__":
    main()

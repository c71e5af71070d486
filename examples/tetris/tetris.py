"""3-D Tetris: an SE(3)-steerable CNN trained on one orientation keeps its accuracy on rotated pieces;
a plain Conv3d CNN of similar parameter count does not.

Data (generated here): the eight 4-cube pieces of the classic 3-D Tetris task (two of them mirror
images of each other). A piece is rendered on a ``size^3`` VoxelGrid as a sum of Gaussian blobs
(width ``blob`` voxels) at its cube centres, ``unit`` voxels apart, centred at its centre of mass, with
a random sub-voxel shift. Training: the canonical orientation only. Test: the same pieces
(a) unrotated, (b) rotated by random cube rotations (exact voxel permutations), (c) rotated by Haar-random
SO(3) rotations (rendered analytically at the rotated positions).

Run: ``python examples/tetris/tetris.py`` (about a minute or two on 2 CPU cores);
``--quick`` for the smoke test used by the test suite.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from fiberconv.nn.r3_kernels import r3_field_type
from fiberconv.nn.r3_models import r3_classifier
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
SCALAR = r3_field_type((0, 1))


def render(grid: VoxelGrid, rotations: torch.Tensor, shifts: torch.Tensor, unit: float, blob: float) -> torch.Tensor:
    """Occupancy fields ``(8 * n, 1, X, Y, Z)``: every piece under each of the ``n`` rotations/shifts."""
    x = grid.coordinates(torch.float32)
    out = []
    for cubes in PIECES.values():
        p = torch.tensor(cubes, dtype=torch.float32) * unit
        p = p - p.mean(0)
        for R, t in zip(rotations, shifts):
            q = p @ R.T + t
            d2 = ((x[..., None, :] - q) ** 2).sum(-1)
            out.append(torch.exp(-d2 / (2 * blob * blob)).sum(-1))
    return torch.stack(out)[:, None]


def labels(n: int) -> torch.Tensor:
    return torch.arange(len(PIECES)).repeat_interleave(n)


def plain_cnn(channels=(8, 16), n_classes=8, k=3) -> nn.Module:
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv3d(1, c1, k, padding=k // 2), nn.ReLU(), nn.AvgPool3d(2),
        nn.Conv3d(c1, c2, k, padding=k // 2), nn.ReLU(),
        nn.Conv3d(c2, 16, k, padding=k // 2), nn.AdaptiveMaxPool3d(1), nn.Flatten(),
        nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, n_classes),
    )


def se3_cnn(n_classes=8, k=5) -> nn.Module:
    return r3_classifier(SCALAR, n_classes, widths=[(12, [(1, 6), (2, 3)]), (12, [(1, 6), (2, 3)])],
                         kernel_size=k, n_head=16, hidden=32,
                         global_pool="max", batch_norm=False)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def train(model: nn.Module, grid, args, gen) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    eye = torch.eye(3).expand(args.batch_per_class, 3, 3)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        shifts = (torch.rand(args.batch_per_class, 3, generator=gen) - 0.5) * args.shift
        x = render(grid, eye, shifts, args.unit, args.blob)
        loss = nn.functional.cross_entropy(model(x), labels(args.batch_per_class))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(-1) == y).float().mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--unit", type=float, default=2.5, help="cube spacing in voxels")
    ap.add_argument("--blob", type=float, default=1.25, help="Gaussian width of a cube, voxels")
    ap.add_argument("--shift", type=float, default=1.0, help="random sub-voxel shift range")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-per-class", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--n-test", type=int, default=16, help="test samples per class and setting")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.n_test, args.size = 3, 2, 12
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    grid = VoxelGrid(args.size)

    n = args.n_test
    shifts = (torch.rand(n, 3, generator=gen) - 0.5) * args.shift
    cube = cube_rotations(torch.float32)[torch.randint(0, 24, (n,), generator=gen)]
    cont = SO3.sample(n, seed=gen, dtype=torch.float32)
    tests = {
        "unrotated": render(grid, torch.eye(3).expand(n, 3, 3), shifts, args.unit, args.blob),
        "cube-rotated": render(grid, cube, shifts, args.unit, args.blob),
        "SO(3)-rotated": render(grid, cont, shifts, args.unit, args.blob),
    }
    y = labels(n)
    results = {}
    for name, model in (("SE(3) CNN", se3_cnn()), ("plain CNN", plain_cnn())):
        secs = train(model, grid, args, gen)
        results[name] = {k: accuracy(model, v, y) for k, v in tests.items()}
        print(f"{name:10s} params {n_params(model):6d}  train {secs:5.1f}s  " +
              "  ".join(f"{k} {100 * a:5.1f}%" for k, a in results[name].items()), flush=True)
    return results


if __name__ == "__main__":
    main()

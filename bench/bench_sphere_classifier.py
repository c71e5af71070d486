"""A training step of the spherical-digits classifier against a planar CNN of about the same parameter count
(issue 12's speed target: at most 3x).

Models as in ``fiberconv.examples.spherical_digits``: ``SphericalClassifier`` on HEALPix nside 16 with the
default widths ``(8,4),(16,8),(32,8),(32,8)``, strided (the default) and unstrided (``strided=False``, every
convolution writes its level's whole grid), and the planar CNN on the 48 x 96 lat-lon image whose parameter
count is nearest. Batch 32, cross-entropy, forward + backward + Adam step, float32; the median process CPU time
per step, the models alternated within each round so that all see the same machine load. Then one strided
forward + backward broken down by layer (each layer timed alone on its recorded input).

    .venv/bin/python bench/bench_sphere_classifier.py --repeats 20
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from fiberconv.examples.spherical_digits.models import SCALAR, n_params, planar_model
from fiberconv.nn import SphereConv, SphericalClassifier
from fiberconv.spaces import HealpixGrid

WIDTHS = ((8, 4), (16, 8), (32, 8), (32, 8))


def step_fn(model, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def breakdown(model, x, rounds: int = 7) -> list[tuple[str, float]]:
    """``(layer, median ms)`` of forward + backward of each layer of ``model.features`` (blocks split into
    convolution, batch norm, resampling, gate) and of the pooling, each on the input it got in one forward."""
    parts = []
    for i, layer in enumerate(model.features):
        subs = [(f"{i}.{name}", getattr(layer, name)) for name in ("conv", "norm", "resample", "gate")
                if getattr(layer, name, None) is not None] if hasattr(layer, "conv") else [(f"{i}.{type(layer).__name__}", layer)]
        parts += subs
    parts.append(("pool", model.pool))
    inputs = {}
    hooks = [m.register_forward_hook(lambda m, inp, out, k=k: inputs.__setitem__(k, inp[0].detach())) for k, m in parts]
    model(x)
    for h in hooks:
        h.remove()
    out = []
    for k, m in parts:
        xi = inputs[k].clone().requires_grad_()
        times = []
        for r in range(rounds + 2):
            t = time.process_time()
            o = m(xi)
            o.backward(torch.ones_like(o))
            if r >= 2:
                times.append(time.process_time() - t)
        out.append((f"{k} {tuple(xi.shape)}", 1000 * statistics.median(times)))
    return out


def multiply_adds(model, x, y) -> tuple[float, float]:
    """``(dense, sparse)`` multiply-adds of one forward + backward: dense products from ``FlopCounterMode``
    (flops / 2), the sparse products of every ``SphereConv`` as nonzeros x columns (forward, and the input's
    gradient when the input needs one)."""
    from torch.utils.flop_counter import FlopCounterMode

    sparse = []

    def hook(conv, inp, out):
        B = inp[0].shape[0]
        for m1, n in conv.groups:
            nnz = int(conv.operator(m1, inp[0].device, torch.float32)[0][-1])  # the CSR row pointer's last entry
            sparse.append(nnz * B * n * (1 if m1 == 0 else 2) * (2 if inp[0].requires_grad else 1))
    hooks = [c.register_forward_hook(hook) for c in model.modules() if isinstance(c, SphereConv)]
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), y).backward()
    for h in hooks:
        h.remove()
    return counter.get_total_flops() / 2, float(sum(sparse))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=20, help="alternating rounds (>= 1)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (>= 1)")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        ap.error(f"--repeats and --threads must be positive ints, got {args.repeats}, {args.threads}")
    torch.set_num_threads(args.threads)
    grid = HealpixGrid(16, nest=True)
    torch.manual_seed(0)
    models = {"spherical, strided": SphericalClassifier(SCALAR, grid, 10, widths=WIDTHS),
              "spherical, unstrided": SphericalClassifier(SCALAR, grid, 10, widths=WIDTHS, strided=False)}
    models["planar CNN"] = planar_model(n_params(models["spherical, strided"]), len(WIDTHS))
    y = torch.randint(0, 10, (32,))
    inputs = {"planar CNN": torch.randn(32, 1, 48, 96)}
    steps = {k: step_fn(m, inputs.get(k, torch.randn(32, 1, grid.npix)), y) for k, m in models.items()}
    times = {k: [] for k in steps}
    for r in range(args.repeats + 2):
        for k, step in steps.items():
            t = time.process_time()
            step()
            if r >= 2:  # the first steps allocate and derive the operators
                times[k].append(time.process_time() - t)
    planar = statistics.median(times["planar CNN"])
    print(f"training step, batch 32, median of {args.repeats} (process CPU ms, {args.threads} thread(s)):")
    for k, m in models.items():
        t = statistics.median(times[k])
        print(f"  {k:22s} {n_params(m):6d} params  {1000 * t:7.1f} ms  {t / planar:5.2f}x planar")
    print("multiply-adds per step (forward + backward):")
    for k, m in models.items():
        dense, sparse = multiply_adds(m, inputs.get(k, torch.randn(32, 1, grid.npix)), y)
        print(f"  {k:22s} {(dense + sparse) / 1e6:8.1f} M  (dense {dense / 1e6:.1f} M, sparse {sparse / 1e6:.1f} M)")
    print("forward + backward by layer (strided model):")
    parts = breakdown(models["spherical, strided"], torch.randn(32, 1, grid.npix))
    for k, ms in parts:
        print(f"  {k:40s} {ms:7.2f} ms")
    print(f"  {'sum':40s} {sum(ms for _, ms in parts):7.2f} ms")


if __name__ == "__main__":
    main()

"""Benchmark R3Conv against torch.nn.Conv3d of the same shape (same run, same thread count).

Default setting (issue 4): irreps l = 0, 1, 2 with multiplicity 4 on each side (36 channels), kernel 5,
16^3 voxels, batch 4, CPU, one thread. Reports medians over repeats after a warm-up:

* construct  : building the layer (kernel basis via K_D -> K_C, weights), per layer
* train fwd  : training-mode forward (kernel expansion + conv3d, autograd on)
* eval fwd   : eval-mode forward under no_grad (memoised kernel: conv3d only)
* fwd+bwd    : training-mode forward + backward to the weights and the input

Usage: python bench/bench_r3conv.py [--size 16] [--batch 4] [--threads 1] [--repeats 7] [--device cpu]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from fiberconv.nn.r3.conv import R3Conv
from fiberconv.nn.r3.kernels import r3_field_type


def timed(fn, repeats, device):
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--mult", type=int, default=4, help="multiplicity of each of l = 0, 1, 2")
    ap.add_argument("--kernel", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    ft = r3_field_type((0, args.mult), (1, args.mult), (2, args.mult))
    c, k, n = ft.dim, args.kernel, args.size

    R3Conv(ft, ft, k)  # first construction pays one-time imports / table set-up
    cons = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        R3Conv(ft, ft, k, padding=k // 2, device=dev)
        cons.append(time.perf_counter() - t)
    r3 = R3Conv(ft, ft, k, padding=k // 2, device=dev)
    plain = torch.nn.Conv3d(c, c, k, padding=k // 2, device=dev)
    x = torch.randn(args.batch, c, n, n, n, device=dev)
    xg = x.clone().requires_grad_(True)

    def fwd(m):
        m.train()
        return lambda: m(x)

    def evalf(m):
        def f():
            m.eval()
            with torch.no_grad():
                m(x)
        return f

    def fb(m):
        def f():
            m.train()
            m(xg).sum().backward()
        return f

    rows = []
    for name, make in (("train fwd", fwd), ("eval fwd", evalf), ("fwd+bwd", fb)):
        fr, fp = make(r3), make(plain)
        for _ in range(2):  # warm-up
            fr(), fp()
        # interleave to share the machine's noise
        tr, tp = [], []
        for _ in range(args.repeats):
            tr.append(timed(fr, 1, dev))
            tp.append(timed(fp, 1, dev))
        rows.append((name, statistics.median(tr), statistics.median(tp)))

    print(f"R3Conv {c}->{c} (l=0,1,2 x{args.mult}), k={k}, {n}^3, batch {args.batch}, {dev}, "
          f"{args.threads} thread(s), {r3.basis.num_weights} weights (Conv3d: {plain.weight.numel()})")
    print(f"{'':12s} {'R3Conv ms':>10s} {'Conv3d ms':>10s} {'ratio':>7s}")
    for name, a, b in rows:
        print(f"{name:12s} {a * 1e3:10.1f} {b * 1e3:10.1f} {a / b:7.3f}")
    print(f"{'construct':12s} {statistics.median(cons) * 1e3:10.1f} ms per layer (median of {args.repeats})")
    try:
        import escnn  # noqa: F401
        print("escnn installed: not benchmarked here")
    except ImportError:
        print("escnn: not installed (skipped)")


if __name__ == "__main__":
    main()

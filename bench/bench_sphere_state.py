r"""State, construction time, peak memory and speed of ``SphereConv`` against ``nside`` (issue 13).

One fresh process per ``nside`` (so ``ru_maxrss`` is its own), 8 -> 8 tangent-vector fields (16 channels),
float32, default radius and rings, batch 2, CPU, 1 thread. Columns: state = module parameters and buffers
plus the geometry's compact tensors (representatives' neighbours and float64 filter values, what the layer
keeps); cache = the per-pixel CSR arrays derived on the first forward (shared by every layer of the same
geometry; not state, not pickled); build = construction wall time (grid included); derive = the first
forward's extra time; peak = peak RSS above the pre-build RSS after a forward+backward; fwd, f+b = median
of 3 after a warm-up, in ms and microseconds per output pixel. nside 512 is extrapolated (x4 per doubling).
``--compile`` adds the eager and ``torch.compile``d times of a SphericalUNet at nside 32.

Usage: ``.venv/bin/python bench/bench_sphere_state.py [--nsides 32,64,128,256] [--compile]``
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _timed(fn, repeat=3):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        ts.append(time.process_time() - t0)
    return 1e3 * sorted(ts)[len(ts) // 2]


def worker(nside: int) -> dict:
    import resource

    import torch
    sys.path.insert(0, ROOT)
    from fiberconv.fields import sphere_field_type
    from fiberconv.nn import SphereConv
    from fiberconv.spaces import HealpixGrid

    torch.set_num_threads(1)
    ft = sphere_field_type((1, 8))
    x = torch.randn(2, ft.dim, 12 * nside**2)
    rss0 = _rss()
    t0 = time.process_time()
    conv = SphereConv(ft, ft, HealpixGrid(nside))
    out = {"nside": nside, "build_s": time.process_time() - t0, "reps": conv.geometry.n_reps}
    own = sum(t.numel() * t.element_size() for t in list(conv.buffers()) + list(conv.parameters()))
    out["state_mb"] = (own + conv.geometry.nbytes()["state"]) / 2**20
    t0 = time.process_time()
    with torch.no_grad():
        conv(x)
    out["derive_s"] = time.process_time() - t0
    out["cache_mb"] = conv.geometry.nbytes()["cache"] / 2**20
    with torch.no_grad():
        out["fwd_ms"] = _timed(lambda: conv(x))
    xg = x.clone().requires_grad_(True)
    out["fb_ms"] = _timed(lambda: conv(xg).sum().backward())
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0
    return out


def compile_worker() -> dict:
    import torch
    sys.path.insert(0, ROOT)
    from fiberconv.fields import sphere_field_type
    from fiberconv.nn import SphericalUNet
    from fiberconv.spaces import HealpixGrid

    torch.set_num_threads(1)
    grid = HealpixGrid(32, nest=True)
    net = SphericalUNet(sphere_field_type((0, 1)), sphere_field_type((1, 1)), grid).eval()
    x = torch.randn(2, 1, grid.npix)
    with torch.no_grad():
        eager = _timed(lambda: net(x), 5)
        t0 = time.time()
        compiled = torch.compile(net, fullgraph=True)
        compiled(x)
        out = {"compile_s": time.time() - t0, "eager_ms": eager, "compiled_ms": _timed(lambda: compiled(x), 5)}
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nsides", default="32,64,128,256")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker is not None:
        res = compile_worker() if args.worker == "compile" else worker(int(args.worker))
        print("JSON" + json.dumps(res))
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def spawn(arg):
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", arg], env=env, capture_output=True,
                           text=True, cwd=ROOT)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("JSON")]
        if not lines:
            raise RuntimeError(r.stderr[-2000:])
        return json.loads(lines[-1][4:])

    head = (f"{'nside':>5} {'pixels':>9} {'reps':>7} {'state MiB':>9} {'cache MiB':>9} {'build s':>7} {'derive s':>8} "
            f"{'peak MiB':>8} {'fwd ms':>8} {'us/px':>6} {'f+b ms':>8} {'us/px':>6}")
    print("SphereConv 8 vector -> 8 vector, float32, batch 2, CPU 1 thread (process CPU time)")
    print(head + "\n" + "-" * len(head))
    rows = []
    for n in [int(v) for v in args.nsides.split(",")]:
        r = spawn(str(n))
        rows.append(r)
        px = 12 * n * n
        print(f"{n:>5} {px:>9} {r['reps']:>7} {r['state_mb']:>9.1f} {r['cache_mb']:>9.1f} {r['build_s']:>7.2f} "
              f"{r['derive_s']:>8.2f} {r['peak_mb']:>8.0f} {r['fwd_ms']:>8.1f} {1e3 * r['fwd_ms'] / px:>6.2f} "
              f"{r['fb_ms']:>8.1f} {1e3 * r['fb_ms'] / px:>6.2f}", flush=True)
    if rows:
        r = rows[-1]
        k = (512 // r["nside"]) ** 2
        print(f"{512:>5} {12 * 512**2:>9} {'':>7} {r['state_mb'] * k:>9.0f} {r['cache_mb'] * k:>9.0f} "
              f"{r['build_s'] * k:>7.1f} {r['derive_s'] * k:>8.1f} {r['peak_mb'] * k:>8.0f} {r['fwd_ms'] * k:>8.0f} "
              f"{'':>6} {r['fb_ms'] * k:>8.0f}   (extrapolated from nside {r['nside']})")
    if args.compile:
        c = spawn("compile")
        print(f"\nSphericalUNet nside 32, batch 2, no_grad: eager {c['eager_ms']:.1f} ms, torch.compile(fullgraph=True) "
              f"{c['compiled_ms']:.1f} ms ({c['eager_ms'] / c['compiled_ms']:.2f}x), compile time {c['compile_s']:.0f} s")


if __name__ == "__main__":
    main()

r"""GPU readiness check (issue 13), under 8 minutes on one CUDA device; skips cleanly without CUDA.

1. the test suite with CUDA visible (the ``device`` fixture adds ``cuda`` to every device test);
2. ``SphereConv`` 8 -> 8 tangent vectors at nside 256, batch 8: forward and forward+backward in float32 and
   bfloat16 (native sparse product on CUDA), error of bf16 against float32; DISCO at 512 x 1024 through
   ``bench/bench_sphere_conv.py --devices cuda`` when torch-harmonics is importable;
3. ``R3Conv`` at 64^3 against ``Conv3d`` (``bench/bench_r3conv.py --device cuda --size 64``).

Usage: ``.venv/bin/python bench/gpu_check.py [--skip-tests]``; ``bench/gpu_check.sh`` wraps it. Exit status 0
when every part passed or was skipped, 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(cmd, timeout):
    print("$ " + " ".join(cmd), flush=True)
    try:
        return subprocess.run(cmd, cwd=ROOT, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        print(f"  timed out after {timeout} s")
        return 1


def sphere_cuda(nside: int = 256, batch: int = 8) -> dict:
    import torch
    sys.path.insert(0, ROOT)
    from fiberconv.fields import sphere_field_type
    from fiberconv.nn import SphereConv
    from fiberconv.spaces import HealpixGrid

    ft = sphere_field_type((1, 8))
    t0 = time.time()
    conv = SphereConv(ft, ft, HealpixGrid(nside), device="cuda")
    out = {"build_s": time.time() - t0}
    x = torch.randn(batch, ft.dim, 12 * nside**2, device="cuda")
    ref = None
    for dtype in (torch.float32, torch.bfloat16):
        xd = x.to(dtype)
        with torch.no_grad():
            y = conv(xd)
        ref = y.float() if ref is None else ref
        out[f"{dtype}_relerr"] = float((y.float() - ref).norm() / ref.norm())
        for name, fn in (("fwd", lambda: conv(xd)), ("f+b", lambda: conv(xd.requires_grad_(True)).sum().backward())):
            fn()
            torch.cuda.synchronize()
            t0 = time.time()
            for _ in range(5):
                if name == "fwd":
                    with torch.no_grad():
                        fn()
                else:
                    fn()
            torch.cuda.synchronize()
            out[f"{dtype} {name} ms"] = 1e3 * (time.time() - t0) / 5
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skip-tests", action="store_true")
    args = p.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: torch.cuda.is_available() is False: every CUDA part skipped")
        return 0
    failed = 0
    if not args.skip_tests:
        failed |= _run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"], 300) != 0
    try:
        for k, v in sphere_cuda().items():
            print(f"  SphereConv nside 256 vector: {k} = {v:.4g}")
    except Exception as err:  # report and go on: the other parts still run
        print(f"  SphereConv on CUDA failed: {type(err).__name__}: {err}")
        failed = 1
    failed |= _run([sys.executable, "bench/bench_sphere_conv.py", "--devices", "cuda", "--repeat", "3"], 150) != 0
    failed |= _run([sys.executable, "bench/bench_r3conv.py", "--device", "cuda", "--size", "64", "--batch", "1",
                    "--repeats", "3"], 90) != 0
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())

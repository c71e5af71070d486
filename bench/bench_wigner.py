"""Benchmark: real Wigner-D blocks l = 0..lmax for n random rotations, fiberconv vs e3nn.

fiberconv is timed from rotation matrices (``WignerD.blocks``) and from ZYZ Euler angles
(``WignerD.blocks_euler``); the one-off construction of ``WignerD(lmax)`` is timed separately.
e3nn 0.6 is timed as ``[e3nn.o3.wigner_D(l, alpha, beta, gamma) for l in range(lmax + 1)]`` in the
same run (its own Euler convention; only the cost is compared). Times are medians over ``--repeats``
samples after warm-up, each sample averaging enough calls to last >= 10 ms; CUDA is synchronised.

    python bench/bench_wigner.py --threads 1,default --n 1000 --lmax 8
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from fiberconv.spaces.groups import SO3
from fiberconv.spaces.wigner import WignerD


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median_time(fn, device: torch.device, repeats: int, min_sample: float = 0.01) -> float:
    """Median seconds per call of ``fn`` after warm-up."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(3):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    number = max(1, int(min_sample / max(time.perf_counter() - t0, 1e-9)))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def load_e3nn():
    try:
        from e3nn import o3  # imported only here: a benchmark-only dependency
    except ImportError:
        return None
    return o3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,default", help="comma list of CPU thread counts ('default': torch's)")
    ap.add_argument("--device", default="auto", help="cpu, cuda, or auto (cpu, plus cuda when available)")
    ap.add_argument("--n", type=int, default=1000, help="number of rotations")
    ap.add_argument("--lmax", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=15, help="timed samples per measurement (median reported)")
    ap.add_argument("--dtypes", default="float32,float64", help="comma list of float dtypes")
    args = ap.parse_args(argv)

    default_threads = torch.get_num_threads()
    threads = [default_threads if t.strip() == "default" else int(t) for t in args.threads.split(",")]
    threads = list(dict.fromkeys(threads))
    if args.device == "auto":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    elif args.device == "cuda" and not torch.cuda.is_available():
        print("CUDA requested but torch.cuda.is_available() is False: nothing to time")
        return
    else:
        devices = [args.device]
    dtypes = [getattr(torch, d.strip()) for d in args.dtypes.split(",")]
    o3 = load_e3nn()

    print(f"torch {torch.__version__}; CPU: {cpu_model()}; nproc {os.cpu_count()}; default threads {default_threads}")
    if torch.cuda.is_available():
        print(f"CUDA: {torch.cuda.get_device_name()}")
    if o3 is None:
        print("e3nn is not installed: its column is skipped")
    else:
        import e3nn

        print(f"e3nn {e3nn.__version__}")
    print(f"n = {args.n} rotations, l = 0..{args.lmax}, median of {args.repeats} samples\n")

    torch.set_num_threads(default_threads)
    build = median_time(lambda: WignerD(args.lmax), torch.device("cpu"), max(3, args.repeats // 3))
    print(f"construction WignerD(lmax={args.lmax}) (float64, CPU, once): {build * 1e3:.2f} ms\n")

    head = (
        f"{'device':<6} {'thr':>3} {'dtype':<8} {'e3nn ms':>9} {'fc(R) ms':>9} {'fc(eul) ms':>10}"
        f" {'speedup R':>9} {'speedup eul':>11}"
    )
    print(head)
    print("-" * len(head))
    with torch.no_grad():
        for dev_name in devices:
            device = torch.device(dev_name)
            for nthr in threads if device.type == "cpu" else [default_threads]:
                torch.set_num_threads(nthr)
                for dtype in dtypes:
                    w = WignerD(args.lmax, dtype=dtype, device=device)
                    R = SO3.sample(args.n, seed=0, dtype=dtype, device=device)
                    alpha, beta, gamma = SO3.to_euler(R)
                    t_r = median_time(lambda: w.blocks(R), device, args.repeats)
                    t_e = median_time(lambda: w.blocks_euler(alpha, beta, gamma), device, args.repeats)
                    if o3 is not None:
                        def e3nn_blocks():
                            return [o3.wigner_D(l, alpha, beta, gamma) for l in range(args.lmax + 1)]

                        t_3 = median_time(e3nn_blocks, device, args.repeats)
                        e3, s_r, s_e = f"{t_3 * 1e3:9.2f}", f"{t_3 / t_r:8.1f}x", f"{t_3 / t_e:10.1f}x"
                    else:
                        e3, s_r, s_e = f"{'n/a':>9}", f"{'n/a':>9}", f"{'n/a':>11}"
                    thr = str(nthr) if device.type == "cpu" else "-"
                    dname = str(dtype).replace("torch.", "")
                    print(f"{dev_name:<6} {thr:>3} {dname:<8} {e3} {t_r * 1e3:9.2f} {t_e * 1e3:10.2f} {s_r} {s_e}")
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()

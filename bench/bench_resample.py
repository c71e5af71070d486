"""Benchmark: spherical harmonic transforms and rotation (resampling) of HEALPix fields.

Times, for a batch of fields at nside 64 (lmax 128 and 64):

* ``HealpixSHT`` construction (and the Wigner-D set-up paid on the first ``rotate``),
* ``synthesis``, ``analysis`` (default CG to ~1e-13, and healpy-style Jacobi with ``iter=3``),
* ``rotate`` under a random rotation (``synthesis(D(R) analysis(f))``, Jacobi ``iter=3``, and CG),

on the CPU with 1 thread and with the default number of threads (each configuration in its own
process, with ``OMP_NUM_THREADS`` set so that healpy's OpenMP loops follow), and on CUDA when
available, next to healpy doing the same work (``map2alm(iter=3)`` +
``Rotator.rotate_alm`` + ``alm2map``, one map at a time). Times are medians over repeats, in ms.

Usage: ``python bench/bench_resample.py [--nside 64] [--batch 4] [--repeat 5]``
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _median_ms(fn, repeat: int, sync=None) -> float:
    fn()  # warm-up
    if sync:
        sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t)
    times.sort()
    return 1e3 * times[len(times) // 2]


def _once_ms(fn, sync=None) -> float:
    t = time.perf_counter()
    fn()
    if sync:
        sync()
    return 1e3 * (time.perf_counter() - t)


def run_config(nside: int, lmax: int, batch: int, repeat: int, device: str) -> dict:
    """Time one (lmax, device) configuration in this process; returns {row: ms}."""
    import healpy as hp
    import numpy as np
    import torch

    from fiberconv.spaces.healpix import HealpixGrid
    from fiberconv.spaces.sht import HealpixSHT, real_to_healpy_alm

    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    grid = HealpixGrid(nside)
    res = {}
    res["construct"] = _once_ms(lambda: HealpixSHT(grid, lmax))
    sht = HealpixSHT(grid, lmax).to(device=dev)
    res["wigner set-up"] = _once_ms(sht.wigner, sync)
    gen = torch.Generator().manual_seed(0)
    c = torch.randn(batch, (lmax + 1) ** 2, generator=gen, dtype=torch.float64)
    f = sht.synthesis(c.to(dev))
    # a random rotation, taken from healpy's Rotator so that both sides rotate by the same matrix
    # (healpy's Rotator.rotate_alm turns the map by rot.mat: g(x) = f(mat^T x))
    angles = (2 * np.pi * torch.rand(3, generator=gen, dtype=torch.float64)).tolist()
    angles[1] /= 2
    rot = hp.Rotator(rot=tuple(angles), eulertype="ZYZ", deg=False)
    R = torch.from_numpy(np.ascontiguousarray(rot.mat)).to(dev)
    res["synthesis"] = _median_ms(lambda: sht.synthesis(c.to(dev)), repeat, sync)
    res["analysis cg"] = _median_ms(lambda: sht.analysis(f), repeat, sync)
    res["analysis iter=3"] = _median_ms(lambda: sht.analysis(f, iterations=3, method="jacobi"), repeat, sync)
    res["rotate iter=3"] = _median_ms(lambda: sht.rotate(f, R, iterations=3, method="jacobi"), repeat, sync)
    a = sht.analysis(f)
    wig = sht.wigner()
    res["  of which D(R) c"] = _median_ms(lambda: wig.rotate_coefficients(R, a), repeat, sync)
    res["rotate cg"] = _median_ms(lambda: sht.rotate(f, R), repeat, sync)
    err = (sht.analysis(f) - c.to(dev)).abs().max().item()
    res["cg round-trip err"] = err

    if dev.type == "cpu":
        maps = [m.copy() for m in sht.synthesis(c).numpy()]
        alms = [real_to_healpy_alm(ci.numpy(), lmax) for ci in c]

        def hp_analysis():
            return [hp.map2alm(m, lmax=lmax, iter=3, pol=False) for m in maps]

        def hp_synthesis():
            return [hp.alm2map(a, nside, lmax=lmax, pol=False) for a in alms]

        def hp_rotate():
            return [hp.alm2map(rot.rotate_alm(hp.map2alm(m, lmax=lmax, iter=3, pol=False)), nside, lmax=lmax, pol=False)
                    for m in maps]

        res["healpy synthesis"] = _median_ms(hp_synthesis, repeat)
        res["healpy analysis iter=3"] = _median_ms(hp_analysis, repeat)
        res["healpy rotate iter=3"] = _median_ms(hp_rotate, repeat)
        ours = sht.rotate(f, R, iterations=3, method="jacobi").numpy()
        res["rotate iter=3 vs healpy err"] = float(np.abs(ours - np.stack(hp_rotate())).max())
    return res


def child(args) -> None:
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    out = {"threads": torch.get_num_threads(), "results": {}}
    for lmax in args.lmax:
        out["results"][str(lmax)] = run_config(args.nside, lmax, args.batch, args.repeat, args.device)
    print("JSON" + json.dumps(out))


def spawn(args, threads: int, device: str) -> dict:
    env = dict(os.environ)
    if threads > 0:
        env["OMP_NUM_THREADS"] = str(threads)
        env["MKL_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--threads", str(threads), "--device", device,
           "--nside", str(args.nside), "--batch", str(args.batch), "--repeat", str(args.repeat),
           "--lmax", *map(str, args.lmax)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")][-1]
    return json.loads(line[4:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nside", type=int, default=64)
    parser.add_argument("--lmax", type=int, nargs="+", default=[128, 64])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import torch

    configs = [("cpu", 1), ("cpu", 0)]
    if torch.cuda.is_available():
        configs.append(("cuda", 0))
    columns = []
    for device, threads in configs:
        out = spawn(args, threads, device)
        name = f"{device} {out['threads']}t" if device == "cpu" else f"cuda ({torch.cuda.get_device_name(0)})"
        columns.append((name, out["results"]))

    print(f"HEALPix nside={args.nside}, batch of {args.batch} float64 fields; median ms over {args.repeat} runs")
    for lmax in args.lmax:
        rows = []
        for _, res in columns:
            rows.extend(k for k in res[str(lmax)] if k not in rows)
        width = max(len(r) for r in rows) + 2
        print(f"\nlmax = {lmax}")
        print("".ljust(width) + "".join(name.rjust(16) for name, _ in columns))
        for row in rows:
            cells = []
            for _, res in columns:
                v = res[str(lmax)].get(row)
                cells.append("-" if v is None else (f"{v:.1e}" if "err" in row else f"{v:.2f}"))
            print(row.ljust(width) + "".join(c.rjust(16) for c in cells))


if __name__ == "__main__":
    main()

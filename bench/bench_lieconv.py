"""Benchmark one LieConv layer: forward and forward+backward time, peak memory.

Setting (issue 6): batch 32, n = 100 points, 25 neighbours, 128 -> 128 channels, one stabilizer sample.
The lift (pair logarithms, computed once per batch and shared by all layers) is timed separately.

    .venv/bin/python bench/bench_lieconv.py                 # CPU, 1 thread, medians of 10 runs
    .venv/bin/python bench/bench_lieconv.py --device cuda   # on a GPU

CPU peak memory is measured in a fresh subprocess per case as the growth of the resident set size
(``ru_maxrss``) during the timed calls; on CUDA, ``torch.cuda.max_memory_allocated``.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_case(group, mode, device, dtype, batch, n, nbhd, channels, repeats, threads):
    from fiberconv.nn.lieconv import LieConv
    from fiberconv.nn.lieconv.lift import lift_cloud
    from fiberconv.spaces.lie_groups import lie_action

    torch.set_num_threads(threads)
    device = torch.device(device)
    dtype = getattr(torch, dtype)
    torch.manual_seed(0)
    action = lie_action(group)
    x = torch.randn(batch, n, action.dim, device=device, dtype=dtype)
    f = torch.randn(batch, n, channels, device=device, dtype=dtype)
    conv = LieConv(action, channels, channels, nbhd=nbhd).to(device=device, dtype=dtype)
    cloud = lift_cloud(action, x, f, seed=0)
    if mode == "fwd+bwd":
        cloud = cloud._replace(f=cloud.f.requires_grad_(True))

    def step():
        if mode == "lift":
            lift_cloud(action, x, f, seed=0)
        elif mode == "fwd":
            with torch.no_grad():
                conv(cloud)
        else:
            conv(cloud).f.square().mean().backward()

    _sync(device)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # after the inputs exist
    for _ in range(2):
        step()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    if device.type == "cuda":
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0, 0) / 1024  # KiB -> MiB
    return {"group": group, "mode": mode, "median_ms": 1e3 * statistics.median(times),
            "min_ms": 1e3 * min(times), "peak_mib": peak}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--groups", nargs="+", default=["T2", "SO2", "SE2", "SE3"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--nbhd", type=int, default=25)
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    common = (args.device, args.dtype, args.batch, args.n, args.nbhd, args.channels, args.repeats, args.threads)
    if args.case:  # child process: one case, JSON on stdout
        print(json.dumps(run_case(args.case[0], args.case[1], *common)))
        return
    rows = []
    for g in args.groups:
        for mode in ["lift", "fwd", "fwd+bwd"]:
            cmd = [sys.executable, __file__, "--case", g, mode] + [
                f"--{k}={v}" for k, v in [("device", args.device), ("dtype", args.dtype), ("batch", args.batch),
                                          ("n", args.n), ("nbhd", args.nbhd), ("channels", args.channels),
                                          ("repeats", args.repeats), ("threads", args.threads)]]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            rows.append(json.loads(out))
            print(rows[-1], flush=True)
    print(f"\nLieConv layer, {args.device} ({args.threads} thread(s)), {args.dtype}: batch {args.batch}, "
          f"n = {args.n}, {args.nbhd} neighbours, {args.channels} -> {args.channels} channels")
    print("| group | step | median ms | min ms | peak MiB |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['group']} | {r['mode']} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()

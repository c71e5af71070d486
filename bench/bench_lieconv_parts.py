"""Where LieConv's time goes: the example networks on QM9-sized batches and MNIST point clouds (issue 17).

Cases (batch 32, float32, the examples' default networks):

* ``qm9-T3``, ``qm9-SE3``: ``LieResNet`` width 64, 3 blocks, 32 neighbours (more than any molecule's atoms, so all
  pairs), 15 input features, on the first 32 molecules of the committed QM9 subset (15.2 atoms on average, padded to
  the batch's largest, 23; QM9's mean is 18.0); SE(3) with one equivariant frame per atom;
* ``mnist-T2``, ``mnist-SE2``: width 64, 2 blocks, 16 neighbours, 64 points per digit (random points in the
  digit's box here, so no optional dependency is needed; only the sizes matter for the time).

For each: the median wall time of a forward pass (no grad) and of forward + backward, and a ``torch.profiler``
breakdown of the forward pass into the lift (``lift_cloud``), the neighbour search (``LieConv.neighbours``), the
pair inputs (``log(u_i^-1 u_j)`` of the chosen pairs, embedded), the kernel MLP and the rest (aggregation,
pointwise layers, norms, pooling). ``--memory`` adds the peak RSS of one T(2) LieConv layer's forward on a
single cloud of ``M`` points with the block search (default ``block_pairs``) against one block of all ``M^2``
pairs (what the layer held before), each in a fresh process.

    .venv/bin/python bench/bench_lieconv_parts.py                      # CPU, 1 thread
    .venv/bin/python bench/bench_lieconv_parts.py --memory 4000 8000   # also the memory scaling
    .venv/bin/python bench/bench_lieconv_parts.py --device cuda        # on a GPU
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
from torch.profiler import ProfilerActivity, profile, record_function

PARTS = ["lift", "lieconv.neighbours", "lieconv.pair_input", "lieconv.kernel_mlp"]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_case(name, device, batch=32):
    from fiberconv.datasets.qm9 import load_qm9
    from fiberconv.nn.lieconv import LieResNet
    from fiberconv.spaces.lie_groups import lie_action

    torch.manual_seed(0)
    kind, group = name.split("-")
    if kind == "qm9":
        ds = load_qm9().take(torch.arange(batch))
        w = ds.mask.to(torch.float64).unsqueeze(-1)
        x = (ds.positions - (ds.positions * w).sum(1, keepdim=True) / w.sum(1, keepdim=True)) * w
        f, mask = ds.features(), ds.mask
        lift = {"stabilizer": "frame"} if group == "SE3" else {}
        model = LieResNet(lie_action(group, 3), f.shape[-1], 3, channels=64, num_layers=3, nbhd=32, lift_kwargs=lift)
    else:
        g = torch.Generator().manual_seed(0)
        x = (torch.rand(batch, 64, 2, generator=g) * 2 - 1) * 4.5  # the digits' box, in units of 3 pixels
        f, mask = torch.rand(batch, 64, 1, generator=g), torch.ones(batch, 64, dtype=torch.bool)
        lift = {"stabilizer": "frame"} if group == "SE2" else {}
        model = LieResNet(lie_action(group, 2), 1, 10, channels=64, num_layers=2, nbhd=16, lift_kwargs=lift)
    t = lambda a: a.to(device=device, dtype=torch.float32)
    return model.to(device), t(x), t(f), mask.to(device)


def forward(model, x, f, mask):
    with record_function("lift"):
        cloud = model.lift(x, f, mask, seed=0)
    return model.pool(model.head(model.blocks(model.embed(cloud))))


def time_case(name, device, repeats):
    model, x, f, mask = make_case(name, device)

    def fwd():
        with torch.no_grad():
            forward(model, x, f, mask)

    def fwd_bwd():
        forward(model, x, f, mask).square().mean().backward()

    res = {"case": name, "atoms_or_points": float(mask.sum(-1).float().mean()), "padded": int(mask.shape[1]),
           "params": sum(p.numel() for p in model.parameters())}
    for label, step in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
        for _ in range(2):
            step()
        times = []
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            step()
            _sync(device)
            times.append(time.perf_counter() - t0)
        res[f"{label}_ms"] = 1e3 * statistics.median(times)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(repeats):
            fwd()
    totals = {e.key: e.cpu_time_total / repeats / 1e3 for e in prof.key_averages() if e.key in PARTS}
    res["parts_ms"] = {p: totals.get(p, 0.0) for p in PARTS}
    res["parts_ms"]["rest"] = max(0.0, res["fwd_ms"] - sum(res["parts_ms"].values()))
    return res


def memory_case(m, block, device):
    from fiberconv.nn.lieconv import LieConv
    from fiberconv.nn.lieconv.lift import lift_cloud
    from fiberconv.spaces.lie_groups import lie_action

    action = lie_action("T2")
    g = torch.Generator().manual_seed(0)
    x, f = torch.randn(1, m, 2, generator=g), torch.randn(1, m, 8, generator=g)
    conv = LieConv(action, 8, 8, nbhd=16, block_pairs=m * m if block == "dense" else 2**18)
    cloud = lift_cloud(action, x, f)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with torch.no_grad():
        conv(cloud)
    dt = time.perf_counter() - t0
    return {"M": m, "search": block, "peak_mib": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0, 0) / 1024,
            "fwd_s": dt}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cases", nargs="+", default=["qm9-T3", "qm9-SE3", "mnist-T2", "mnist-SE2"])
    ap.add_argument("--memory", type=int, nargs="*", default=[], help="cloud sizes M for the memory comparison")
    ap.add_argument("--memory-case", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.memory_case:  # child process: one memory case, JSON on stdout
        print(json.dumps(memory_case(int(args.memory_case[0]), args.memory_case[1], device)))
        return
    rows = [time_case(c, device, args.repeats) for c in args.cases]
    print(f"LieResNet, {args.device} ({args.threads} thread(s)), float32, batch 32; ms (median of {args.repeats})")
    print("| case | points (mean / padded) | params | forward | forward + backward | lift | neighbours | pair input "
          "| kernel MLP | rest |\n|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        p = r["parts_ms"]
        share = lambda v: f"{v:.1f} ({100 * v / r['fwd_ms']:.0f} %)"
        print(f"| {r['case']} | {r['atoms_or_points']:.1f} / {r['padded']} | {r['params']:,} | {r['fwd_ms']:.1f} | "
              f"{r['fwd+bwd_ms']:.1f} | {share(p['lift'])} | {share(p['lieconv.neighbours'])} | "
              f"{share(p['lieconv.pair_input'])} | {share(p['lieconv.kernel_mlp'])} | {share(p['rest'])} |", flush=True)
    if args.memory:
        print("\nOne T(2) LieConv layer (8 -> 8 channels, 16 neighbours), one cloud, forward, fresh process each")
        print("| M | neighbour search | peak RSS growth (MiB) | forward s |\n|---|---|---|---|")
        for m in args.memory:
            for block in ("blocks", "dense"):
                cmd = [sys.executable, __file__, "--memory-case", str(m), block, f"--threads={args.threads}",
                       f"--device={args.device}"]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                r = json.loads(out)
                label = "blocks of 2^18 pairs" if block == "blocks" else "one block of M^2 pairs (before)"
                print(f"| {m:,} | {label} | {r['peak_mib']:.0f} | {r['fwd_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()

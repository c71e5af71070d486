"""SE(2)'s closed-form ``relative_log`` against the generic route (inverse, 3x3 product, log), issue 17.

The MNIST point-cloud example's default SE(2) network (``LieResNet`` width 128, 4 blocks with ``ds_frac 0.5``,
16 neighbours, equivariant frames) on a batch of 32 clouds of 151 random points (the digits' mean count), float32:
the median time of forward + backward with each ``relative_log``, alternated within one run so that both see the
same machine load. Prints the two medians and their ratio.

    .venv/bin/python bench/bench_se2_relative_log.py --repeats 5
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from fiberconv.nn.lieconv import LieResNet
from fiberconv.spaces.groups import Group
from fiberconv.spaces.lie_groups import SE2, lie_action


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="alternating rounds (>= 1)")
    ap.add_argument("--points", type=int, default=151, help="points per cloud (>= 1)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.points < 1 or args.threads < 1:
        ap.error("--repeats, --points and --threads must be positive ints")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, f = torch.randn(32, args.points, 2) * 6, torch.rand(32, args.points, 1)
    y = torch.randint(0, 10, (32,))
    model = LieResNet(lie_action("SE2"), 1, 10, channels=128, num_layers=4, nbhd=16, ds_frac=0.5,
                      lift_kwargs={"stabilizer": "frame"})
    se2_type = type(SE2)
    closed = se2_type.relative_log
    routes = {"closed form": closed, "generic": Group.relative_log}
    times = {name: [] for name in routes}

    def step():
        F.cross_entropy(model(x, f), y).backward()

    try:
        for _ in range(args.repeats):
            for name, fn in routes.items():
                se2_type.relative_log = fn
                step()  # warm-up
                t = time.process_time()
                step()
                times[name].append(time.process_time() - t)
    finally:
        se2_type.relative_log = closed
    med = {name: statistics.median(v) * 1e3 for name, v in times.items()}
    print(f"forward + backward, batch 32 x {args.points} points, {args.threads} thread(s): "
          f"closed form {med['closed form']:.0f} ms, generic {med['generic']:.0f} ms, "
          f"ratio {med['generic'] / med['closed form']:.2f}")


if __name__ == "__main__":
    main()

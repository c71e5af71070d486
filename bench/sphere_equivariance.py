"""Equivariance error of SphereConv under random rotations, against nside.

    python bench/sphere_equivariance.py [--nsides 8 16 32 64] [--lmax 6] [--radius 0.2] [--kernels moments4 ...]

For each nside: a conv (scalar -> vector, vector -> vector, vector -> scalar; 2 fields each) applied to
random inputs, error ||conv(pi(g) f) - pi(g) conv(f)|| / ||pi(g) conv(f)|| averaged over random rotations
g, for two kinds of input: "white" (ambient components of every degree <= lmax) and "smooth" (degree 1 to
3), and four kernels:
(a) a kernel of fixed angular radius (the continuous operator: the error falls with nside),
(b) the default kernel of 3 pixel spacings with 2 rings, sampled (``quadrature=None``: the error plateaus),
(c) the same with the moment-matched quadrature of degree 3 and (d) of degree 4, the default (the error falls
with nside, as the power degree + 1 of the pixel size).
"""
import argparse
import time

import torch

from fiberconv.fields import sphere_field_type
from fiberconv.nn import SphereConv
from fiberconv.spaces import SO3, HealpixGrid
from fiberconv.testing import EquivarianceChecker, bandlimited_field, smooth_field

CASES = {"s->v": ((0, 2), (1, 2)), "v->v": ((1, 2), (1, 2)), "v->s": ((1, 2), (0, 2))}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nsides", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--lmax", type=int, default=6)
    p.add_argument("--radius", type=float, default=0.2)
    p.add_argument("--rotations", type=int, default=3)
    p.add_argument("--kernels", nargs="+", choices=["fixed", "sampled", "moments3", "moments4"],
                   default=["fixed", "sampled", "moments3", "moments4"], help="which kernels to measure (all)")
    args = p.parse_args()
    torch.manual_seed(0)
    rots = SO3.sample(args.rotations, seed=1, dtype=torch.float64)
    kernels = {"fixed": (f"r={args.radius:.2f} rad", dict(radius=args.radius, n_rings=2)),
               "sampled": ("3 px sampled", dict(quadrature=None)), "moments3": ("3 px moments 3", dict(quadrature=3)),
               "moments4": ("3 px moments 4", {})}
    kernels = [kernels[k] for k in args.kernels]
    print(f"{'nside':>5} {'kernel':>13} " + " ".join(f"{c + ' ' + k:>13}" for k in ("white", "smooth") for c in CASES)
          + "  neighbours  seconds")
    for nside in args.nsides:
        grid = HealpixGrid(nside, nest=True)
        for label, kw in kernels:
            t0, errs = time.perf_counter(), {"white": [], "smooth": []}
            for ti, to in CASES.values():
                ti, to = sphere_field_type(ti), sphere_field_type(to)
                conv = SphereConv(ti, to, grid, bias=False, dtype=torch.float64, **kw)
                check = EquivarianceChecker(ti, grid, to)
                for kind, f in (("white", bandlimited_field(ti, grid, args.lmax, batch=1)),
                                ("smooth", smooth_field(ti, grid, batch=1))):
                    errs[kind].append(sum(check(conv, f, g) for g in rots) / len(rots))
            print(f"{nside:>5} {label:>13} " + " ".join(f"{e:>13.2e}" for k in ("white", "smooth") for e in errs[k])
                  + f"  {conv.n_neighbours:>10} {time.perf_counter() - t0:>8.1f}", flush=True)


if __name__ == "__main__":
    main()

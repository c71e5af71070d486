"""QM9 HOMO / LUMO / gap with LieConv: T(3), SE(3) and a non-equivariant baseline of the same architecture.

Data: :func:`fiberconv.datasets.qm9.load_qm9` (``--source qm9pack``: the 130,831 molecules of the ``qm9`` extra, cut
into the LieConv paper's split, 100,000 / 17,748 / 13,083; ``--source subset``: the 500 committed molecules, cut
in the same proportions). The first ``--n-train`` molecules of the training split train, the first ``--n-test`` of
the test split test (default: all 13,083). Inputs: one-hot atom types times ``(Z/9)^p``, ``p = 0, 1, 2``
(Cormorant's and LieConv's features), coordinates in angstrom about each molecule's centroid. Targets are
standardised with the training mean and spread; the loss is the L1 loss (as in the paper); MAE in meV (HOMO, LUMO,
gap), D (mu) or bohr^3 (alpha).

Models (``--groups``): ``LieResNet`` with the group ``T3`` (translations), ``SE3`` (rigid motions; the stabilizer
samples are the equivariant frames of :meth:`~fiberconv.spaces.lie_groups.SE3Action.frame_stabilizer`, so the
prediction is invariant to rotations up to rounding), or ``Trivial`` (the kernel sees both atoms' absolute
coordinates: the non-equivariant baseline). Every model is also tested on the test molecules rotated by Haar-random
rotations; for SE(3) the rotated predictions are compared with the unrotated ones in float64.

    pip install "fiberconv[qm9]"                          # the full QM9 (qm9pack, ~100 MB)
    python -m fiberconv.examples.qm9                      # T3, SE3, Trivial on 1,000 training molecules
    python -m fiberconv.examples.qm9 --n-train 1000 5000 20000 --out out/qm9   # the learning curve
    python -m fiberconv.examples.qm9 --source subset --n-train 300 --epochs 2   # seconds; no extra needed
    python -m fiberconv.examples.qm9 --device cuda --groups SE3 T3 --n-train 100000 --epochs 500 --batch 75 \\
        --lr 3e-3 --channels 1536 --layers 6 --nbhd 100 --out out/qm9-gpu   # the paper's scale, on a GPU
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F

from fiberconv.datasets.qm9 import PAPER_SPLIT, PROPERTIES, load_qm9, rotate_molecules
from fiberconv.examples._options import (
    check_loss,
    check_options,
    check_output_dir,
    check_parameters,
    resolve_device,
)
from fiberconv.nn.lieconv import LieResNet
from fiberconv.spaces.lie_groups import lie_action

GROUPS = ("T3", "SE3", "Trivial")
#: the LieConv paper's Table 2 (LieConv T(3), ~100k training molecules), meV; Table 3 (HOMO, SO(3) augmentation):
#: Trivial 31.7, T(3) 29.6, SE(3) 26.8
PAPER_MAE = {"homo": 30.0, "lumo": 25.0, "gap": 49.0}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m fiberconv.examples.qm9", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="qm9pack", choices=["qm9pack", "subset"],
                    help="qm9pack: all 130,831 molecules (pip install 'fiberconv[qm9]'); subset: the 500 committed ones")
    ap.add_argument("--groups", nargs="+", default=list(GROUPS), help=f"models: {', '.join(GROUPS)}")
    ap.add_argument("--targets", nargs="+", default=["homo", "lumo", "gap"], help=f"among {', '.join(PROPERTIES)}")
    ap.add_argument("--n-train", type=int, nargs="+", default=[1000],
                    help="training molecules, one run per value (a learning curve); at most the training split")
    ap.add_argument("--n-test", type=int, default=None, help="test molecules (default: the whole test split)")
    ap.add_argument("--epochs", type=int, default=None,
                    help="epochs (default: as many as make --steps optimiser steps, at least 2)")
    ap.add_argument("--steps", type=int, default=1000, help="optimiser steps when --epochs is not given")
    ap.add_argument("--batch", type=int, default=32, help="molecules per batch")
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (Adam, one-cycle)")
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--nbhd", type=int, default=32, help="neighbours per lifted element")
    ap.add_argument("--lift-samples", type=int, default=1, help="stabilizer samples (frames) per atom (SE3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    ap.add_argument("--out", default=None, help="folder for results.json (optional)")
    args = ap.parse_args(argv)
    check_options(args, ap.error, positive=("n_train", "n_test", "epochs", "steps", "batch", "channels", "layers",
                                            "nbhd", "lift_samples", "threads"),
                  nonnegative=("seed",), positive_float=("lr",))
    for name in args.groups:
        if name not in GROUPS:
            ap.error(f"--groups {name}: expected one of {', '.join(GROUPS)}")
    for name in args.targets:
        if name not in PROPERTIES:
            ap.error(f"--targets {name}: expected one of {', '.join(PROPERTIES)}")
    max_train = PAPER_SPLIT["train"] if args.source == "qm9pack" else round(500 * PAPER_SPLIT["train"] / 130_831)
    for n in args.n_train:
        if n > max_train:
            ap.error(f"--n-train {n}: the {args.source} training split has {max_train} molecules")
    if args.out is not None:
        check_output_dir(args.out, ap.error)
    args.device = resolve_device(args.device)
    return args


def make_model(name, c_in, c_out, args):
    action = lie_action(name, 3)
    lift = {"n_samples": args.lift_samples, "stabilizer": "frame"} if name == "SE3" else {}
    return LieResNet(action, c_in, c_out, channels=args.channels, num_layers=args.layers, nbhd=args.nbhd,
                     lift_kwargs=lift)


def centred(part):
    w = part.mask.to(torch.float64).unsqueeze(-1)
    c = (part.positions * w).sum(1, keepdim=True) / w.sum(1, keepdim=True)
    return torch.where(part.mask.unsqueeze(-1), part.positions - c, torch.zeros((), dtype=torch.float64))


@torch.no_grad()
def predict(model, x, f, mask, batch, device, dtype):
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        sl = slice(i, i + batch)
        width = max(1, int(mask[sl].sum(-1).max()))  # trim the padding of this batch
        out.append(model(x[sl, :width].to(device, dtype), f[sl, :width].to(device, dtype), mask[sl, :width].to(device),
                         seed=0).to("cpu", torch.float64))
    return torch.cat(out)


def train_one(name, train, test, args, log):
    torch.manual_seed(args.seed)
    x, f, m = centred(train), train.features(), train.mask
    y = train.targets(args.targets)
    mu, sd = y.mean(0), y.std(0)
    yn = (y - mu) / sd
    dev, dt = args.device, torch.float32
    model = make_model(name, f.shape[-1], len(args.targets), args).to(dev)
    n = len(train)
    per_epoch = math.ceil(n / args.batch)
    epochs = args.epochs or max(2, math.ceil(args.steps / per_epoch))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=epochs * per_epoch)
    g = torch.Generator().manual_seed(args.seed + 1)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, args.batch):
            b = perm[i:i + args.batch]
            width = max(1, int(m[b].sum(-1).max()))
            pred = model(x[b, :width].to(dev, dt), f[b, :width].to(dev, dt), m[b, :width].to(dev), seed=0)
            loss = F.l1_loss(pred, yn[b].to(dev, dt))
            check_loss(loss, f"training ({name}, epoch {ep + 1})", f"try a smaller --lr (now {args.lr:g})")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if ep == epochs - 1 or (ep + 1) % max(1, epochs // 5) == 0:
            log(f"  {name} n={n} epoch {ep + 1}/{epochs}: L1 {loss.item():.3f} ({time.time() - t0:.0f}s)")
    check_parameters(model, f"training ({name})", f"try a smaller --lr (now {args.lr:g})")
    train_s = time.time() - t0
    xt, ft, mt = centred(test), test.features(), test.mask
    yt = test.targets(args.targets)
    pt = predict(model, xt, ft, mt, 100, dev, dt) * sd + mu
    xr = torch.where(mt.unsqueeze(-1), rotate_molecules(xt, seed=args.seed + 7), torch.zeros((), dtype=torch.float64))
    pr = predict(model, xr, ft, mt, 100, dev, dt) * sd + mu
    res = {"group": name, "n_train": n, "epochs": epochs, "params": sum(p.numel() for p in model.parameters()),
           "train_s": round(train_s, 1), "mae_mev": {}, "mae_rotated_mev": {}}
    for k, t in enumerate(args.targets):
        res["mae_mev"][t] = float((pt[:, k] - yt[:, k]).abs().mean())
        res["mae_rotated_mev"][t] = float((pr[:, k] - yt[:, k]).abs().mean())
    if name == "SE3":  # invariance in float64: the same weights, the molecules unrotated and rotated
        m64 = model.double()
        p64 = predict(m64, xt, ft, mt, 100, dev, torch.float64)
        r64 = predict(m64, xr, ft, mt, 100, dev, torch.float64)
        diff = (p64 - r64).abs().amax(-1) * sd.abs().max()
        cen = torch.zeros(len(xt), 1, 3, dtype=torch.float64)  # the molecules are centred
        bad = lie_action("SE3").frame_is_degenerate(xt, cen, mt).any(-1)
        res["rotation_max_change_mev_f64"] = float(diff.max())
        res["rotation_max_change_mev_f64_frame_ok"] = float(diff[~bad].max()) if bool((~bad).any()) else 0.0
        res["molecules_with_degenerate_frame"] = int(bad.sum())
        res["rotation_max_change_mev_f32"] = float((pt - pr).abs().max())
    log(f"{name} " + json.dumps(res))
    return res


def _fmt(value: float, target: str) -> str:
    """meV to the unit; Debye and bohr^3 (values of order 1) to three decimals."""
    return f"{value:.0f}" if PROPERTIES[target][2] == "meV" else f"{value:.3f}"


def table(results, targets):
    head = "| model | train molecules | params | " + " | ".join(f"{t} MAE ({PROPERTIES[t][2]})" for t in targets) + \
        " | rotated test: " + ", ".join(targets) + " | train s |"
    rows = [head, "|" + "---|" * (5 + len(targets))]
    for r in results:
        rows.append(f"| {r['group']} | {r['n_train']:,} | {r['params']:,} | "
                    + " | ".join(_fmt(r['mae_mev'][t], t) for t in targets) + " | "
                    + ", ".join(_fmt(r['mae_rotated_mev'][t], t) for t in targets) + f" | {r['train_s']:.0f} |")
    return "\n".join(rows)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    log = lambda s: print(s, flush=True)
    try:
        ds = load_qm9(args.source)
    except ImportError as e:
        raise SystemExit(f"error: {e}; or run with --source subset") from e
    split = ds.split(seed=0)
    test = split["test"] if args.n_test is None else split["test"].take(torch.arange(min(args.n_test, len(split["test"]))))
    log(f"QM9 ({args.source}): {len(ds):,} molecules; train split {len(split['train']):,}, test {len(test):,}; "
        f"targets {', '.join(f'{t} ({PROPERTIES[t][2]})' for t in args.targets)}")
    results = []
    for n in args.n_train:
        train = split["train"].take(torch.arange(n))
        for name in args.groups:
            results.append(train_one(name, train, test, args, log))
    log(table(results, args.targets))
    paper = ", ".join(f"{t} {PAPER_MAE[t]:g} {PROPERTIES[t][2]}" for t in args.targets if t in PAPER_MAE)
    log(f"paper (LieConv T(3), 100,000 training molecules, Table 2): {paper or 'none of these targets'}; "
        "HOMO by group (Table 3): Trivial 31.7, T(3) 29.6, SE(3) 26.8 meV")
    if args.out is not None:
        with open(os.path.join(args.out, "results.json"), "w") as fh:
            json.dump({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, fh, indent=1)
    return results


if __name__ == "__main__":
    main()

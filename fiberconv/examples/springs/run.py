"""Train Hamiltonian LieConv (T(2), SO(2), SE(2), trivial) and a fully-connected Hamiltonian on the spring
benchmark; report rollout error, energy drift and momentum drift; plot Fig. 7 (and Fig. 8 with --sizes).

    python -m fiberconv.examples.springs          # defaults: table + Fig. 7 into out/springs/
    python -m fiberconv.examples.springs --fig8   # also Fig. 8: test MSE vs training-set size (--sizes)
    fiberconv-springs --help                      # the same as a console script

The data comes from :func:`fiberconv.datasets.springs.generate`.

Relative drifts along a rollout of ``T`` steps (max over time, mean over test systems):
linear ``max_t |P(t) - P(0)| / mean_t sum_i |p_i(t)|``, angular
``max_t |L(t) - L(0)| / mean_t sum_i |q_i(t)| |p_i(t)|``, energy ``max_t |E(t) - E(0)| / |E(0)|`` with
``E`` the *true* Hamiltonian. Rollout error: mean over time of ``|z_hat - z| / (|z_hat| + |z|)``.
Model rollouts for the metrics take ``--eval-substeps`` RK4 steps per data interval (default 2,
``dt = 0.005``): at the data's ``dt = 0.01`` RK4's own truncation error in ``L`` is ~1e-6 even for the
true Hamiltonian (light masses make the springs stiff), so conservation at 1e-6 needs the finer step.
The drifts are also measured at ``--refine-substeps`` (default 8, ``dt = 0.00125``): RK4's truncation
error in a conserved quantity falls by ``>= 4^4 = 256`` there, a symmetry violation does not fall at all.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch

from fiberconv.datasets.springs import generate, spring_energy
from fiberconv.examples._options import check_input_files, check_loss, check_options, check_output_dir, check_parameters
from fiberconv.examples._progress import progress, require_tqdm
from fiberconv.nn.lieconv import (
    FCHamiltonian,
    HamiltonianLieConv,
    angular_momentum_2d,
    hamiltonian_vector_field,
    rk4_rollout,
    total_momentum,
)
from fiberconv.spaces.lie_groups import lie_action

MODELS = ["T2", "SO2", "SE2", "Trivial", "FC"]
#: the groups HamiltonianLieConv can use on the planar springs (besides FC, the fully-connected model)
GROUPS = ["T2", "SO2", "SE2", "RxSO2", "Trivial"]
#: time points of the generated trajectories (``generate``'s default)
N_TIMES = 500
DRIFTS = ["energy_rel_drift", "linear_momentum_rel_drift", "angular_momentum_rel_drift"]


class TrueSprings(torch.nn.Module):
    """The benchmark's true Hamiltonian as a model (features = (mass, spring constant)): the reference row,
    whose drifts are RK4's own error at the evaluation step."""

    def forward(self, z, masses, features):
        return spring_energy(z, masses, features[..., 1])


def make_model(name, n_bodies, args):
    if name == "truth":
        return TrueSprings()
    if name == "FC":
        return FCHamiltonian(n_bodies, 2, 2, hidden=args.fc_hidden).double()
    # nbhd=None: all pairs, so no neighbourhood membership can switch along a rollout
    return HamiltonianLieConv(lie_action(name), 2, channels=args.channels, num_layers=args.layers,
                              nbhd=None).double()


def dynamics(model, m, k, create_graph):
    feats = torch.stack([m, k], -1)
    return lambda z: hamiltonian_vector_field(lambda zz: model(zz, m, feats), z, create_graph=create_graph)


def chunks(zs, m, k, n, chunk, gen):
    """``n`` random windows of ``chunk`` time points: ``(chunk, n, 2, N, 2)``, masses, constants."""
    S, T = zs.shape[:2]
    s = torch.randint(0, S, (n,), generator=gen)
    t = torch.randint(0, T - chunk + 1, (n,), generator=gen)
    win = torch.stack([zs[s, t + i] for i in range(chunk)])
    return win, m[s], k[s]


def train(model, data, ts, args, seed, iters=None, label="model"):
    zs, m, k = data
    iters = args.iters if iters is None else iters
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters)
    tc = ts[: args.chunk]
    bar = progress(iters, label, quiet=args.quiet)
    for it in range(iters):
        win, mb, kb = chunks(zs, m, k, args.batch, args.chunk, gen)
        pred = rk4_rollout(dynamics(model, mb, kb, True), win[0], tc)
        loss = ((pred - win) ** 2).mean()
        check_loss(loss, f"training (iteration {it + 1})", f"try a smaller --lr (now {args.lr:g})")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix_str(f"loss {loss.item():.3g}", refresh=False)
        bar.update()
    bar.close()
    check_parameters(model, "training", f"try a smaller --lr (now {args.lr:g})")
    return loss.item()


@torch.no_grad()
def chunk_mse(model, data, ts, args, seed=123, n=256):
    win, mb, kb = chunks(*data, n, args.chunk, torch.Generator().manual_seed(seed))
    pred = rk4_rollout(dynamics(model, mb, kb, False), win[0], ts[: args.chunk])
    return float(((pred - win) ** 2).mean())


@torch.no_grad()
def rollout_metrics(model, data, ts, steps, substeps=1):
    zs, m, k = data
    truth = zs[:, : steps + 1].transpose(0, 1)  # (T, S, 2, N, 2)
    pred = rk4_rollout(dynamics(model, m, k, False), truth[0], ts[: steps + 1], substeps=substeps)
    rel = (pred - truth).flatten(2).norm(dim=-1) / (pred.flatten(2).norm(dim=-1) + truth.flatten(2).norm(dim=-1))
    P, L = total_momentum(pred), angular_momentum_2d(pred)
    pn = pred[:, :, 1].norm(dim=-1).sum(-1).mean(0)
    ln = (pred[:, :, 0].norm(dim=-1) * pred[:, :, 1].norm(dim=-1)).sum(-1).mean(0)
    E = spring_energy(pred, m, k)
    out = {
        "rollout_rel_err_mean": float(rel.mean()),
        "rollout_rel_err_final": float(rel[-1].mean()),
        "energy_rel_drift": float(((E - E[0]).abs().amax(0) / E[0].abs()).mean()),
        "linear_momentum_rel_drift": float(((P - P[0]).norm(dim=-1).amax(0) / pn).mean()),
        "angular_momentum_rel_drift": float(((L - L[0]).abs().amax(0) / ln).mean()),
    }
    curves = {"P": (P - P[0]).norm(dim=-1)[:, 0], "L": (L - L[0])[:, 0], "E": (E - E[0])[:, 0] / E[0, 0].abs()}
    return out, curves


def plot(curves_by_model, ts, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plots")
        return
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for name, c in curves_by_model.items():
        t = ts[: len(c["P"])].numpy()
        axes[0].semilogy(t, c["P"].abs().numpy() + 1e-18, label=name)
        axes[1].semilogy(t, c["L"].abs().numpy() + 1e-18, label=name)
        axes[2].semilogy(t, c["E"].abs().numpy() + 1e-18, label=name)
    for ax, title in zip(axes, ["|P(t) - P(0)|", "|L(t) - L(0)|", "|E(t) - E(0)| / |E(0)| (true H)"]):
        ax.set_title(title)
        ax.set_xlabel("t")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "fig7_conservation.png"), dpi=120)
    print("wrote", os.path.join(out_dir, "fig7_conservation.png"))


def load_model(model, path) -> float:
    """Load a checkpoint of ``--save-models`` into ``model``; returns its training loss. SystemExit naming the file
    when it is not such a checkpoint (truncated, another model, not a torch file)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["state_dict"])
        return float(ckpt["train_loss"])
    except Exception as e:  # pickle, zipfile, RuntimeError (shapes), KeyError, ...: all mean "not this model"
        raise SystemExit(f"--load-models: could not load {path} as a saved model of this run "
                         f"(written by --save-models with the same --channels/--layers/--fc-hidden): "
                         f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m fiberconv.examples.springs", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=MODELS,
                    help=f"models to train: groups {', '.join(GROUPS)} (Hamiltonian LieConv) and FC "
                         f"(default: {' '.join(MODELS)})")
    ap.add_argument("--n-train", type=int, default=100, help="training systems (>= 1)")
    ap.add_argument("--n-test", type=int, default=20, help="test systems (>= 1)")
    ap.add_argument("--iters", type=int, default=300, help="training iterations (>= 1)")
    ap.add_argument("--fc-iters", type=int, default=None, help="iterations for FC (default: --iters)")
    ap.add_argument("--batch", type=int, default=32, help="chunks per training batch (>= 1)")
    ap.add_argument("--chunk", type=int, default=5,
                    help=f"time points per training chunk (2 .. {N_TIMES}: a start and at least one step)")
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--fc-hidden", type=int, default=128)
    ap.add_argument("--steps", type=int, default=200,
                    help=f"rollout length (data intervals) for the metrics (1 .. {N_TIMES - 1})")
    ap.add_argument("--eval-substeps", type=int, default=2, help="RK4 steps per data interval in metric rollouts")
    ap.add_argument("--refine-substeps", type=int, default=8,
                    help="also measure the drifts with this many RK4 steps per interval (0: skip)")
    ap.add_argument("--fig8", action="store_true", help="also train on --sizes systems for Fig. 8")
    ap.add_argument("--sizes", nargs="*", type=int, default=[10, 30, 100],
                    help="training-set sizes for Fig. 8 (1 .. --n-train)")
    ap.add_argument("--fig8-models", nargs="+", default=["T2", "Trivial", "FC"],
                    help="models for Fig. 8 (SE(2) costs 3x T(2) per step)")
    ap.add_argument("--save-models", action="store_true", help="save each trained model to <out>/models/<name>.pt")
    ap.add_argument("--load-models", default=None, metavar="DIR",
                    help="load <DIR>/<name>.pt instead of training (evaluation only)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars (tqdm, on stderr)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (>= 1)")
    ap.add_argument("--out", default=os.path.join("out", "springs"), help="output folder (default: out/springs)")
    args = ap.parse_args(argv)
    require_tqdm()
    # every option is checked before the data is generated (about a minute)
    check_options(args, ap.error, positive=("n_train", "n_test", "iters", "fc_iters", "batch", "channels", "layers",
                                            "fc_hidden", "steps", "eval_substeps", "threads"),
                  nonnegative=("refine_substeps",), positive_float=("lr",))
    if not 2 <= args.chunk <= N_TIMES:
        ap.error(f"--chunk must be between 2 (a start and one step) and {N_TIMES} (the trajectory), got {args.chunk}")
    if args.steps >= N_TIMES:
        ap.error(f"--steps must be at most {N_TIMES - 1} (the trajectories have {N_TIMES} time points), got {args.steps}")
    for flag, names in (("--models", args.models), ("--fig8-models", args.fig8_models if args.fig8 else [])):
        for name in names:
            if name == "FC":
                continue
            try:
                action = lie_action(name)
            except ValueError as e:
                ap.error(f"{flag}: {e}, or FC")
            if action.dim != 2:
                ap.error(f"{flag} {name}: acts on R^{action.dim}; the springs move in the plane ({', '.join(GROUPS)} "
                         "or FC)")
    if args.fig8:
        if not args.sizes:
            ap.error("--sizes: give at least one training-set size for --fig8")
        bad = [n for n in args.sizes if not 1 <= n <= args.n_train]
        if bad:
            ap.error(f"--sizes must be between 1 and --n-train {args.n_train}, got {bad}")
    if args.load_models:
        if not os.path.isdir(args.load_models):
            ap.error(f"--load-models {args.load_models}: no such folder")
        check_input_files([os.path.join(args.load_models, f"{name}.pt") for name in args.models], ap.error,
                          "--load-models", "saved model (written by --save-models)")
    check_output_dir(args.out, ap.error)
    torch.set_num_threads(args.threads)

    t0 = time.time()
    zs, ts, m, k = generate(args.n_train + args.n_test, seed=0)
    train_data = (zs[: args.n_train], m[: args.n_train], k[: args.n_train])
    test_data = (zs[args.n_train:], m[args.n_train:], k[args.n_train:])
    print(f"data: {tuple(zs.shape)} in {time.time() - t0:.1f}s")

    results, curves = {}, {}
    for name in ["truth"] + args.models:
        torch.manual_seed(0)
        model = make_model(name, zs.shape[3], args)
        t1 = time.time()
        if name == "truth":
            final = 0.0
        elif args.load_models:
            final = load_model(model, os.path.join(args.load_models, f"{name}.pt"))
        else:
            final = train(model, train_data, ts, args, seed=1, iters=args.fc_iters if name == "FC" else None, label=name)
        if args.save_models and name != "truth":
            os.makedirs(os.path.join(args.out, "models"), exist_ok=True)
            torch.save({"state_dict": model.state_dict(), "train_loss": final},
                       os.path.join(args.out, "models", f"{name}.pt"))
        t2 = time.time()
        res, cur = rollout_metrics(model, test_data, ts, args.steps, args.eval_substeps)
        if args.refine_substeps:
            fine, _ = rollout_metrics(model, test_data, ts, args.steps, args.refine_substeps)
            res.update({f"{key}_refined": fine[key] for key in DRIFTS})
        res.update(train_loss=final, test_chunk_mse=chunk_mse(model, test_data, ts, args),
                   train_seconds=t2 - t1, eval_seconds=time.time() - t2,
                   params=sum(p.numel() for p in model.parameters()))
        results[name], curves[name] = res, cur
        print(name, json.dumps({a: (f"{b:.3g}" if isinstance(b, float) else b) for a, b in res.items()}), flush=True)

    cols = ["rollout_rel_err_mean", "rollout_rel_err_final", "energy_rel_drift", "linear_momentum_rel_drift",
            "angular_momentum_rel_drift", "test_chunk_mse", "train_seconds", "eval_seconds"]
    if args.refine_substeps:
        cols[5:5] = [f"{key}_refined" for key in DRIFTS]
    lines = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {n} | " + " | ".join(f"{r[c]:.3g}" for c in cols) + " |" for n, r in results.items()]
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump({"args": vars(args), "results": results}, fh, indent=1)
    with open(os.path.join(args.out, "results.md"), "w") as fh:
        fh.write(table + "\n")
    plot(curves, ts, args.out)
    fig8 = {}
    for n in (args.sizes if args.fig8 else []):
        sub = tuple(t[:n] for t in train_data)
        for name in args.fig8_models:
            if n == args.n_train and name in results:  # the main run's model
                fig8.setdefault(name, {})[n] = results[name]["test_chunk_mse"]
                continue
            torch.manual_seed(0)
            model = make_model(name, zs.shape[3], args)
            train(model, sub, ts, args, seed=1, iters=args.fc_iters if name == "FC" else None, label=f"{name}, n={n}")
            fig8.setdefault(name, {})[n] = chunk_mse(model, test_data, ts, args)
            print(f"fig8 n={n} {name}: test chunk MSE {fig8[name][n]:.3g}", flush=True)

    if fig8:
        with open(os.path.join(args.out, "results.json"), "w") as fh:
            json.dump({"args": vars(args), "results": results, "fig8": fig8}, fh, indent=1)
        try:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(5, 3.8))
            for name, d in fig8.items():
                ax.loglog(list(d), list(d.values()), "o-", label=name)
            ax.set_xlabel("training systems")
            ax.set_ylabel("test MSE (5-step chunks)")
            ax.legend()
            fig.tight_layout()
            fig.savefig(os.path.join(args.out, "fig8_data_efficiency.png"), dpi=120)
        except ImportError:
            pass
    print(f"total {time.time() - t0:.0f}s; outputs in {args.out}")
    return results


if __name__ == "__main__":
    main()

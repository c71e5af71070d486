r"""The wind example's command line and console output, kept free of the example's heavy modules (the models,
the data loaders, matplotlib) so that ``python -m fiberconv.examples.wind --help`` (and every argument check)
answers before any long work.

:func:`build_parser` and :func:`resolve` (defaults, ``--tiny``, argument checks) define the command line;
:class:`Log` prints stage messages and opens the (tqdm) progress bars. :mod:`.train` runs the example.
"""
from __future__ import annotations

import argparse
import math
import sys
import time

from fiberconv.examples._options import check_input_files, check_options, resolve_device

__all__ = ["DEFAULTS", "TINY", "build_parser", "resolve", "resolve_device", "Log"]

#: default settings: the whole run takes a few minutes on a 2-core CPU
DEFAULTS = dict(
    nside=32, levels=2, widths="2,1;4,2;8,4", epochs=2, batch_size=2, lr=1e-2,
    vd_hidden="2,1", vd_epochs=5, vd_batch_size=4, vd_lr=6e-2, train_months=0, test_months=0,
    rotations=4, angles="0,30,60,90,120,150,180", curve_months=6, arrow_nside=8,
)
#: ``--tiny``: nside 8 (pooled from the data), a few months, one epoch: seconds
TINY = dict(
    nside=8, levels=2, widths="2,1;2,1", epochs=1, batch_size=2, lr=1e-2,
    vd_hidden="2,1", vd_epochs=1, vd_batch_size=4, vd_lr=6e-2, train_months=8, test_months=4,
    rotations=2, angles="0,90,180", curve_months=2, arrow_nside=4,
)


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only where there is a default to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def build_parser(prog: str = "python -m fiberconv.examples.wind") -> argparse.ArgumentParser:
    """The command line of ``python -m fiberconv.examples.wind`` (console script ``fiberconv-wind``)."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Equivariant CNNs on real winds (HEALPix): vorticity/divergence from the wind, and wind "
                    "downscaling nside 8 -> 32 with an equivariant vector-field U-Net against a baseline that "
                    "treats (u, v) as two scalars, tested on rotated globes.",
        formatter_class=_HelpFormatter,
    )
    g = p.add_argument_group("run")
    g.add_argument("--out", default="out/wind", help="output folder (table, results.json, figures)")
    g.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1")
    g.add_argument("--seed", type=int, default=0, help="random seed (initialisation, batches, rotations)")
    g.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (0: torch's default). The convolutions here are memory-bound gathers; on "
                        "a busy 2-core machine one thread ran 3x faster than two")
    g.add_argument("--tiny", action="store_true", help="tiny settings (nside 8, a few months, 1 epoch): seconds")
    g.add_argument("--no-plots", action="store_true", help="skip the figures")
    g.add_argument("--no-latitude", action="store_true", help="skip the two models with latitude as an input")
    g.add_argument("--quiet", action="store_true", help="no progress bar or stage messages (the table is printed)")
    d = p.add_argument_group("data")
    d.add_argument("--data", nargs="*", default=None,
                   help="wind data: an .npz of make_data.py or lat-lon NetCDF file(s) with u/v "
                        "(default: the committed Navy winds)")
    d.add_argument("--u-name", default=None, help="NetCDF eastward-wind variable (default: found by name)")
    d.add_argument("--v-name", default=None, help="NetCDF northward-wind variable (default: found by name)")
    d.add_argument("--test-from", type=int, default=1991, help="first test year; earlier years are training data")
    s = p.add_argument_group("settings (defaults differ with --tiny: " + ", ".join(f"{k}={v}" for k, v in TINY.items()) + ")")
    s.add_argument("--nside", type=int, help=f"working resolution; the data is pooled to it [{DEFAULTS['nside']}]")
    s.add_argument("--levels", type=int,
                   help=f"poolings from the fine to the coarse input (nside / 2^levels) [{DEFAULTS['levels']}]")
    s.add_argument("--widths", help=f"U-Net widths 'n_scalars,n_vectors;...' per level [{DEFAULTS['widths']}]")
    s.add_argument("--epochs", type=int,
                   help=f"epochs per downscaling model (0: evaluate the untrained models) [{DEFAULTS['epochs']}]")
    s.add_argument("--batch-size", type=int, help=f"months per batch [{DEFAULTS['batch_size']}]")
    s.add_argument("--lr", type=float, help=f"Adam learning rate (cosine decay) [{DEFAULTS['lr']}]")
    s.add_argument("--vd-hidden", help=f"vorticity/divergence net: hidden 'n_scalars,n_vectors' [{DEFAULTS['vd_hidden']}]")
    s.add_argument("--vd-epochs", type=int, help=f"epochs of the vorticity/divergence net [{DEFAULTS['vd_epochs']}]")
    s.add_argument("--vd-batch-size", type=int, help=f"its months per batch [{DEFAULTS['vd_batch_size']}]")
    s.add_argument("--vd-lr", type=float, help=f"its Adam learning rate (cosine decay) [{DEFAULTS['vd_lr']}]")
    s.add_argument("--train-months", type=int, help="use only the last N training months (0: all) [0]")
    s.add_argument("--test-months", type=int, help="use only the first N test months (0: all) [0]")
    s.add_argument("--rotations", type=int,
                   help=f"random rotations of the test set (month i gets rotation i mod K) [{DEFAULTS['rotations']}]")
    s.add_argument("--angles",
                   help=f"rotation angles (deg, about the x-axis) for the error-vs-angle curve [{DEFAULTS['angles']}]")
    s.add_argument("--curve-months", type=int, help=f"test months (evenly spaced) for the curve [{DEFAULTS['curve_months']}]")
    s.add_argument("--arrow-nside", type=int,
                   help=f"arrows on the maps at the pixel centres of this nside [{DEFAULTS['arrow_nside']}]")
    return p


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the settings left unset from :data:`TINY` or :data:`DEFAULTS` and check them: SystemExit on bad values.
    Idempotent."""
    base = TINY if args.tiny else DEFAULTS
    for k, v in base.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.widths_list = _parse_pairs(args.widths, "--widths")
    args.vd_hidden_pair = _parse_pairs(args.vd_hidden, "--vd-hidden")[0]
    try:
        args.angle_list = [float(a) for a in str(args.angles).split(",") if a.strip()]
    except ValueError:
        args.angle_list = []
    if not args.angle_list or not all(math.isfinite(a) for a in args.angle_list):
        raise SystemExit(f"--angles: expected comma-separated degrees, got {args.angles!r}")
    check_options(args, _exit, positive=("batch_size", "vd_batch_size", "rotations", "curve_months", "levels",
                                         "nside", "arrow_nside"),
                  nonnegative=("epochs", "vd_epochs", "train_months", "test_months", "threads"),
                  positive_float=("lr", "vd_lr"))
    for name in ("nside", "arrow_nside"):
        value = getattr(args, name)
        if value & (value - 1):
            raise SystemExit(f"--{name.replace('_', '-')} must be a power of two (HEALPix NESTED), got {value}")
    if args.nside < 2 ** args.levels:
        raise SystemExit(f"--levels {args.levels}: cannot pool nside {args.nside} that often (need nside >= "
                         f"2^levels = {2 ** args.levels})")
    if args.data:
        check_input_files(args.data, _exit, "--data", "wind file (.npz of make_data.py or NetCDF)")
        if len(args.data) > 1 and any(str(d).endswith(".npz") for d in args.data):
            raise SystemExit("--data: give one .npz data set, or NetCDF file(s); not both")
    return args


def _exit(message: str):
    raise SystemExit(message)


def _parse_pairs(text: str, flag: str) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(int(v) for v in part.split(",")) for part in str(text).split(";") if part.strip()]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 0 or sum(p) == 0 for p in pairs):
        raise SystemExit(f"{flag}: expected 'n_scalars,n_vectors;...' with non-negative integers, got {text!r}")
    return pairs


# ------------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------------
class Log:
    """Stage messages with the elapsed time (stdout) and tqdm progress bars (stderr); ``--quiet`` silences both."""

    def __init__(self, quiet: bool = False, stream=None):
        self.t0 = time.time()
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr

    def elapsed(self) -> float:
        return time.time() - self.t0

    def __call__(self, msg: str):
        if not self.quiet:
            print(f"[{self.elapsed():6.1f}s] {msg}", flush=True)

    def progress(self, total: int, label: str):
        """A tqdm bar (:func:`fiberconv.examples._progress.progress`) on ``stream``, off when quiet."""
        from .._progress import progress

        return progress(total, label, quiet=self.quiet, stream=self.stream)

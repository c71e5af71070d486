"""Option and training checks shared by the command-line examples: every option is checked before any long
work, a bad option or file ends the program with one line naming it (``parser.error``: usage, message, exit
status 2), and a diverging training says so instead of blaming the data. The value checks themselves are
:mod:`fiberconv.validation`'s."""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable

import torch

from ..validation import check_nonnegative_float, check_nonnegative_int, check_positive_float, check_positive_int

__all__ = ["option_flag", "resolve_device", "check_options", "check_output_dir", "check_input_files", "check_loss",
           "check_parameters"]


def option_flag(dest: str) -> str:
    """``"--batch-per-class"`` from the argparse destination ``"batch_per_class"``."""
    return "--" + dest.replace("_", "-")


def check_options(args, error: Callable[[str], object], *, positive: Iterable[str] = (),
                  nonnegative: Iterable[str] = (), positive_float: Iterable[str] = (),
                  nonnegative_float: Iterable[str] = ()) -> None:
    """Check the numeric options of an argparse ``Namespace`` by destination name; options that are ``None``
    (unset) are skipped. ``error`` is ``parser.error`` (usage, the message, exit status 2) or any callable that
    raises. Messages name the flag: ``"--steps must be a positive int, got 0"``. Floats must be finite (not
    NaN, not infinite)."""
    checks = [(positive, check_positive_int), (nonnegative, check_nonnegative_int),
              (positive_float, check_positive_float), (nonnegative_float, check_nonnegative_float)]
    for dests, check in checks:
        for dest in dests:
            value = getattr(args, dest)
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if v is None:
                    continue
                try:
                    check(v, option_flag(dest))
                except ValueError as e:  # ArgumentTypeError is a ValueError too
                    error(str(e))
                    raise SystemExit(2) from e  # in case ``error`` returned


def check_output_dir(path, error: Callable[[str], object], option: str = "--out") -> None:
    """Create the output folder ``path`` now (before the long work), or ``error("--out PATH: ...")`` when it
    cannot be: a file of that name exists, no permission, ..."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        error(f"{option} {path}: cannot create the output folder ({e.strerror or e})")
        raise SystemExit(2) from e
    if not os.access(path, os.W_OK):
        error(f"{option} {path}: the output folder is not writable")
        raise SystemExit(2)


def check_input_files(paths: Iterable, error: Callable[[str], object], option: str, what: str = "file") -> None:
    """``error("--data PATH: no such file")`` unless every path is an existing, readable file."""
    for path in paths:
        if not os.path.isfile(path):
            kind = "is a folder, expected a " + what if os.path.isdir(path) else f"no such {what}"
            error(f"{option} {path}: {kind}")
            raise SystemExit(2)
        if not os.access(path, os.R_OK):
            error(f"{option} {path}: not readable")
            raise SystemExit(2)


def check_loss(loss, what: str = "training", hint: str = "try a smaller --lr") -> float:
    """Return the loss as a ``float``; raise ``SystemExit`` with ``"<what> diverged: the loss is nan ...; <hint>"``
    when it is NaN or infinite. For the training loops of command-line tools: the inputs were checked when
    they were read, so a non-finite loss means the optimisation diverged (typically a learning rate too
    large), not that the data is bad."""
    value = float(loss.detach() if isinstance(loss, torch.Tensor) else loss)
    if not math.isfinite(value):
        raise SystemExit(f"{what} diverged: the loss is {value}; {hint}")
    return value


def check_parameters(model: torch.nn.Module, what: str = "training", hint: str = "try a smaller --lr") -> None:
    """SystemExit ``"<what> diverged: ..."`` when a parameter or floating buffer (e.g. batch-norm running
    statistics) of ``model`` is NaN or infinite: for the end of a training loop, where the last optimiser step
    can leave non-finite weights behind a finite loss, or overflowing features non-finite running statistics."""
    # buffers a module lists in ``setting_buffers`` hold settings, not statistics (LieConv's radius may be inf)
    settings = {f"{prefix}.{b}" if prefix else b for prefix, mod in model.named_modules()
                for b in getattr(mod, "setting_buffers", ())}
    named = list(model.named_parameters()) + [(n, b) for n, b in model.named_buffers()
                                              if b.is_floating_point() and b.layout == torch.strided
                                              and n not in settings]
    bad = [name for name, p in named if not bool(torch.isfinite(p.detach()).all())]
    if bad:
        raise SystemExit(f"{what} diverged: non-finite weights or statistics in {', '.join(bad[:3])}"
                         f"{' and more' if len(bad) > 3 else ''}; {hint}")


def resolve_device(name: str, option: str = "--device") -> torch.device:
    """``torch.device(name)``, or SystemExit naming the option when it is malformed or not available here."""
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise SystemExit(f"{option} {name}: not a torch device (expected e.g. cpu, cuda, cuda:1): {e}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"{option} {name}: CUDA is not available in this torch build / on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise SystemExit(f"{option} {name}: MPS is not available")
    return device

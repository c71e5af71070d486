r"""Argument and tensor validation shared by every public entry point, and the library's NaN policy.

This module imports only ``torch`` and ``numpy``, so every package (``spaces``, ``bundles``,
``fields``, ``nn``) can use it. Every check raises with the argument's name, what was expected and
what was given, prefixed by ``who`` (the class or function that was called) where one is passed.

NaN / Inf policy
----------------
* **Forward passes** of layers check only what is free: type, number of dimensions, shape, dtype and
  device (no device synchronisation, nothing that reads tensor values, so they are compatible with
  ``torch.compile`` and never stall CUDA). They propagate NaN and Inf like ``torch.nn`` layers do: a
  NaN in the input gives NaN at the outputs that depend on it (for a convolution: at the input
  point's neighbours) and never a finite wrong answer.
* Where a NaN would *not* propagate honestly — padding points of a LieConv cloud, where
  ``NaN * 0 = NaN`` would poison every output — padding is masked with ``torch.where``, never by
  multiplying with a 0/1 mask, so values at masked points never reach any output.
* **Data entry points** that are not forward passes check that values are finite: numeric
  constructor arguments (radius, lmax, nside, ...), loaders and regridding. Call
  :func:`check_finite` yourself to check a tensor before it enters a network.

Command-line tools
------------------
The examples' command lines check every option *before* any long work and answer a bad one with a one-line
message that names it and an exit status != 0, never a traceback: :func:`check_options` (ranges of numeric
options, through ``parser.error``), :func:`check_output_dir` and :func:`check_input_files`. During training,
:func:`check_loss` stops a run whose loss is no longer finite, and :func:`check_parameters` one whose last
step left non-finite weights, saying that the training diverged (the inputs were checked when they were
read) and suggesting a smaller learning rate.
"""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "ArgumentTypeError", "check_int", "check_positive_int", "check_nonnegative_int", "check_float",
    "check_positive_float", "check_nonnegative_float", "check_tensor", "check_floating", "check_matches",
    "check_finite", "format_shape", "option_flag", "check_options", "check_output_dir", "check_input_files",
    "check_loss", "check_parameters",
]

# one named or fixed dimension of an expected shape: an int (must match), a str (any size, named in
# messages) or ``...`` (any number of further dimensions; at most once, at the end)
Dim = int | str | type(Ellipsis)


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. Also a ``ValueError``: callers catching either keep working."""


def _prefix(who: str | None) -> str:
    return f"{who}: " if who else ""


# -- numbers ---------------------------------------------------------------------------------------
def check_int(value, name: str, minimum: int | None = None, *, who: str | None = None,
              expected: str | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum``; else raise.

    ``expected`` replaces the default description (``"an int >= minimum"``) in the message.
    Non-integers raise :class:`ArgumentTypeError`, integers below ``minimum`` ``ValueError``.
    """
    if expected is None:
        expected = "an int" if minimum is None else f"an int >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{_prefix(who)}{name} must be {expected}, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{_prefix(who)}{name} must be {expected}, got {value!r}")
    return int(value)


def check_positive_int(value, name: str, *, who: str | None = None) -> int:
    """:func:`check_int` with ``minimum=1``: ``"<name> must be a positive int, got ..."``."""
    return check_int(value, name, 1, who=who, expected="a positive int")


def check_nonnegative_int(value, name: str, *, who: str | None = None) -> int:
    """:func:`check_int` with ``minimum=0``: ``"<name> must be a non-negative int, got ..."``."""
    return check_int(value, name, 0, who=who, expected="a non-negative int")


def check_float(value, name: str, *, minimum: float | None = None, strict: bool = False, allow_inf: bool = False,
                who: str | None = None, expected: str | None = None) -> float:
    """Return ``value`` as a ``float`` if it is a real number (not a bool), not NaN, finite unless
    ``allow_inf``, and ``> minimum`` (``strict``) or ``>= minimum``; else raise.

    0-d tensors and numpy scalars are accepted. NaN is always rejected.
    """
    if expected is None:
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
        expected = f"a {'' if allow_inf else 'finite '}number{bound}"
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0 and not value.dtype == torch.bool:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{_prefix(who)}{name} must be {expected}, got {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v) or (not allow_inf and math.isinf(v)) or (
            minimum is not None and (v <= minimum if strict else v < minimum)):
        raise ValueError(f"{_prefix(who)}{name} must be {expected}, got {value!r}")
    return v


def check_positive_float(value, name: str, *, allow_inf: bool = False, who: str | None = None) -> float:
    """:func:`check_float` with ``> 0``: ``"<name> must be a positive finite number, got ..."``."""
    return check_float(value, name, minimum=0.0, strict=True, allow_inf=allow_inf, who=who,
                       expected=f"a positive {'' if allow_inf else 'finite '}number")


def check_nonnegative_float(value, name: str, *, allow_inf: bool = False, who: str | None = None) -> float:
    """:func:`check_float` with ``>= 0``: ``"<name> must be a non-negative finite number, got ..."``."""
    return check_float(value, name, minimum=0.0, allow_inf=allow_inf, who=who,
                       expected=f"a non-negative {'' if allow_inf else 'finite '}number")


# -- tensors ---------------------------------------------------------------------------------------
def format_shape(dims: Sequence[Dim]) -> str:
    """``(batch, 7, 3072)`` from ``("batch", 7, 3072)``; ``...`` is written as ``...``."""
    parts = ["..." if d is Ellipsis else str(d) for d in dims]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def _shape_ok(shape: tuple, dims: Sequence[Dim]) -> bool:
    dims = list(dims)
    if dims and dims[-1] is Ellipsis:
        fixed = dims[:-1]
        if len(shape) < len(fixed):
            return False
    else:
        fixed = dims
        if len(shape) != len(fixed):
            return False
    return all(not isinstance(d, int) or isinstance(d, bool) or s == d for s, d in zip(shape, fixed))


def check_tensor(x, name: str = "input", shape: Sequence[Dim] | None = None, *, floating: bool = True,
                 dtype: torch.dtype | None = None, context: str = "", who: str | None = None) -> torch.Tensor:
    """Check that ``x`` is a ``torch.Tensor`` of the expected shape and dtype; return it.

    Parameters
    ----------
    name : what ``x`` is, in messages (``"input"``, ``"points x"``, ...)
    shape : the expected dimensions: ints must match, strings name free dimensions, a final ``...``
        allows any number of further dimensions. E.g. ``("batch", 7, 3072)``.
    floating : require a floating dtype (``TypeError`` otherwise)
    dtype : require exactly this dtype
    context : appended after the shape, e.g. ``" for FieldType(...) on HealpixGrid(nside=16, NESTED)"``

    Only metadata is read (no device synchronisation): safe in forward passes.
    """
    p = _prefix(who)
    if not isinstance(x, torch.Tensor):
        raise ArgumentTypeError(f"{p}expected {name} to be a torch.Tensor{context}, got {type(x).__name__}")
    if shape is not None and not _shape_ok(tuple(x.shape), shape):
        raise ValueError(f"{p}expected {name} of shape {format_shape(shape)}{context}, got {tuple(x.shape)}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{p}expected {name} of dtype {dtype}{context}, got dtype {x.dtype}")
    if floating and dtype is None and not x.is_floating_point():
        raise TypeError(f"{p}expected {name} to be a floating-point tensor (e.g. torch.float32){context}, "
                        f"got dtype {x.dtype}")
    return x


def check_floating(x, name: str = "input", *, who: str | None = None) -> torch.Tensor:
    """:func:`check_tensor` with no shape: a floating ``torch.Tensor``."""
    return check_tensor(x, name, who=who)


def check_matches(x: torch.Tensor, reference: torch.Tensor | torch.nn.Module | None, name: str = "input", *,
                  dtype: bool = True, device: bool = True, against: str = "the layer",
                  who: str | None = None) -> torch.Tensor:
    """Check that ``x`` has the dtype and/or device of ``reference`` (a tensor, or a module's first
    parameter or buffer; nothing to check if it has none); return ``x``. Metadata only."""
    if isinstance(reference, torch.nn.Module):
        reference_module = reference
        reference = next(iter(reference.parameters()), None)
        if reference is None:
            reference = next(iter(reference_module.buffers()), None)
    if reference is None:
        return x
    bad_dtype = dtype and x.dtype != reference.dtype
    bad_device = device and x.device != reference.device
    if bad_dtype or bad_device:
        raise TypeError(
            f"{_prefix(who)}{name} is {x.dtype} on {x.device} but {against} is {reference.dtype} on "
            f"{reference.device}; convert one of them (e.g. layer.to(x))"
        )
    return x


def check_finite(x, what: str = "input", *, who: str | None = None):
    """Raise ``ValueError`` if the tensor or array ``x`` contains NaN or Inf; return ``x``.

    Reads the values (a device synchronisation on CUDA): for data entry points, not forward passes.
    """
    if isinstance(x, torch.Tensor):
        if x.numel() and not bool(torch.isfinite(x).all()):
            n = int((~torch.isfinite(x)).sum())
            raise ValueError(f"{_prefix(who)}{what} contains NaN or infinite values ({n} of {x.numel()})")
        return x
    arr = np.asarray(x)
    if arr.size and np.issubdtype(arr.dtype, np.number) and not np.isfinite(arr).all():
        n = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{_prefix(who)}{what} contains NaN or infinite values ({n} of {arr.size})")
    return x


# -- command-line options ----------------------------------------------------------------------------
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
    named = list(model.named_parameters()) + [(n, b) for n, b in model.named_buffers()
                                              if b.is_floating_point() and b.layout == torch.strided]
    bad = [name for name, p in named if not bool(torch.isfinite(p.detach()).all())]
    if bad:
        raise SystemExit(f"{what} diverged: non-finite weights or statistics in {', '.join(bad[:3])}"
                         f"{' and more' if len(bad) > 3 else ''}; {hint}")

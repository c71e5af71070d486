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
* **Group elements** given to a function that assumes them (``SO3.log``, ``wigner_D``, induced
  representations, equivariance checkers) are checked once per call by the group's
  ``check_element`` (:func:`check_orthogonal`): one reduction and one device synchronisation, to the
  tolerance :func:`element_tolerance` of their dtype. Layer forward passes never do this.
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
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "ArgumentTypeError", "check_int", "check_positive_int", "check_nonnegative_int", "check_float",
    "check_positive_float", "check_nonnegative_float", "check_tensor", "check_floating", "check_matches",
    "check_finite", "format_shape", "check_dtype", "check_shape_arg", "element_tolerance", "check_orthogonal",
    "as_native_array", "broadcast", "EquivarianceWarning",
]

# one named or fixed dimension of an expected shape: an int (must match), a str (any size, named in
# messages) or ``...`` (any number of further dimensions; at most once, at the end)
Dim = int | str | type(Ellipsis)


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. Also a ``ValueError``: callers catching either keep working."""


class EquivarianceWarning(UserWarning):
    """A layer is called where a documented condition of its exact equivariance fails (checked from
    shapes only, e.g. a strided window that does not tile the grid symmetrically); the result is
    correct as a computation but not equivariant. Turn it into an error with
    ``warnings.simplefilter("error", EquivarianceWarning)``."""


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


# -- dtypes, shape arguments, arrays ------------------------------------------------------------------
def check_dtype(dtype, name: str = "dtype", *, floating: bool = True, who: str | None = None,
                default: torch.dtype | None = None) -> torch.dtype:
    """Return ``dtype`` (``default`` if None, else ``torch.get_default_dtype()``) if it is a
    ``torch.dtype``, floating-point where ``floating`` (outputs that are real numbers: coordinates,
    weights, parameters); else raise naming what was expected."""
    if dtype is None:
        return torch.get_default_dtype() if default is None else default
    if not isinstance(dtype, torch.dtype):
        raise ArgumentTypeError(f"{_prefix(who)}{name} must be a torch.dtype, got {type(dtype).__name__} {dtype!r}")
    if floating and not dtype.is_floating_point:
        raise TypeError(f"{_prefix(who)}{name} must be a floating-point dtype (torch.float32 or torch.float64): "
                        f"the values are real numbers, got {dtype}")
    return dtype


def check_shape_arg(shape, name: str = "batch_shape", *, who: str | None = None) -> tuple:
    """A shape argument (an int or a sequence of ints ``>= 0``) as a tuple; else raise."""
    dims = (shape,) if isinstance(shape, numbers.Integral) and not isinstance(shape, bool) else shape
    try:
        dims = tuple(dims)
    except TypeError:
        raise ArgumentTypeError(f"{_prefix(who)}{name} must be an int or a sequence of non-negative ints, "
                                f"got {type(shape).__name__} {shape!r}") from None
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral) or d < 0:
            raise ValueError(f"{_prefix(who)}{name} must be an int or a sequence of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


#: absolute tolerance on the entries of ``g g^T - I`` (and on exact parts such as a bottom row) per dtype
_ELEMENT_TOL = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 1e-2}


def element_tolerance(dtype: torch.dtype) -> float:
    """The library's one tolerance for "is this a group element / a grid symmetry up to rounding" in
    ``dtype``: ``1e-10`` (float64), ``1e-5`` (float32), ``1e-2`` (half precision). Entries of
    rotations are at most 1, so it is a relative tolerance too."""
    return _ELEMENT_TOL.get(dtype, 1e-5)


def check_orthogonal(R: torch.Tensor, name: str = "g", *, det: bool = True, what: str = "rotation matrices",
                     extra: torch.Tensor | None = None, extra_what: str = "", who: str | None = None) -> torch.Tensor:
    """Raise ``ValueError`` unless every ``R (..., n, n)`` is orthogonal (``|R R^T - I| <= tol``) with
    ``det R = +1`` (if ``det``), ``tol = element_tolerance(R.dtype)``; return ``R``.

    ``extra`` (optional, any shape) holds further deviations that must be ``<= tol`` in absolute value
    (e.g. a homogeneous matrix's bottom row minus ``(0, ..., 0, 1)``), described by ``extra_what``.
    Reads the values: one reduction and one device synchronisation per call (not for forward passes).
    """
    if R.numel() == 0:
        return R
    tol = element_tolerance(R.dtype)
    n = R.shape[-1]
    with torch.no_grad():
        Rd = R.detach()
        eye = torch.eye(n, dtype=R.dtype, device=R.device)
        parts = [(Rd @ Rd.transpose(-1, -2) - eye).abs().amax()]
        if det:
            parts.append((torch.linalg.det(Rd.double() if R.dtype in (torch.float16, torch.bfloat16) else Rd)
                          .to(R.dtype) - 1).abs().amax())
        if extra is not None and extra.numel():
            parts.append(extra.detach().abs().amax().to(R.dtype))
        errs = torch.stack(parts).tolist()  # the one synchronisation
    bad = [e for e in errs if not e <= tol]  # NaN fails too
    if bad:
        msg = f"|{name} {name}^T - I| = {errs[0]:.3g}"
        if det:
            msg += f", |det {name} - 1| = {errs[1]:.3g}"
        if extra is not None and extra.numel():
            msg += f", {extra_what} off by {errs[-1]:.3g}"
        hint = ("; a rotation computed in lower precision can be re-orthogonalised (U V^T from torch.linalg.svd)"
                if max(errs) < 1e-3 else "")
        raise ValueError(f"{_prefix(who)}{name} must hold {what} (orthogonal{', det = +1' if det else ''}, to "
                         f"{tol:g} in {R.dtype}), got {msg}{hint}")
    return R


def as_native_array(a, name: str = "array", *, who: str | None = None) -> np.ndarray:
    """``a`` (a numpy array, a masked array, a list, ...) as a numpy array in native byte order, ready for
    ``torch.from_numpy`` (which refuses non-native byte orders, e.g. the big-endian arrays of FITS files
    that ``healpy.read_map`` returns). Masked entries become NaN for floating arrays."""
    if isinstance(a, np.ma.MaskedArray):
        a = a.filled(np.nan) if np.issubdtype(a.dtype, np.floating) else a.filled()
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise ArgumentTypeError(f"{_prefix(who)}{name} must be array-like, got {type(a).__name__}: {e}") from None
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype == object:
        raise ArgumentTypeError(f"{_prefix(who)}{name} must be a numeric array, got an object array")
    return arr


def broadcast(tensors: Sequence[torch.Tensor], names: Sequence[str], *, who: str | None = None) -> tuple:
    """``torch.broadcast_tensors(*tensors)``, raising ``ValueError`` that names the arguments and their
    shapes where they do not broadcast together. Metadata only."""
    try:
        return tuple(torch.broadcast_tensors(*tensors))
    except RuntimeError:
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in zip(names, tensors))
        raise ValueError(f"{_prefix(who)}{', '.join(names)} must have shapes that broadcast together, "
                         f"got {shapes}") from None

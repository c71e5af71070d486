r"""Elementary helpers of the matrix groups (:mod:`fiberconv.spaces.groups`, :mod:`.lie_groups`):
axis rotations, ``hat``/``vee``, seeded generators, shape checks, and the series of ``exp``/``log``.

Series and cutoffs
------------------
The coefficients of Rodrigues' formula and of the Jacobians are evaluated without cancellation where
an identity allows it (``1 - cos t = 2 sin^2(t/2)``, so ``(1 - cos t) / t^2 = sinc(t/2)^2 / 2`` is
accurate for every ``t``); the others (``(t - sin t) / t^3``, ``(1 - (t/2) cot(t/2)) / t^2``) lose
``eps / t^2`` of relative accuracy to cancellation, so below a cutoff that depends on the dtype
(:func:`series_cutoff2`) they are replaced by a Taylor series that is accurate to rounding there.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from ..validation import check_dtype, check_shape_arg

Seed = int | torch.Generator | None


def make_generator(seed: Seed, device: str | torch.device | None = None) -> torch.Generator | None:
    """Return a ``torch.Generator`` on ``device`` from an int seed, pass a generator through, or None."""
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, a torch.Generator or None, got {type(seed).__name__}")
    gen = torch.Generator(device=torch.device(device) if device is not None else "cpu")
    gen.manual_seed(seed)
    return gen


def _float_dtype(dtype: torch.dtype | None) -> torch.dtype:
    return check_dtype(dtype, "dtype", who="group elements")


def _batch(batch_shape) -> tuple:
    return check_shape_arg(batch_shape, "batch_shape")


def _check_tail(name: str, x: torch.Tensor, tail: Sequence[int], what: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of {what}, got {type(x).__name__}")
    if x.dim() < len(tail) or tuple(x.shape[x.dim() - len(tail):]) != tuple(tail):
        raise ValueError(
            f"{name}: expected {what} of shape (..., {', '.join(map(str, tail))}), got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected {what} with a floating dtype (e.g. torch.float64), got dtype {x.dtype}")


def rot_z(angle: torch.Tensor) -> torch.Tensor:
    """Rotation about the z-axis: ``(...,) -> (..., 3, 3)``."""
    c, s = torch.cos(angle), torch.sin(angle)
    o, z = torch.ones_like(angle), torch.zeros_like(angle)
    return torch.stack([c, -s, z, s, c, z, z, z, o], dim=-1).reshape(angle.shape + (3, 3))


def rot_y(angle: torch.Tensor) -> torch.Tensor:
    """Rotation about the y-axis: ``(...,) -> (..., 3, 3)``."""
    c, s = torch.cos(angle), torch.sin(angle)
    o, z = torch.ones_like(angle), torch.zeros_like(angle)
    return torch.stack([c, z, s, z, o, z, -s, z, c], dim=-1).reshape(angle.shape + (3, 3))


def rot_x(angle: torch.Tensor) -> torch.Tensor:
    """Rotation about the x-axis: ``(...,) -> (..., 3, 3)``."""
    c, s = torch.cos(angle), torch.sin(angle)
    o, z = torch.ones_like(angle), torch.zeros_like(angle)
    return torch.stack([o, z, z, z, c, -s, z, s, c], dim=-1).reshape(angle.shape + (3, 3))


def _hat(w: torch.Tensor) -> torch.Tensor:
    """``(..., 3) -> (..., 3, 3)`` skew matrix with ``hat(w) x = w x x``."""
    x, y, z = w.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(w.shape[:-1] + (3, 3))


def _vee(k: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_hat` applied to the skew part of ``k``."""
    return 0.5 * torch.stack(
        [k[..., 2, 1] - k[..., 1, 2], k[..., 0, 2] - k[..., 2, 0], k[..., 1, 0] - k[..., 0, 1]], dim=-1
    )


def series_cutoff2(dtype: torch.dtype) -> float:
    r"""``t^2`` below which the cancelling coefficients use their series: where the formula's
    cancellation error ``~ eps / t^2`` exceeds the truncation error of a 4-term series."""
    return 1e-2 if dtype == torch.float64 else 0.25


def sinc(t: torch.Tensor) -> torch.Tensor:
    """``sin(t) / t`` (1 at 0), accurate and with finite gradients everywhere."""
    t2 = t * t
    small = t2 < 1e-4
    ts = torch.where(small, torch.ones_like(t), t)
    return torch.where(small, 1 - t2 / 6 + t2 * t2 / 120 - t2**3 / 5040, torch.sin(ts) / ts)


def one_minus_cos_over_t2(t: torch.Tensor) -> torch.Tensor:
    """``(1 - cos t) / t^2 = sinc(t/2)^2 / 2``: no cancellation at small ``t``."""
    s = sinc(t / 2)
    return 0.5 * s * s


def t_minus_sin_over_t3(theta2: torch.Tensor) -> torch.Tensor:
    """``(t - sin t) / t^3`` as a function of ``t^2``, series below :func:`series_cutoff2`."""
    small = theta2 < series_cutoff2(theta2.dtype)
    t2 = torch.where(small, torch.ones_like(theta2), theta2)
    t = torch.sqrt(t2)
    x = theta2
    series = 1.0 / 6 - x / 120 + x * x / 5040 - x**3 / 362880 + x**4 / 39916800
    return torch.where(small, series, (t - torch.sin(t)) / (t2 * t))


def se3_jinv_coeff(theta2: torch.Tensor) -> torch.Tensor:
    """``(1 - (t/2) cot(t/2)) / t^2`` as a function of ``t^2`` (``J^{-1} = I - K/2 + d K^2``)."""
    small = theta2 < series_cutoff2(theta2.dtype)
    t2 = torch.where(small, torch.ones_like(theta2), theta2)
    half = torch.sqrt(t2) / 2
    x = theta2
    series = 1.0 / 12 + x / 720 + x * x / 30240 + x**3 / 1209600 + x**4 / 47900160
    return torch.where(small, series, (1 - half * torch.cos(half) / torch.sin(half)) / t2)


def half_cot_half(w: torch.Tensor) -> torch.Tensor:
    """``(w/2) cot(w/2)`` (1 at 0): ``(w/2) / tan(w/2)`` has no cancellation; a series only near 0."""
    half = w / 2
    h2 = half * half
    small = h2 < 1e-4
    hs = torch.where(small, torch.ones_like(half), half)
    return torch.where(small, 1 - h2 / 3 - h2 * h2 / 45, hs * torch.cos(hs) / torch.sin(hs))

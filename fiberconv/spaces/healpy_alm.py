r"""Real spherical-harmonic coefficients <-> healpy's complex ``alm``.

healpy's complex harmonics carry the Condon-Shortley phase, ``Y^{hp}_{lm} = (-1)^m \bar P_{lm} e^{i m phi}``
(``m >= 0``), and a real map is ``a_{l0} Y_{l0} + \sum_{m>0} 2 Re(a_{lm} Y^{hp}_{lm})``; ours are real,
orthonormal and Condon-Shortley-free (:mod:`fiberconv.spaces.harmonics`), flattened as ``c[l^2 + l + m]``.
The conversion is derived in :mod:`fiberconv.spaces.sht`'s docstring.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..validation import check_int
from .harmonics import num_coefficients

__all__ = ["real_to_healpy_alm", "healpy_to_real_alm"]


def _healpy_index(lmax: int) -> tuple[np.ndarray, np.ndarray]:
    """``(l, m)`` arrays of healpy's alm layout ``idx = m (2 lmax + 1 - m) / 2 + l``."""
    ls, ms = [], []
    for m in range(lmax + 1):
        ls.append(np.arange(m, lmax + 1))
        ms.append(np.full(lmax + 1 - m, m))
    return np.concatenate(ls), np.concatenate(ms)


def real_to_healpy_alm(coeffs, lmax: int) -> np.ndarray:
    r"""Real coefficients ``(..., (lmax+1)^2)`` -> healpy complex ``alm`` ``(..., (lmax+1)(lmax+2)/2)``.

    ``a_{l0} = c_{l0}`` and ``a_{lm} = (-1)^m (c_{l,m} - i c_{l,-m}) / sqrt 2`` for ``m > 0``, so that
    ``healpy.alm2map(alm)`` equals our synthesis of ``coeffs`` (see the module docstring).
    """
    lmax = check_int(lmax, "lmax", 0)
    if isinstance(coeffs, torch.Tensor):
        coeffs = coeffs.detach().cpu().numpy()
    c = np.asarray(coeffs, dtype=np.float64)
    if c.ndim == 0 or c.shape[-1] != num_coefficients(lmax):
        raise ValueError(f"real_to_healpy_alm: expected coeffs of shape (..., {num_coefficients(lmax)}), got {c.shape}")
    ls, ms = _healpy_index(lmax)
    pos = c[..., ls * ls + ls + ms]
    neg = np.where(ms > 0, c[..., ls * ls + ls - ms], 0.0)
    sign = np.where(ms % 2 == 1, -1.0, 1.0)
    alm = np.where(ms > 0, sign * (pos - 1j * neg) / math.sqrt(2.0), pos + 0j)
    return np.ascontiguousarray(alm, dtype=np.complex128)


def healpy_to_real_alm(alm, lmax: int) -> np.ndarray:
    r"""healpy complex ``alm`` ``(..., (lmax+1)(lmax+2)/2)`` -> real coefficients ``(..., (lmax+1)^2)``.

    Inverse of :func:`real_to_healpy_alm`: ``c_{l,m} = sqrt 2 (-1)^m Re a_{lm}``,
    ``c_{l,-m} = -sqrt 2 (-1)^m Im a_{lm}`` (``m > 0``), ``c_{l0} = Re a_{l0}``.
    """
    lmax = check_int(lmax, "lmax", 0)
    a = np.asarray(alm)
    size = (lmax + 1) * (lmax + 2) // 2
    if a.ndim == 0 or a.shape[-1] != size:
        raise ValueError(f"healpy_to_real_alm: expected alm of shape (..., {size}) for lmax={lmax}, got {a.shape}")
    ls, ms = _healpy_index(lmax)
    sign = np.where(ms % 2 == 1, -1.0, 1.0)
    out = np.zeros(a.shape[:-1] + (num_coefficients(lmax),), dtype=np.float64)
    scale = np.where(ms > 0, math.sqrt(2.0), 1.0) * sign
    out[..., ls * ls + ls + ms] = scale * a.real
    pos_m = ms > 0
    lp, mp = ls[pos_m], ms[pos_m]
    out[..., lp * lp + lp - mp] = -scale[pos_m] * a[..., pos_m].imag
    return out

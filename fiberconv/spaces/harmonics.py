r"""Real spherical harmonics on S^2, the basis of every SO(3) irrep in fiberconv.

Convention
----------
Orthonormal on the unit sphere (``\int Y_{lm} Y_{l'm'} dA = \delta_{ll'} \delta_{mm'}``), **no**
Condon-Shortley phase, ordered ``m = -l, ..., l`` inside each degree and flattened with
``index(l, m) = l^2 + l + m``:

.. math::

    Y_{l,0} = \bar P_{l,0}(\cos\theta), \qquad
    Y_{l,m} = \sqrt{2}\,\bar P_{l,m}(\cos\theta)\cos(m\phi), \qquad
    Y_{l,-m} = \sqrt{2}\,\bar P_{l,m}(\cos\theta)\sin(m\phi) \quad (m > 0),

where ``\bar P_{l,m}(x) = \sqrt{\frac{2l+1}{4\pi}\frac{(l-m)!}{(l+m)!}} P_l^m(x)`` and ``P_l^m >= 0`` for
``sin(theta) > 0`` (no ``(-1)^m``). With it the degree-1 harmonics are ``sqrt(3/4pi) (y, z, x)``,
so ``D^1(R) = P R P^T`` with ``P`` the permutation ``(x, y, z) -> (y, z, x)``.

``theta`` is the colatitude, ``phi`` the longitude (the section's Euler angles ``beta`` and ``alpha``; docs/conventions.md).

The normalised associated Legendre functions are computed with the standard stable three-term
recurrences in ``\bar P``, which stay accurate to high degree in float64.
"""
from __future__ import annotations

import math

import torch

from ..validation import check_nonnegative_int, check_tensor

__all__ = ["num_coefficients", "lm_index", "legendre_normalized", "real_sph_harm", "real_sph_harm_xyz"]


def num_coefficients(lmax: int) -> int:
    """Number of real harmonics of degree ``0..lmax``: ``(lmax + 1)^2``."""
    return (lmax + 1) ** 2


def lm_index(l: int, m: int) -> int:
    """Flat index of ``Y_{l,m}``: ``l^2 + l + m``."""
    if abs(m) > l:
        raise ValueError(f"need |m| <= l, got l={l}, m={m}")
    return l * l + l + m


def _check_lmax(lmax: int) -> int:
    return check_nonnegative_int(lmax, "lmax")


def legendre_normalized(lmax: int, x: torch.Tensor) -> torch.Tensor:
    r"""``\bar P_{l,m}(x)`` for ``0 <= m <= l <= lmax``.

    Parameters
    ----------
    lmax : int
    x : Tensor, shape ``(...,)``, values in ``[-1, 1]`` (``cos(theta)``)

    Returns
    -------
    Tensor, shape ``(..., lmax + 1, lmax + 1)``; entry ``[..., l, m]`` holds ``\bar P_{l,m}(x)``
    (zero for ``m > l``).
    """
    _check_lmax(lmax)
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating tensor, got {x.dtype}")
    return _legendre(lmax, x, torch.sqrt((1 - x * x).clamp_min(0)))


def _legendre(lmax: int, x: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The recurrence of :func:`legendre_normalized` with ``sin(theta)`` given: ``sin = 1`` gives the
    polynomials ``\bar P_{l,m}(x) / sin^m(theta)``."""
    rows = [[None] * (lmax + 1) for _ in range(lmax + 1)]
    zero = torch.zeros_like(x)
    pmm = torch.full_like(x, 1.0 / math.sqrt(4 * math.pi))
    for m in range(lmax + 1):
        if m > 0:
            pmm = math.sqrt((2 * m + 1) / (2 * m)) * sin * pmm
        rows[m][m] = pmm
        if m + 1 <= lmax:
            rows[m + 1][m] = math.sqrt(2 * m + 3) * x * pmm
        for l in range(m + 2, lmax + 1):
            a = math.sqrt((4 * l * l - 1) / (l * l - m * m))
            b = math.sqrt(((l - 1) ** 2 - m * m) / (4 * (l - 1) ** 2 - 1))
            rows[l][m] = a * (x * rows[l - 1][m] - b * rows[l - 2][m])
    out = [torch.stack([rows[l][m] if m <= l else zero for m in range(lmax + 1)], dim=-1) for l in range(lmax + 1)]
    return torch.stack(out, dim=-2)


def real_sph_harm(lmax: int, theta: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics ``Y_{l,m}(theta, phi)``, ``l <= lmax``.

    Parameters
    ----------
    theta, phi : Tensor, broadcastable shapes ``(...,)``: colatitude and longitude in radians.

    Returns
    -------
    Tensor, shape ``(..., (lmax + 1)^2)`` in the order ``index(l, m) = l^2 + l + m``.
    """
    _check_lmax(lmax)
    theta, phi = torch.broadcast_tensors(theta, phi)
    plm = legendre_normalized(lmax, torch.cos(theta))  # (..., L+1, L+1)
    ms = torch.arange(1, lmax + 1, dtype=phi.dtype, device=phi.device)
    return _assemble(lmax, plm, torch.cos(phi.unsqueeze(-1) * ms), torch.sin(phi.unsqueeze(-1) * ms))


def _assemble(lmax: int, plm: torch.Tensor, cos_m: torch.Tensor, sin_m: torch.Tensor) -> torch.Tensor:
    """``Y`` from ``plm (..., L+1, L+1)`` and the azimuthal factors ``cos_m, sin_m (..., L)`` of ``m = 1..L``."""
    sqrt2 = math.sqrt(2.0)
    cols = []
    for l in range(lmax + 1):
        p = plm[..., l, : l + 1]
        neg = sqrt2 * p[..., 1:].flip(-1) * sin_m[..., :l].flip(-1)  # m = -l..-1
        pos = sqrt2 * p[..., 1:] * cos_m[..., :l]  # m = 1..l
        cols.append(torch.cat([neg, p[..., :1], pos], dim=-1))
    return torch.cat(cols, dim=-1)


def real_sph_harm_xyz(lmax: int, xyz: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics at the directions ``xyz (..., 3)`` (normalised here); see :func:`real_sph_harm`.

    Evaluated as polynomials in the unit vector (``sin^m(theta) cos(m phi) = Re (x + i y)^m`` times the
    polynomial part of ``\bar P_{l,m}``), without ``acos``/``atan2``: smooth, with finite exact gradients
    everywhere on the sphere, the poles included.
    """
    _check_lmax(lmax)
    check_tensor(xyz, "xyz", who="real_sph_harm_xyz")
    if xyz.shape[-1:] != (3,):
        raise ValueError(f"real_sph_harm_xyz: expected xyz of shape (..., 3), got {tuple(xyz.shape)}")
    u = xyz / torch.linalg.vector_norm(xyz, dim=-1, keepdim=True)
    x, y, z = u.unbind(-1)
    q = _legendre(lmax, z, torch.ones_like(z))
    cos_m, sin_m = [], []
    c, s = torch.ones_like(x), torch.zeros_like(x)
    for _ in range(lmax):
        c, s = c * x - s * y, s * x + c * y  # Re, Im of (x + i y)^m
        cos_m.append(c)
        sin_m.append(s)
    empty = x.new_zeros(x.shape + (0,))
    stack = (lambda t: torch.stack(t, dim=-1)) if lmax else (lambda t: empty)
    return _assemble(lmax, q, stack(cos_m), stack(sin_m))

r"""Clebsch-Gordan coefficients of SO(3) in the real basis of :mod:`fiberconv.spaces.wigner`.

Definition
----------
For degrees ``l1, l2`` and ``J`` with ``|l1 - l2| <= J <= l1 + l2`` the real Clebsch-Gordan matrix
``Q = Q^{J}_{l1, l2}`` has shape ``(2J+1, 2l1+1, 2l2+1)`` and, flattened to
``(2J+1, (2l1+1)(2l2+1))`` (row-major in ``(m1, m2)``), is the intertwiner

.. math::  Q \, \big(D^{l1}(R) \otimes D^{l2}(R)\big) = D^{J}(R)\, Q \qquad \text{for all } R \in SO(3),

with orthonormal rows, ``Q Q^T = I``. Here ``D^l`` are the real Wigner-D matrices of
:mod:`fiberconv.spaces.wigner` (``Y_l(R x) = D^l(R) Y_l(x)``, rows ``m = -l..l``). Stacked over
``J = |l1-l2|..l1+l2`` the ``Q`` form an orthogonal ``(2l1+1)(2l2+1)``-square matrix: the
decomposition ``D^{l1} (x) D^{l2} = sum_J D^J``.

Construction (closed form, no numerical null space)
---------------------------------------------------
1. The complex (Condon-Shortley) coefficients ``<l1 m1 l2 m2 | J M>`` from Racah's formula
   (:func:`complex_clebsch_gordan`, exact up to float64 rounding for the degrees used in CNNs).
2. The change of basis ``U_l`` from complex to real harmonics, ``Y^{real}_l = U_l Y^{complex}_l`` (the
   matrix of ``wigner._to_real``): ``D^l_{real} = U_l D^l_{complex} U_l^H``, so
   ``Q = U_J C (U_{l1} (x) U_{l2})^H`` intertwines the real matrices. It is real or purely imaginary
   as a whole; :func:`real_clebsch_gordan` returns its real part, or the real part of ``-i Q``.

The sign therefore follows the Condon-Shortley convention of ``C`` (``<l1 l1 l2 (J-l1) | J J> > 0``).
``tests/spaces/test_clebsch_gordan.py`` checks step 1 against ``sympy.physics.wigner`` and the
intertwining property against our Wigner-D and against lie_learn's (independent) real Wigner-D.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..validation import check_dtype
from .wigner import _check_l, _to_real

__all__ = ["complex_clebsch_gordan", "real_clebsch_gordan", "clebsch_gordan_table", "check_triangle"]


def check_triangle(l1: int, l2: int, J: int) -> tuple[int, int, int]:
    """Validate degrees and the triangle condition ``|l1 - l2| <= J <= l1 + l2``."""
    l1, l2, J = _check_l(l1, "l1"), _check_l(l2, "l2"), _check_l(J, "J")
    if not abs(l1 - l2) <= J <= l1 + l2:
        raise ValueError(f"Clebsch-Gordan: need |l1 - l2| <= J <= l1 + l2, got l1={l1}, l2={l2}, J={J}")
    return l1, l2, J


def _cg_coefficient(l1: int, m1: int, l2: int, m2: int, J: int, M: int) -> float:
    """Racah's formula for ``<l1 m1 l2 m2 | J M>`` (integer degrees)."""
    if m1 + m2 != M or abs(m1) > l1 or abs(m2) > l2 or abs(M) > J:
        return 0.0
    f = math.factorial
    pref = (2 * J + 1) * f(J + l1 - l2) * f(J - l1 + l2) * f(l1 + l2 - J) / f(l1 + l2 + J + 1)
    pref *= f(J + M) * f(J - M) * f(l1 - m1) * f(l1 + m1) * f(l2 - m2) * f(l2 + m2)
    total = 0.0
    for k in range(0, l1 + l2 - J + 1):
        dens = (l1 + l2 - J - k, l1 - m1 - k, l2 + m2 - k, J - l2 + m1 + k, J - l1 - m2 + k)
        if min(dens) < 0:
            continue
        den = f(k)
        for d in dens:
            den *= f(d)
        total += (-1) ** k / den
    return math.sqrt(pref) * total


def complex_clebsch_gordan(l1: int, l2: int, J: int) -> np.ndarray:
    r"""``C[M, m1, m2] = <l1 m1 l2 m2 | J M>`` (Condon-Shortley), float64 ``(2J+1, 2l1+1, 2l2+1)``.

    Indices run ``M = -J..J``, ``m1 = -l1..l1``, ``m2 = -l2..l2``.
    """
    l1, l2, J = check_triangle(l1, l2, J)
    out = np.zeros((2 * J + 1, 2 * l1 + 1, 2 * l2 + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            M = m1 + m2
            if abs(M) <= J:
                out[M + J, m1 + l1, m2 + l2] = _cg_coefficient(l1, m1, l2, m2, J, M)
    return out


def _u(l: int) -> np.ndarray:
    """``U_l`` with ``Y^{real}_l = U_l Y^{complex}_l`` (unitary, ``(2l+1, 2l+1)``)."""
    return _to_real(l, np.eye(2 * l + 1, dtype=np.complex128))


def real_clebsch_gordan(l1: int, l2: int, J: int, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    r"""Real Clebsch-Gordan matrix ``Q^J_{l1 l2}`` of shape ``(2J+1, 2l1+1, 2l2+1)`` (module docstring).

    ``sum_{m1, m2} Q[M, m1, m2] D^{l1}(R)[m1, n1] D^{l2}(R)[m2, n2] = sum_N D^J(R)[M, N] Q[N, n1, n2]``.
    Computed in float64 (numpy) and returned as a torch tensor of ``dtype`` on ``device``.
    """
    l1, l2, J = check_triangle(l1, l2, J)
    c = complex_clebsch_gordan(l1, l2, J).reshape(2 * J + 1, -1)
    q = _u(J) @ c @ np.kron(_u(l1), _u(l2)).conj().T
    if np.linalg.norm(q.real) < np.linalg.norm(q.imag):
        q = -1j * q
    q = q.real
    q[np.abs(q) < 1e-14] = 0.0
    dtype = check_dtype(dtype, who="real_clebsch_gordan")
    return torch.tensor(q.reshape(2 * J + 1, 2 * l1 + 1, 2 * l2 + 1), dtype=dtype, device=device)


def clebsch_gordan_table(lmax: int, dtype: torch.dtype = torch.float64, device=None) -> dict[tuple[int, int, int], torch.Tensor]:
    """``{(l1, l2, J): real_clebsch_gordan(l1, l2, J)}`` for all ``l1, l2 <= lmax`` (a fresh dict per call)."""
    lmax = _check_l(lmax, "lmax")
    return {
        (l1, l2, J): real_clebsch_gordan(l1, l2, J, dtype, device)
        for l1 in range(lmax + 1)
        for l2 in range(lmax + 1)
        for J in range(abs(l1 - l2), l1 + l2 + 1)
    }

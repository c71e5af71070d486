r"""Real Wigner-D matrices: the irreducible representations of SO(3) in the real harmonic basis.

Basis and definition
--------------------
The degree-``l`` irrep acts on ``R^(2l+1)`` with basis the real spherical harmonics
``Y_l = (Y_{l,-l}, ..., Y_{l,l})`` of :mod:`fiberconv.spaces.harmonics` (orthonormal, no
Condon-Shortley phase, ``Y_{l,m} ~ cos(m phi)`` and ``Y_{l,-m} ~ sin(m phi)`` for ``m > 0``). The
matrix ``D^l(R)`` is defined by

.. math::  Y_l(R x) = D^l(R)\, Y_l(x) \qquad \text{for all unit } x,\ R \in SO(3),

so a function with coefficients ``c`` (``f = c . Y_l``) rotated as ``f(R^{-1} x)`` has coefficients
``D^l(R) c``. ``D^l`` is an orthogonal homomorphism, ``D^0 = 1`` and ``D^1(R) = P R P^T`` with ``P``
the permutation ``(x, y, z) -> (y, z, x)``. Rows and columns are ordered ``m = -l..l``; in a
direct sum over ``l = 0..lmax`` the flat index is ``l^2 + l + m`` (as in ``harmonics``).

Relation to lie_learn
---------------------
``lie_learn.representations.SO3.wigner_d.wigner_D_matrix(l, alpha, beta, gamma, field='real',
normalization='quantum', order='centered')`` (lie_learn 0.0.2, default ``condon_shortley='cs'``,
the basis of its Pinchon-Hoggan ``J`` matrices) equals ``D^l(Z(alpha) Y(beta) Z(gamma))`` exactly:
the change of basis is the identity (``S = I``, ``R' = R``); ``tests/spaces/test_wigner.py`` checks
this for ``l <= 10``.

Algorithm
---------
With ZYZ Euler angles ``R = Z(alpha) Y(beta) Z(gamma)``, ``D(R) = X(alpha) d(beta) X(gamma)`` where
``X(a) = D(Z(a))`` only mixes ``m`` with ``-m``: ``X_{m,m} = cos(m a)``, ``X_{m,-m} = -sin(m a)``.
With ``Q`` the rotation ``e_x -> e_z, e_y -> e_x, e_z -> e_y`` one has ``Y(b) = Q Z(b) Q^T``, so
``d(b) = J X(b) J^T`` with the constant ``J = D^l(Q)``. ``J`` is computed once per degree, without
any recurrence in ``l``, from the eigenvectors of ``i G_y`` (``G_y`` the generator of y-rotations;
via a real symmetric tridiagonal eigenproblem with eigenvalues ``-l..l``, gap 1), so it is
orthogonal to ~``l`` ulps and the evaluation is a product of exactly orthogonal factors: stable
to ``l`` in the hundreds (tested to 128). For ``l <= 16``, ``d(b) = sum_k cos(k b) C_k + sin(k b) S_k``
with precomputed ``C_k, S_k`` (one matrix product for a batch of angles); above, ``(J X(b)) J^T``.
Either way forming ``D^l`` costs ``O(l^3)`` per rotation; :meth:`WignerD.rotate_coefficients`
applies the factors to the coefficients instead, at ``O(l^2)`` per coefficient vector and degree.

A rotation *matrix* near gimbal lock (``|cos beta| > 0.9``) is first moved away from it:
``D(R) = D(R T) D(T)^T`` with ``T = Q`` or ``Q^T`` chosen per element so that
``|cos beta(R T)| < 0.32``. Euler angles are then only read off where ``sin beta > 0.43``, so values
are accurate to rounding and gradients with respect to ``R`` are exact everywhere, including at
``beta = 0, pi``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal

from ..validation import broadcast, check_nonnegative_int
from .groups import SO3

__all__ = ["WignerD", "wigner_D", "wigner_D_euler", "real_y_generator", "real_j_matrix"]

_Q = ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0))  # e_x -> e_z, e_y -> e_x, e_z -> e_y
_LOCK = 0.9  # |cos beta| above which a rotation matrix is moved away from gimbal lock
_DENSE_LMAX = 16  # up to this degree d(beta) is one product with O(l^3) stored constants


def _check_l(l, name: str = "l") -> int:
    return check_nonnegative_int(l, name)


def _check_rotations(R, who: str = "wigner_D", check: bool = True) -> torch.Tensor:
    """Rotations ``(..., 3, 3)``: shape, dtype and values (orthogonal, det +1; ``SO3.check_element``).
    ``check=False`` checks shape and dtype only: for derivatives with respect to the raw entries."""
    return SO3.check_element(R, "R", who=who) if check else SO3.check(R, f"{who}: R")


def _check_angles(alpha, beta, gamma, default_dtype: torch.dtype):
    """Broadcast tensors / floats to tensors of one floating dtype (promoted; floats alone: the default)."""
    for a in (alpha, beta, gamma):
        if not isinstance(a, (torch.Tensor, float, int)) or isinstance(a, bool):
            raise TypeError(f"Euler angles must be tensors or floats, got {type(a).__name__}")
        if isinstance(a, torch.Tensor) and not a.is_floating_point():
            raise TypeError(f"Euler angles must have a floating dtype, got {a.dtype}")
    tensors = [a for a in (alpha, beta, gamma) if isinstance(a, torch.Tensor)]
    dtype = tensors[0].dtype if tensors else default_dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    device = tensors[0].device if tensors else None
    angles = [torch.as_tensor(a, dtype=dtype, device=device) for a in (alpha, beta, gamma)]
    return broadcast(angles, ("alpha", "beta", "gamma"), who="Euler angles")


# -- constants ------------------------------------------------------------------------------------
def _x_right_np(y: np.ndarray, a: float) -> np.ndarray:
    """``y X(a)`` for ``X(a) = D^l(Z(a))`` (``X_{m,m} = cos(m a)``, ``X_{m,-m} = -sin(m a)``)."""
    m = np.arange(-(y.shape[-1] // 2), y.shape[-1] // 2 + 1)
    return y * np.cos(m * a) + y[:, ::-1] * np.sin(m * a)


def _to_real(l: int, y: np.ndarray) -> np.ndarray:
    """``U y`` (along axis 0): coefficients in the Condon-Shortley complex ``Y_l^m`` -> the real basis.

    ``Y_{l,k} = ((-1)^k Y_l^k + Y_l^{-k}) / sqrt2`` and ``Y_{l,-k} = ((-1)^k Y_l^k - Y_l^{-k}) / (i sqrt2)``.
    """
    k = np.arange(1, l + 1)
    s = ((-1.0) ** k / math.sqrt(2.0))[:, None]
    out = np.empty_like(y, dtype=np.complex128)
    out[l] = y[l]
    out[l + k] = s * y[l + k] + y[l - k] / math.sqrt(2.0)
    out[l - k] = -1j * s * y[l + k] + 1j * y[l - k] / math.sqrt(2.0)
    return out


def _ladder(l: int) -> np.ndarray:
    """``<m+1| L_+ |m> = sqrt((l - m)(l + m + 1))`` for ``m = -l..l-1``."""
    m = np.arange(-l, l)
    return np.sqrt((l - m) * (l + m + 1.0))


def real_y_generator(l: int) -> np.ndarray:
    r"""Generator ``G_y = d/dt D^l(Y(t))|_{t=0}`` in the real basis, float64 ``(2l+1, 2l+1)``.

    ``G_y = U (i L_y)^T U^H`` with ``i L_y = (L_+ - L_-)/2`` in the Condon-Shortley complex basis.
    """
    l = _check_l(l)
    ily = np.diag(_ladder(l), -1) / 2
    ily = ily - ily.T
    return np.ascontiguousarray(_to_real(l, _to_real(l, ily.T).conj().T).conj().T.real)


def real_j_matrix(l: int) -> np.ndarray:
    r"""``J = D^l(Q)`` (float64 numpy) for ``Q: e_x -> e_z, e_y -> e_x, e_z -> e_y``.

    ``i G_y = U L_y U^H`` and ``L_y = P L_x P^H`` with ``P = diag((-i)^m)``; ``L_x`` is real symmetric
    tridiagonal with eigenvalues ``-l..l`` (gap 1), so its eigenvectors are accurate to ~``l`` ulps.
    An eigenvector ``v = x + i y`` of ``i G_y`` for ``k > 0`` gives ``G_y x = k y``, ``|x| = |y|``, so
    ``K = [.., sqrt2 y_k, .., u_0, .., sqrt2 x_k, ..]`` (columns ``m = -k``, ``0``, ``k``) is orthogonal with
    ``G_y K = K G_z``; then ``D(Y(b)) = K X(b) K^T`` and ``J = X(pi/2) D(Y(pi/2)) X(pi)`` since
    ``Q = Z(pi/2) Y(pi/2) Z(pi)``.
    """
    l = _check_l(l)
    ms = np.arange(-l, l + 1)
    _, x = eigh_tridiagonal(np.zeros(2 * l + 1), _ladder(l) / 2)  # eigenvalues -l..l, ascending
    v = _to_real(l, np.array([1, -1j, -1, 1j])[ms % 4][:, None] * x)
    kmat = np.empty((2 * l + 1, 2 * l + 1))
    u0 = v[:, l].real if np.linalg.norm(v[:, l].real) >= np.linalg.norm(v[:, l].imag) else v[:, l].imag
    kmat[:, l] = u0 / np.linalg.norm(u0)
    kmat[:, l + 1:] = math.sqrt(2.0) * v[:, l + 1:].real
    kmat[:, :l] = math.sqrt(2.0) * v[:, l + 1:].imag[:, ::-1]
    d_half = _x_right_np(kmat, math.pi / 2) @ kmat.T  # D(Y(pi/2))
    return _x_right_np(_x_right_np(d_half, math.pi).T, -math.pi / 2).T  # X(a) M = (M^T X(-a))^T


def _w_matrix(j: torch.Tensor, l: int) -> torch.Tensor:
    r"""``W_l`` with ``d^l(b) = [cos(k b), k = 0..l; sin(k b), k = 1..l] @ W_l``, shape ``(2l+1, (2l+1)^2)``.

    From ``d = J X(b) J^T``: ``C_k = J_k J_k^T + J_{-k} J_{-k}^T`` (``C_0 = J_0 J_0^T``) and
    ``S_k = J_{-k} J_k^T - J_k J_{-k}^T``, with ``J_m`` the column ``m`` of ``J = D^l(Q)``.
    """
    n = 2 * l + 1
    jp, jm = j[:, l:], j[:, : l + 1].flip(-1)  # columns m = k and m = -k, k = 0..l
    c = torch.einsum("ik,jk->kij", jp, jp) + torch.einsum("ik,jk->kij", jm, jm)
    c[0] = c[0] / 2
    s = torch.einsum("ik,jk->kij", jm, jp) - torch.einsum("ik,jk->kij", jp, jm)
    return torch.cat([c.reshape(l + 1, n * n), s[1:].reshape(l, n * n)])


# -- evaluation -----------------------------------------------------------------------------------
def _trig(angle: torch.Tensor, l: int):
    """``cos(m a), sin(m a)`` for ``m = -l..l``: two tensors ``(..., 2l+1)``."""
    ms = torch.arange(-l, l + 1, dtype=angle.dtype, device=angle.device)
    x = angle.unsqueeze(-1) * ms
    return torch.cos(x), torch.sin(x)


def _apply_x(y: torch.Tensor, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``X(a) y`` along the last dim, from ``c = cos(m a)``, ``s = sin(m a)``: row ``m`` mixes with ``-m``."""
    return y * c - y.flip(-1) * s


def _block(l: int, j: torch.Tensor, w: torch.Tensor | None, tabs, lmax: int) -> torch.Tensor:
    """``D^l = X(alpha) d(beta) X(gamma)`` for ``N`` rotations from :func:`_trig` tables ``(N, 2lmax+1)``."""
    (ca, sa), (cb, sb), (cg, sg) = (tuple(t[:, lmax - l: lmax + l + 1] for t in tab) for tab in tabs)
    n = 2 * l + 1
    if w is not None:  # d(beta) = F(beta) @ W: one matrix product
        d = (torch.cat([cb[:, l:], sb[:, l + 1:]], dim=-1) @ w).view(-1, n, n)
    else:  # d(beta) = (J X(beta)) J^T: column m of J mixes with column -m
        d = (j * cb[:, None, :]).addcmul_(j.flip(-1), sb[:, None, :]) @ j.T
    # in-place accumulation (autograd-safe: no saved tensor is modified) spares large temporaries
    m = (d * ca[:, :, None]).addcmul_(d.flip(-2), sa[:, :, None], value=-1)  # X(alpha) d
    return (m * cg[:, None, :]).addcmul_(m.flip(-1), sg[:, None, :])  # (X(alpha) d) X(gamma)


def _euler_blocks(alpha, beta, gamma, consts) -> list[torch.Tensor]:
    """Blocks for ``consts = [(l, J_l, W_l or None), ...]`` at angles of a common shape ``(...)``."""
    shape = alpha.shape
    lmax = max(c[0] for c in consts)
    tabs = [_trig(t.reshape(-1), lmax) for t in (alpha, beta, gamma)]
    return [_block(l, j, w, tabs, lmax).reshape(shape + (2 * l + 1, 2 * l + 1)) for l, j, w in consts]


def _matrix_to_euler(R: torch.Tensor):
    """ZYZ angles of ``R T`` and the choice ``sel`` of ``T`` (``0: Q^T, 1: Q, 2: I``), shapes ``(...)``.

    ``T = I`` unless ``|cos beta| = |R_22| > _LOCK``; then ``T e_z = e_x`` or ``e_y``, whichever makes
    ``|cos beta(R T)| = min(|R_20|, |R_21|) < 0.32``, so the angles are well conditioned.
    """
    r2 = R[..., 2, :].abs()
    sel = torch.where(r2[..., 2] > _LOCK, (r2[..., 1] < r2[..., 0]).long(), 2)
    q = torch.tensor(_Q, dtype=R.dtype, device=R.device)
    rt = R @ torch.stack([q.T, q, torch.eye(3, dtype=R.dtype, device=R.device)])[sel]
    beta = torch.atan2(torch.sqrt(rt[..., 2, 0] ** 2 + rt[..., 2, 1] ** 2), rt[..., 2, 2])
    alpha = torch.atan2(rt[..., 1, 2], rt[..., 0, 2])
    gamma = torch.atan2(rt[..., 2, 1], -rt[..., 2, 0])
    return alpha, beta, gamma, sel


def _matrix_blocks(R: torch.Tensor, consts) -> list[torch.Tensor]:
    """Blocks for ``consts = [(l, J_l, W_l or None), ...]`` at rotations ``R (..., 3, 3)``."""
    shape = R.shape[:-2]
    alpha, beta, gamma, sel = _matrix_to_euler(R.reshape(-1, 3, 3))
    idx = torch.nonzero(sel != 2).squeeze(-1)
    out = []
    for blk, (l, j, _) in zip(_euler_blocks(alpha, beta, gamma, consts), consts):
        if idx.numel() > 0:  # D(R) = D(R T) D(T)^T with D(Q^T)^T = J, D(Q)^T = J^T
            back = torch.stack([j, j.T])[sel[idx]]
            blk = blk.index_copy(0, idx, blk.index_select(0, idx) @ back)
        out.append(blk.reshape(shape + blk.shape[-2:]))
    return out


def _rotate(R: torch.Tensor, js: Sequence[torch.Tensor], coeffs: torch.Tensor) -> torch.Tensor:
    """``D(R) c`` per degree as ``X(alpha) J X(beta) J^T X(gamma) D(T)^T c``, never forming ``D``."""
    alpha, beta, gamma, sel = _matrix_to_euler(R)
    lmax = len(js) - 1
    tabs = [_trig(t, lmax) for t in (alpha, beta, gamma)]
    near = bool((sel != 2).any())
    out = []
    for l, j in enumerate(js):
        (ca, sa), (cb, sb), (cg, sg) = (tuple(t[..., lmax - l: lmax + l + 1] for t in tab) for tab in tabs)
        y = coeffs[..., l * l: (l + 1) ** 2]
        if near:
            s = sel.unsqueeze(-1)
            y = torch.where(s == 0, y @ j.T, torch.where(s == 1, y @ j, y))
        y = _apply_x(y, cg, sg) @ j  # row vectors: (J^T y)^T = y^T J
        y = _apply_x(y, cb, sb) @ j.T
        out.append(_apply_x(y, ca, sa))
    return torch.cat(out, dim=-1)


class WignerD:
    r"""Real Wigner-D matrices ``D^l(R)`` for ``l = 0..lmax`` (basis and convention: module docstring).

    Attributes (lists of plain tensors): ``J``, the ``J_l = D^l(Q)`` (``(2l+1, 2l+1)``) for
    ``l = 0..lmax``, and ``W``, the ``W_l`` of :func:`_w_matrix` (``(2l+1, (2l+1)^2)``) for
    ``l <= min(lmax, 16)``, with which ``d^l(beta)`` is a single matrix product. Evaluation follows
    the input's dtype and device (constants are converted on the fly when they differ; :meth:`to`
    avoids the conversion).

    Parameters
    ----------
    lmax : int
        Largest degree, ``>= 0``.
    dtype : torch.dtype, default float64
        Floating dtype of the stored constants (always computed in float64).
    device : torch.device or str, optional
    """

    def __init__(self, lmax: int, dtype: torch.dtype = torch.float64, device=None):
        self.lmax = _check_l(lmax, "lmax")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        js = [torch.tensor(real_j_matrix(l), dtype=torch.float64) for l in range(self.lmax + 1)]
        ws = [_w_matrix(js[l], l) for l in range(min(self.lmax, _DENSE_LMAX) + 1)]
        self.J = [j.to(dtype=dtype, device=device) for j in js]
        self.W = [w.to(dtype=dtype, device=device) for w in ws]

    @property
    def dtype(self) -> torch.dtype:
        return self.J[0].dtype

    @property
    def device(self) -> torch.device:
        return self.J[0].device

    @property
    def dim(self) -> int:
        """Size of the direct sum over ``l = 0..lmax``: ``(lmax + 1)^2``."""
        return (self.lmax + 1) ** 2

    def to(self, dtype: torch.dtype | None = None, device=None) -> WignerD:
        """A copy with the constants converted to ``dtype`` and/or ``device``."""
        if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        new = object.__new__(WignerD)
        new.lmax = self.lmax
        new.J = [j.to(dtype=dtype, device=device) for j in self.J]
        new.W = [w.to(dtype=dtype, device=device) for w in self.W]
        return new

    def _constants(self, like: torch.Tensor):
        """``[(l, J_l, W_l or None)]`` in ``like``'s dtype and device."""
        same = (like.dtype, like.device) == (self.dtype, self.device)
        conv = self if same else self.to(like.dtype, like.device)
        return [(l, j, conv.W[l] if l < len(conv.W) else None) for l, j in enumerate(conv.J)]

    def blocks(self, R: torch.Tensor, check: bool = True) -> list[torch.Tensor]:
        """``[D^0(R), ..., D^lmax(R)]``, shapes ``(..., 2l+1, 2l+1)``, from ``R`` of shape ``(..., 3, 3)``.

        ``R`` is checked to hold rotations (``SO3.check_element``) unless ``check=False`` (e.g. for finite
        differences of the raw entries, which leave the group)."""
        R = _check_rotations(R, "WignerD", check)
        return _matrix_blocks(R, self._constants(R))

    def blocks_euler(self, alpha, beta, gamma) -> list[torch.Tensor]:
        """As :meth:`blocks` for ``R = Z(alpha) Y(beta) Z(gamma)``; angles broadcast to a shape ``(...)``."""
        alpha, beta, gamma = _check_angles(alpha, beta, gamma, self.dtype)
        return _euler_blocks(alpha, beta, gamma, self._constants(alpha))

    def matrix(self, R: torch.Tensor, check: bool = True) -> torch.Tensor:
        """Block-diagonal ``(..., (lmax+1)^2, (lmax+1)^2)`` direct sum of :meth:`blocks`."""
        blocks = self.blocks(R, check)
        out = R.new_zeros(R.shape[:-2] + (self.dim, self.dim))
        for l, b in enumerate(blocks):
            out[..., l * l: (l + 1) ** 2, l * l: (l + 1) ** 2] = b
        return out

    def rotate_coefficients(self, R: torch.Tensor, coeffs: torch.Tensor, check: bool = True) -> torch.Tensor:
        r"""``D^l(R) c_l`` for every degree: the coefficients of ``f(R^{-1} x)`` if ``f = c . Y``.

        Applies the factors of ``D`` to ``c`` without forming ``D``: ``O(l^2)`` per vector and degree.

        Parameters
        ----------
        R : Tensor ``(..., 3, 3)``
        coeffs : Tensor ``(..., (lmax+1)^2)``, same dtype as ``R``; the leading dims of ``R`` and
            ``coeffs`` broadcast (right-aligned, as in numpy): ``R (3, 3)`` rotates everything,
            ``R (B, 1, 3, 3)`` with ``coeffs (B, C, n)`` rotates each batch element separately.

        check : whether to check that ``R`` holds rotations (as in :meth:`blocks`)

        Returns
        -------
        Tensor of the broadcast shape ``(..., (lmax+1)^2)``.
        """
        R = _check_rotations(R, "WignerD.rotate_coefficients", check)
        if not isinstance(coeffs, torch.Tensor) or coeffs.dim() < 1 or coeffs.shape[-1] != self.dim:
            got = tuple(coeffs.shape) if isinstance(coeffs, torch.Tensor) else type(coeffs).__name__
            raise ValueError(
                f"coeffs must have shape (..., {self.dim}) = (..., (lmax+1)^2) for lmax={self.lmax}, got {got}"
            )
        if coeffs.dtype != R.dtype:
            raise TypeError(f"coeffs dtype {coeffs.dtype} differs from R dtype {R.dtype}")
        shape = torch.broadcast_shapes(R.shape[:-2], coeffs.shape[:-1])
        js = [j for _, j, _ in self._constants(R)]
        return _rotate(R, js, coeffs.expand(shape + (self.dim,)))

    def __repr__(self) -> str:
        return f"WignerD(lmax={self.lmax}, dtype={self.dtype}, device={self.device})"


def _single(l: int, like: torch.Tensor):
    j = torch.tensor(real_j_matrix(l), dtype=torch.float64)
    w = _w_matrix(j, l) if l <= _DENSE_LMAX else None
    to = dict(dtype=like.dtype, device=like.device)
    return [(l, j.to(**to), None if w is None else w.to(**to))]


def wigner_D(l: int, R: torch.Tensor) -> torch.Tensor:
    """``D^l(R)`` of shape ``(..., 2l+1, 2l+1)`` for rotations ``R (..., 3, 3)`` (module convention)."""
    l = _check_l(l)
    R = _check_rotations(R)
    return _matrix_blocks(R, _single(l, R))[0]


def wigner_D_euler(l: int, alpha, beta, gamma) -> torch.Tensor:
    """``D^l(Z(alpha) Y(beta) Z(gamma))`` of shape ``(..., 2l+1, 2l+1)``; angles broadcast."""
    l = _check_l(l)
    alpha, beta, gamma = _check_angles(alpha, beta, gamma, torch.get_default_dtype())
    return _euler_blocks(alpha, beta, gamma, _single(l, alpha))[0]

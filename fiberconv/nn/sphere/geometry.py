r"""Closed-form geometry of HEALPix neighbourhoods for eq. (14): relative points ``s(x)^{-1} y`` and twists.

Everything here depends only on the grid and the section ``s(alpha, beta) = Z(alpha) Y(beta)``
(docs/conventions.md); the convolution and the pooling compute it once at construction.
"""
from __future__ import annotations

import torch

__all__ = ["relative_frames", "pair_frames", "twist_angles", "cos_sin_multiples"]


def relative_frames(bundle, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, chunk: int = 16384):
    r"""The relative points ``z = s(x_i)^{-1} y_{idx[i, k]}`` and the twists, as cosines and sines.

    Returns ``(cos alpha, sin alpha, beta, cos tau, sin tau)``, each ``(N, K)``, with
    ``z = Z(alpha) Y(beta) o`` (``alpha = 0`` at ``z = o``, the section's convention) and
    ``h1(s(x)^{-1} s(y)) = Z(tau)``. The section is ``s(x) = Z(phi) Y(theta)``, columns
    ``(e_theta, e_phi, x)``; ``z = s(x)^T y`` and ``u = s(x)^T e_theta(y)`` (the first column of
    ``s(x)^{-1} s(y)``) are written with ``Delta = phi_y - phi_x`` as

    .. math::
        z = (c_1 s_2 \cos\Delta - s_1 c_2,\ s_2 \sin\Delta,\ c_1 c_2 + s_1 s_2 \cos\Delta), \quad
        u = (c_1 c_2 \cos\Delta + s_1 s_2,\ c_2 \sin\Delta,\ s_1 c_2 \cos\Delta - c_1 s_2),

    ``c_i, s_i = cos, sin theta`` of ``x`` (1) and ``y`` (2), read off ``bundle.section`` (so its
    convention at the poles holds), and ``tau`` is the angle of ``u`` in the frame
    ``(e_theta(z), e_phi(z))``. One ``atan2`` (for ``beta``) and no other transcendental function; in
    chunks of output points to bound memory.
    """
    rows = torch.arange(x.shape[0], device=idx.device).repeat_interleave(idx.shape[1])
    out = pair_frames(bundle, x, y, rows, idx.reshape(-1), chunk * idx.shape[1])
    return tuple(t.view(idx.shape) for t in out)


def pair_frames(bundle, x, y, rows, cols, chunk: int = 1 << 19):
    """:func:`relative_frames` for the pairs ``(x[rows[p]], y[cols[p]])``: five ``(P,)`` tensors."""
    def trig(s):  # cos theta, sin theta, cos phi, sin phi of s = Z(phi) Y(theta)
        return s[..., 2, 2], -s[..., 2, 0], s[..., 1, 1], -s[..., 0, 1]

    tx, ty = trig(bundle.section(x)), trig(bundle.section(y))
    tiny = 1e-12 if x.dtype == torch.float64 else 1e-6
    out = []
    for start in range(0, rows.shape[0], chunk):
        r, c = rows[start : start + chunk], cols[start : start + chunk]
        # index_select: several times faster than advanced indexing for a 1-D gather on the CPU
        c1, s1, cp1, sp1 = (t.index_select(0, r) for t in tx)
        ct2, st2, cp2, sp2 = (t.index_select(0, c) for t in ty)
        cd = cp2 * cp1 + sp2 * sp1
        sd = sp2 * cp1 - cp2 * sp1
        s2cd = st2 * cd
        z0, z1, z2 = c1 * s2cd - s1 * ct2, st2 * sd, c1 * ct2 + s1 * s2cd
        c2cd = ct2 * cd
        u0, u1, u2 = c1 * c2cd + s1 * st2, ct2 * sd, s1 * c2cd - c1 * st2
        rho = torch.hypot(z0, z1)  # sin(beta)
        pole = rho <= tiny  # z = o (or -o): alpha = 0 by convention
        safe = torch.where(pole, torch.ones_like(rho), rho)
        ca = torch.where(pole, torch.ones_like(rho), z0 / safe)
        sa = torch.where(pole, torch.zeros_like(rho), z1 / safe)
        along_theta = z2 * (ca * u0 + sa * u1) - rho * u2
        along_phi = -sa * u0 + ca * u1
        norm = torch.hypot(along_theta, along_phi)  # 1 up to rounding: u is a unit tangent vector at z
        out.append((ca, sa, torch.atan2(rho, z2), along_theta / norm, along_phi / norm))
    return tuple(torch.cat(parts) if len(parts) > 1 else parts[0] for parts in zip(*out))


def twist_angles(bundle, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, chunk: int = 16384):
    r"""Angles of the relative points ``z = s(x_i)^{-1} y_{idx[i, k]}`` and of the twists, in closed form.

    Returns ``alpha, beta, tau``, each ``(N, K)``: ``z = Z(alpha) Y(beta) o`` (``alpha = 0`` at
    ``z = o``, the section's convention) and ``h1(s(x)^{-1} s(y)) = Z(tau)`` — the same as
    ``bundle.twist`` (a test checks it), but from frame vectors instead of 3x3 products
    (:func:`relative_frames`).
    """
    ca, sa, beta, ct, st = relative_frames(bundle, x, y, idx, chunk)
    return torch.atan2(sa, ca), beta, torch.atan2(st, ct)


def cos_sin_multiples(c: torch.Tensor, s: torch.Tensor, m_max: int):
    """``[(cos(m t), sin(m t)) for m = 0..m_max]`` from ``c = cos t, s = sin t`` (complex powers)."""
    out = [(torch.ones_like(c), torch.zeros_like(s))]
    for _ in range(m_max):
        cm, sm = out[-1]
        out.append((cm * c - sm * s, sm * c + cm * s))
    return out

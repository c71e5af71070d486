r"""``SphereConv``: the rho1-twisted cross-correlation (eq. 14) on HEALPix grids of ``S^2``.

.. math::

    [\kappa \star f](x) = \sum_{y:\ d(x, y) < r} w_y\ \kappa\big(s(x)^{-1} y\big)\,
        \rho_1\big(h_1(s(x)^{-1} s(y))\big)\, f(y), \qquad w_y = 4\pi / N_\text{pix},

with ``kappa`` in ``K_C`` expanded in :class:`~fiberconv.nn.sphere_kernels.SphereKernelBasis`,
``kappa(alpha, beta) = rho2(alpha) sum_b theta_b A_b phi_{j_b}(beta)``.

Computation. Writing the twisted neighbour values ``g_xk = rho1(tau_xk) f(y_xk)`` and
``rho2(alpha) = cos(m2 alpha) I + sin(m2 alpha) J`` (blockwise), every output is a fixed linear
combination, set by the weights ``theta``, of the *filter responses*

.. math:: T_{x, f} = \sum_k \psi_f(x, k)\, g_{xk}, \qquad
          \psi_f \in \{ w\,\phi_j(\beta),\ w\,\phi_j(\beta)\cos(m_2\alpha),\ w\,\phi_j(\beta)\sin(m_2\alpha) \}.

Everything that depends only on the grid — neighbour indices, the relative points ``s(x)^{-1} y``
(as ``alpha, beta``), the twist angles ``tau`` and the sampled filters ``psi`` — is computed once at
construction. The filters, with the twists folded in (``psi cos(m1 tau)``, ``psi sin(m1 tau)`` for every
input frequency ``m1 > 0``), are kept as sparse CSR matrices with ``neighbours`` entries per row, so a
forward pass is one sparse-dense product per input frequency and one dense product with the mixing
matrix assembled from ``theta``. Memory is ``O(N_pix x neighbours)``; nothing of size
``N_pix x neighbours x channels`` is ever formed.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional

import torch
from torch import nn

from ..fields import FieldType
from ..spaces.healpix import HealpixGrid
from .sphere_kernels import SphereKernelBasis

__all__ = ["SphereConv", "default_radius", "twist_angles"]


def default_radius(grid: HealpixGrid, pixels: float = 3.0) -> float:
    """A kernel radius of ``pixels`` mean pixel spacings, ``sqrt(4 pi / N_pix)`` each."""
    return pixels * math.sqrt(4 * math.pi / grid.npix)


def _check_grid(grid, who):
    if not isinstance(grid, HealpixGrid):
        raise TypeError(f"{who}: expected a HealpixGrid, got {type(grid).__name__}")
    return grid


def twist_angles(bundle, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, chunk: int = 16384):
    r"""Angles of the relative points ``z = s(x_i)^{-1} y_{idx[i, k]}`` and of the twists, in closed form.

    Returns ``alpha, beta, tau``, each ``(N, K)``: ``z = Z(alpha) Y(beta) o`` (``alpha = 0`` at
    ``z = o``, the section's convention) and ``h1(s(x)^{-1} s(y)) = Z(tau)`` — the same as
    ``bundle.twist`` (a test checks it), but from frame vectors instead of 3x3 products: with the
    section's columns ``(e_theta, e_phi, x)``, ``z = s(x)^T y`` and ``u = s(x)^T e_theta(y)`` (the first
    column of ``s(x)^{-1} s(y)``), ``tau`` is the angle of ``u`` in the frame ``(e_theta(z), e_phi(z))``.
    Computed in chunks of output points to bound memory.
    """
    space = bundle.space
    sx, sy = bundle.section(x), bundle.section(y)  # (N, 3, 3), columns e_theta, e_phi, x
    out = []
    for start in range(0, x.shape[0], chunk):
        sl = slice(start, start + chunk)
        frame_x = sx[sl].transpose(-1, -2).unsqueeze(1)  # (n, 1, 3, 3): rows e_theta, e_phi, x
        nb = idx[sl]
        z = (frame_x * y[nb].unsqueeze(-2)).sum(-1)  # (n, K, 3); products, not tiny matmuls: faster
        u = (frame_x * sy[nb][..., 0].unsqueeze(-2)).sum(-1)
        alpha, beta = space.to_angles(z)
        ca, sa, cb, sb = torch.cos(alpha), torch.sin(alpha), torch.cos(beta), torch.sin(beta)
        along_theta = cb * (ca * u[..., 0] + sa * u[..., 1]) - sb * u[..., 2]
        along_phi = -sa * u[..., 0] + ca * u[..., 1]
        out.append((alpha, beta, torch.atan2(along_phi, along_theta)))
    return tuple(torch.cat(parts) for parts in zip(*out))


class _SparseMatmul(torch.autograd.Function):
    """``S @ X`` for a constant sparse ``S``; the backward uses ``S^T`` given as the same arrays in CSC form."""

    @staticmethod
    def forward(ctx, x, s, s_t):
        ctx.s_t = s_t
        return s @ x

    @staticmethod
    def backward(ctx, grad):
        return ctx.s_t @ grad.contiguous(), None, None


def _filter_operator(columns: torch.Tensor, values: torch.Tensor, n_in: int):
    """``(S, S^T)`` with ``S`` of shape ``(R, n_in)`` in CSR, ``K`` entries per row (``columns, values (R, K)``)
    and ``S^T`` the same arrays read as CSC."""
    rows, k = columns.shape
    crow = torch.arange(0, rows * k + 1, k)
    cols, vals = columns.reshape(-1), values.reshape(-1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")
        s = torch.sparse_csr_tensor(crow, cols, vals, (rows, n_in), check_invariants=False)
        s_t = torch.sparse_csc_tensor(crow, cols, vals, (n_in, rows), check_invariants=False)
    return s, s_t


class SphereConv(nn.Module):
    r"""Equivariant convolution between fields on a HEALPix grid (eq. 14).

    Parameters
    ----------
    in_type, out_type : FieldType over ``sphere_bundle()`` made of SO(2) irreps
    grid : HealpixGrid of the input
    radius : float, optional
        Kernel radius in radians (default: 3 mean pixel spacings of the input grid).
    n_rings : int
        Number of radial bumps of the kernel basis.
    stride : int
        Power of two: the output lives on the grid with ``nside // stride`` (same ordering).
    bias : bool
        Learnable bias on the scalar (``m = 0``) output channels only.

    Shapes
    ------
    input ``(batch, in_type.dim, grid.npix)`` -> output ``(batch, out_type.dim, out_grid.npix)``, on the
    input's device and dtype.
    """

    def __init__(self, in_type: FieldType, out_type: FieldType, grid: HealpixGrid, radius: Optional[float] = None,
                 n_rings: int = 2, stride: int = 1, bias: bool = True):
        super().__init__()
        self.grid = _check_grid(grid, "SphereConv")
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1 or stride & (stride - 1):
            raise ValueError(f"SphereConv: stride must be a power of two >= 1, got {stride!r}")
        if stride > grid.nside:
            raise ValueError(f"SphereConv: stride {stride} is larger than the input nside {grid.nside}")
        self.out_grid = HealpixGrid(grid.nside // stride, nest=grid.nest)
        self.stride = stride
        self.radius = float(radius) if radius is not None else default_radius(grid)
        self.basis = SphereKernelBasis(in_type, out_type, self.radius, n_rings)
        self.in_type, self.out_type = in_type, out_type
        self._build_geometry()
        fan_in = sum(g.numel() for g in self.basis.in_groups.values()) * n_rings
        self.weight = nn.Parameter(torch.randn(self.basis.dim) * math.sqrt(2.0 / max(fan_in, 1)))
        scalar_out = self.basis.out_groups.get(0)
        self.register_buffer("bias_index", scalar_out.reshape(-1) if scalar_out is not None else torch.zeros(0, dtype=torch.long),
                             persistent=False)
        self.bias = nn.Parameter(torch.zeros(self.bias_index.numel())) if bias and self.bias_index.numel() else None

    # -- construction: everything that depends only on the grid ---------------------------------------
    def _build_geometry(self):
        basis = self.basis
        bundle = self.in_type.bundle
        x = self.out_grid.xyz(dtype=torch.float64)
        y = self.grid.xyz(dtype=torch.float64)
        idx, mask = self.grid.neighbours_of(x, self.radius)
        alpha, beta, tau = twist_angles(bundle, x, y, idx)
        w = (4 * math.pi / self.grid.npix) * mask.to(torch.float64)
        phi = basis.radial(beta) * w.unsqueeze(-1)  # (N, K, R)
        # filters: for each ring, one per output frequency m2 = 0, two (cos, sin) per m2 > 0
        filters, self.filter_index = [], {}
        for j in range(basis.n_rings):
            for m2 in basis.out_groups:
                if m2 == 0:
                    self.filter_index[(j, 0, "c")] = len(filters)
                    filters.append(phi[..., j])
                else:
                    self.filter_index[(j, m2, "c")] = len(filters)
                    filters.append(phi[..., j] * torch.cos(m2 * alpha))
                    self.filter_index[(j, m2, "s")] = len(filters)
                    filters.append(phi[..., j] * torch.sin(m2 * alpha))
        self.n_filters = len(filters)
        psi = torch.stack(filters, dim=1)  # (N_out, F, K), float64
        n_out, n_f, k = psi.shape
        self.n_neighbours = k
        columns = idx[:, None, :].expand(n_out, n_f, k).reshape(n_out * n_f, k)
        # input channels in the "twisted order": scalars, then (all a, all b) components per m1 > 0
        perm, self.groups = [], []
        if 0 in basis.in_groups:
            g0 = basis.in_groups[0].reshape(-1)
            self.groups.append((0, g0.numel()))
            perm += g0.tolist()
            self._register_operator(0, columns, psi.reshape(-1, k))
        for m1, g in basis.in_groups.items():
            if m1 > 0:
                self.groups.append((m1, g.shape[0]))
                perm += g[:, 0].tolist() + g[:, 1].tolist()
                c, s = torch.cos(m1 * tau)[:, None], torch.sin(m1 * tau)[:, None]  # twist, folded into psi
                values = torch.cat([(psi * c).reshape(-1, k), (psi * s).reshape(-1, k)])
                self._register_operator(m1, torch.cat([columns, columns]), values)
        self.register_buffer("in_perm", torch.tensor(perm, dtype=torch.long), persistent=False)
        inv = torch.empty_like(self.in_perm)
        inv[self.in_perm] = torch.arange(len(perm))
        self.register_buffer("in_position", inv, persistent=False)  # original channel -> position in perm
        # the fixed tensors that turn theta into the mixing matrix, per (m2, m1) pair
        patterns = []
        for m2, m1, elems in basis.type_pairs:
            d2 = 1 if m2 == 0 else 2
            pattern = torch.zeros(len(elems), d2, self.n_filters, 1 if m1 == 0 else 2, dtype=torch.float64)
            jmat = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
            for e, (j, a) in enumerate(elems):
                if m2 == 0:
                    pattern[e, :, self.filter_index[(j, 0, "c")]] = a
                else:  # rho2(alpha) A = cos(m2 alpha) A + sin(m2 alpha) J A
                    pattern[e, :, self.filter_index[(j, m2, "c")]] = a
                    pattern[e, :, self.filter_index[(j, m2, "s")]] = jmat @ a
            patterns.append(pattern)
        for i, p in enumerate(patterns):
            self.register_buffer(f"pattern_{i}", p, persistent=False)

    # -- forward ---------------------------------------------------------------------------------------
    def _register_operator(self, m1: int, columns: torch.Tensor, values: torch.Tensor):
        op, op_t = _filter_operator(columns, values, self.grid.npix)
        self.register_buffer(f"op_{m1}", op, persistent=False)
        self.register_buffer(f"op_t_{m1}", op_t, persistent=False)

    def _apply_filters(self, m1: int, x: torch.Tensor) -> torch.Tensor:
        op, op_t = getattr(self, f"op_{m1}"), getattr(self, f"op_t_{m1}")
        if op.dtype != x.dtype or op.device != x.device:
            op, op_t = op.to(dtype=x.dtype, device=x.device), op_t.to(dtype=x.dtype, device=x.device)
        return _SparseMatmul.apply(x, op, op_t)

    def mixing_matrix(self, dtype=None) -> torch.Tensor:
        """``(C_out, F, C_in)`` in the twisted input order: output = ``sum_{f, c} M[o, f, c] T[f, c]``."""
        basis = self.basis
        dtype = dtype or self.weight.dtype
        m = self.weight.new_zeros(self.out_type.dim, self.n_filters, self.in_type.dim, dtype=dtype)
        for i, ((m2, m1, elems), off) in enumerate(zip(basis.type_pairs, basis.offsets)):
            og, ig = basis.out_groups[m2], basis.in_groups[m1]
            n_o, n_i = og.shape[0], ig.shape[0]
            theta = self.weight[off : off + n_o * n_i * len(elems)].view(n_o, n_i, len(elems)).to(dtype)
            pattern = getattr(self, f"pattern_{i}").to(dtype)
            block = torch.einsum("oie,eafb->oafib", theta, pattern)  # (n_o, d2, F, n_i, d1)
            rows = og.reshape(-1).to(m.device)
            cols = self.in_position[ig.transpose(0, 1).reshape(-1)] if m1 > 0 else self.in_position[ig.reshape(-1)]
            # positions in the twisted order: for m1 > 0 all a-components first, then all b-components
            blk = block.permute(0, 1, 2, 4, 3) if m1 > 0 else block  # (n_o, d2, F, d1, n_i)
            m[rows[:, None, None], torch.arange(self.n_filters, device=m.device)[None, :, None], cols[None, None, :]] = \
                blk.reshape(n_o * blk.shape[1], self.n_filters, -1)
        return m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        B, n_out, F = x.shape[0], self.out_grid.npix, self.n_filters
        xt = x[:, self.in_perm].permute(2, 0, 1)  # (N_in, B, C) in the twisted order
        responses, start = [], 0
        for m1, n in self.groups:
            if m1 == 0:
                t = self._apply_filters(0, xt[..., start : start + n].reshape(-1, B * n))
                responses.append(t.view(n_out, F, B, n))
                start += n
                continue
            ab = xt[..., start : start + 2 * n].reshape(-1, B, 2, n).transpose(1, 2).reshape(-1, 2 * B * n)
            p = self._apply_filters(m1, ab).view(2, n_out, F, 2, B, n)  # (cos|sin, x, f, a|b, batch, field)
            responses += [p[0, :, :, 0] - p[1, :, :, 1], p[1, :, :, 0] + p[0, :, :, 1]]  # rho1(m1 tau) (a, b)
            start += 2 * n
        t = torch.cat(responses, dim=-1).permute(2, 0, 1, 3).reshape(B * n_out, F * self.in_type.dim)
        out = t @ self.mixing_matrix(x.dtype).reshape(self.out_type.dim, -1).T  # (B*N_out, C_out)
        out = out.view(B, n_out, -1).transpose(1, 2)
        if self.bias is not None:
            out = out.index_add(1, self.bias_index, self.bias.to(x.dtype).view(1, -1, 1).expand(B, -1, n_out))
        return out

    def _check_input(self, x):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"SphereConv: expected a floating torch.Tensor, got {type(x).__name__}")
        if x.dim() != 3 or x.shape[1] != self.in_type.dim or x.shape[2] != self.grid.npix:
            raise ValueError(
                f"SphereConv: expected input of shape (batch, {self.in_type.dim}, {self.grid.npix}) for "
                f"{self.in_type} on {self.grid!r}, got {tuple(x.shape)}"
            )
        if not bool(torch.isfinite(x).all()):
            raise ValueError("SphereConv: the input contains NaN or infinite values")

    def extra_repr(self) -> str:
        return (f"{self.in_type} -> {self.out_type}, {self.grid!r} -> nside {self.out_grid.nside}, "
                f"radius={self.radius:.4g}, n_rings={self.basis.n_rings}, filters={self.n_filters}, "
                f"neighbours={self.n_neighbours}")

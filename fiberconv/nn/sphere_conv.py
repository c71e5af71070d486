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
input frequency ``m1 > 0``), are kept as sparse CSR matrices with one entry per (output point, neighbour)
pair and filter, and so are their transposes, which the backward pass multiplies by. A forward pass is one
sparse-dense product per input frequency and one dense product with the mixing matrix assembled from
``theta``. Memory is ``O(N_pix x neighbours)``; nothing of size ``N_pix x neighbours x channels`` is ever
formed.
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
    sx, e_theta_y = bundle.section(x), bundle.section(y)[..., 0]  # (N, 3, 3): columns e_theta, e_phi, x
    k = idx.shape[1]
    out = []
    for start in range(0, x.shape[0], chunk):
        sl = slice(start, start + chunk)
        nb = idx[sl]
        # rows y^T s(x) = (s(x)^T y)^T, for the points and their e_theta in one batched product
        zu = torch.bmm(torch.cat([y[nb], e_theta_y[nb]], dim=1), sx[sl])  # (n, 2K, 3)
        z, u = zu[:, :k], zu[:, k:]
        alpha, beta = space.to_angles(z)
        ca, sa, cb, sb = torch.cos(alpha), torch.sin(alpha), torch.cos(beta), torch.sin(beta)
        along_theta = cb * (ca * u[..., 0] + sa * u[..., 1]) - sb * u[..., 2]
        along_phi = -sa * u[..., 0] + ca * u[..., 1]
        out.append((alpha, beta, torch.atan2(along_phi, along_theta)))
    return tuple(torch.cat(parts) for parts in zip(*out))


class _SparseMatmul(torch.autograd.Function):
    """``S @ X`` for a constant sparse ``S``; the backward multiplies by ``S^T``, kept as its own CSR matrix
    (a CSR product is about twice as fast as the CSC view of the same arrays)."""

    @staticmethod
    def forward(ctx, x, s, s_t):
        ctx.s_t = s_t
        return s @ x

    @staticmethod
    def backward(ctx, grad):
        return ctx.s_t @ grad.contiguous(), None, None


class _TwistedFilters(torch.autograd.Function):
    r"""Filter responses of the ``m1 > 0`` fields, with the twist ``rho1(m1 tau)`` applied.

    ``S`` stacks the blocks ``psi_f cos(m1 tau)`` (``c``) and ``psi_f sin(m1 tau)`` (``s``); for the
    components ``(a, b)`` of the input, ``rho1(m1 tau) (a, b) = (c a - s b, s a + c b)``. Input ``ab``
    ``(N_in, 2 B n)`` (columns: ``a|b``, batch, field), output ``(F, N_out, B, 2, n)``. Written as one
    function so that the backward writes the four signed blocks of the gradient once, instead of
    autograd zero-filling a full-size gradient for each of the four slices.
    """

    @staticmethod
    def forward(ctx, ab, s, s_t, n_filters, batch):
        ctx.s_t = s_t
        p = (s @ ab).view(2, n_filters, -1, 2, batch, ab.shape[1] // (2 * batch))  # (c|s, f, x, a|b, B, n)
        out = p.new_empty(p.shape[1], p.shape[2], batch, 2, p.shape[-1])
        torch.sub(p[0, :, :, 0], p[1, :, :, 1], out=out[:, :, :, 0])
        torch.add(p[1, :, :, 0], p[0, :, :, 1], out=out[:, :, :, 1])
        return out

    @staticmethod
    def backward(ctx, grad):
        ga, gb = grad[:, :, :, 0], grad[:, :, :, 1]  # (F, x, B, n)
        f, x, batch, _, n = grad.shape
        gp = grad.new_empty(2, f, x, 2, batch, n)
        gp[0, :, :, 0] = ga
        gp[0, :, :, 1] = gb
        gp[1, :, :, 0] = gb
        torch.neg(ga, out=gp[1, :, :, 1])
        return ctx.s_t @ gp.view(2 * f * x, 2 * batch * n), None, None, None, None


def _filter_operator(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, n_rows: int, n_cols: int):
    r"""``(S, S^T)``, both CSR, for ``n_b = values.shape[0]`` stacked blocks with the same sparsity.

    The ``P`` pairs ``(rows[p], cols[p])`` are sorted by row; block ``b`` holds ``values[b]`` at them, and
    ``S`` is ``(n_b * n_rows, n_cols)`` with row ``b * n_rows + r`` for block ``b``, row ``r``. In ``S^T``
    (``(n_cols, n_b * n_rows)``) the entries of a row are in pair-major order ``(pair, block)``: then
    every array is a plain gather by the pairs' order along ``cols`` (the column indices within a row are
    not sorted, which the CSR product does not need).
    """
    n_b, n_pairs = values.shape
    # 32-bit indices where they fit: less memory, and the products run ~10% faster
    itype = torch.int32 if max(n_b * n_pairs, n_b * n_rows, n_cols) < 2**31 else torch.long
    counts = torch.bincount(rows, minlength=n_rows)
    crow = torch.zeros(n_b * n_rows + 1, dtype=itype)
    torch.cumsum(counts.repeat(n_b), 0, out=crow[1:])
    order = torch.argsort(cols, stable=True)
    crow_t = torch.zeros(n_cols + 1, dtype=itype)
    torch.cumsum(torch.bincount(cols, minlength=n_cols) * n_b, 0, out=crow_t[1:])
    cols_t = (rows[order].to(itype).unsqueeze(1) + n_rows * torch.arange(n_b, dtype=itype)).reshape(-1)
    cols = cols.to(itype)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")
        s = torch.sparse_csr_tensor(crow, cols.repeat(n_b), values.reshape(-1), (n_b * n_rows, n_cols),
                                    check_invariants=False)
        s_t = torch.sparse_csr_tensor(crow_t, cols_t, values.T.contiguous().index_select(0, order).reshape(-1),
                                      (n_cols, n_b * n_rows),
                                      check_invariants=False)
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
        self.n_neighbours = idx.shape[1]  # the most neighbours of any output point
        alpha, beta, tau = (a[mask] for a in twist_angles(bundle, x, y, idx))  # (P,) over the kept pairs
        rows, cols = mask.nonzero(as_tuple=True)[0], idx[mask]  # pairs (output x, input y), sorted by x
        self.n_pairs = rows.numel()
        phi = basis.radial(beta) * (4 * math.pi / self.grid.npix)  # (P, R)
        # filters: for each ring, one per output frequency m2 = 0, two (cos, sin) per m2 > 0
        filters, self.filter_index = [], {}
        for j in range(basis.n_rings):
            for m2 in basis.out_groups:
                if m2 == 0:
                    self.filter_index[(j, 0, "c")] = len(filters)
                    filters.append(phi[:, j])
                else:
                    self.filter_index[(j, m2, "c")] = len(filters)
                    filters.append(phi[:, j] * torch.cos(m2 * alpha))
                    self.filter_index[(j, m2, "s")] = len(filters)
                    filters.append(phi[:, j] * torch.sin(m2 * alpha))
        self.n_filters = len(filters)
        psi = torch.stack(filters)  # (F, P), float64
        n_out = self.out_grid.npix
        # input channels in the "twisted order": scalars, then (all a, all b) components per m1 > 0;
        # operator rows: (filter, x) for m1 = 0, (cos|sin, filter, x) for m1 > 0
        perm, self.groups = [], []
        if 0 in basis.in_groups:
            g0 = basis.in_groups[0].reshape(-1)
            self.groups.append((0, g0.numel()))
            perm += g0.tolist()
            self._register_operator(0, rows, cols, psi, n_out)
        for m1, g in basis.in_groups.items():
            if m1 > 0:
                self.groups.append((m1, g.shape[0]))
                perm += g[:, 0].tolist() + g[:, 1].tolist()
                twisted = torch.cat([psi * torch.cos(m1 * tau), psi * torch.sin(m1 * tau)])  # twist folded in
                self._register_operator(m1, rows, cols, twisted, n_out)
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
    def _register_operator(self, m1: int, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, n_out: int):
        op, op_t = _filter_operator(rows, cols, values, n_out, self.grid.npix)
        self.register_buffer(f"op_{m1}", op, persistent=False)
        self.register_buffer(f"op_t_{m1}", op_t, persistent=False)

    def _operators(self, m1: int, like: torch.Tensor):
        """The filter operator of frequency ``m1`` and its transpose, on ``like``'s device and dtype."""
        op, op_t = getattr(self, f"op_{m1}"), getattr(self, f"op_t_{m1}")
        if op.dtype != like.dtype or op.device != like.device:
            op, op_t = op.to(dtype=like.dtype, device=like.device), op_t.to(dtype=like.dtype, device=like.device)
        return op, op_t

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
                t = _SparseMatmul.apply(xt[..., start : start + n].reshape(-1, B * n), *self._operators(0, x))
                responses.append(t.view(F, n_out, B, n))
                start += n
                continue
            ab = xt[..., start : start + 2 * n].reshape(-1, B, 2, n).transpose(1, 2).reshape(-1, 2 * B * n)
            op, op_t = self._operators(m1, x)
            responses.append(_TwistedFilters.apply(ab, op, op_t, F, B).view(F, n_out, B, 2 * n))
            start += 2 * n
        t = responses[0] if len(responses) == 1 else torch.cat(responses, dim=-1)
        t = t.permute(2, 1, 0, 3).reshape(B * n_out, F * self.in_type.dim)
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

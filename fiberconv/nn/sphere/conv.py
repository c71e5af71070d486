r"""``SphereConv``: the rho1-twisted cross-correlation (eq. 14) on HEALPix grids of ``S^2``.

.. math::

    [\kappa \star f](x) = \sum_{y:\ d(x, y) < r} w_y\ \kappa\big(s(x)^{-1} y\big)\,
        \rho_1\big(h_1(s(x)^{-1} s(y))\big)\, f(y), \qquad w_y = 4\pi / N_\text{pix},

with ``kappa`` in ``K_C`` expanded in :class:`~fiberconv.nn.sphere.kernels.SphereKernelBasis`,
``kappa(alpha, beta) = rho2(alpha) sum_b theta_b A_b phi_{j_b}(beta)``.

Computation. Writing the twisted neighbour values ``g_xk = rho1(tau_xk) f(y_xk)`` and
``rho2(alpha) = cos(m2 alpha) I + sin(m2 alpha) J`` (blockwise), every output is a fixed linear
combination, set by the weights ``theta``, of the *filter responses*

.. math:: T_{x, f} = \sum_k \psi_f(x, k)\, g_{xk}, \qquad
          \psi_f \in \{ w\,\phi_j(\beta),\ w\,\phi_j(\beta)\cos(m_2\alpha),\ w\,\phi_j(\beta)\sin(m_2\alpha) \}.

Everything that depends only on the grid — neighbour indices, the relative points ``s(x)^{-1} y``
(as ``alpha, beta``), the twist angles ``tau`` and the sampled filters ``psi`` — is computed once at
construction. The filters are kept as sparse CSR matrices, one per input frequency ``m1``, with one entry
per (output point, neighbour) pair and filter. For ``m1 > 0`` the twist is folded in: with
``c, s = psi cos(m1 tau), psi sin(m1 tau)``, ``rho1(m1 tau) (a, b) = (c a - s b, s a + c b)``, so the
matrix ``M = [C | S]`` (two entries per pair and filter, columns ``(a|b, y)``) gives both components from one
product, ``M [a; -b] = C a - S b`` and ``M [b; a] = S a + C b``, with the two right-hand sides side by side.
Their transposes, which the backward pass multiplies by, are kept as CSR matrices too. A forward pass is
one sparse-dense product per input frequency and one dense product with the mixing matrix assembled from
``theta``; features are laid out as ``(pixel, batch, channel)`` in memory (the output is a ``(batch,
channel, pixel)`` view of it), so a stack of layers needs no transposes between them.
Memory is ``O(N_pix x neighbours x filters)``, independent of the channels;
nothing of size ``N_pix x neighbours x channels`` is ever formed.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ...fields import FieldType
from ...spaces.healpix import HealpixGrid
from ...validation import check_int, check_matches, check_positive_float
from .geometry import cos_sin_multiples, pair_frames
from .kernels import SphereKernelBasis
from .operators import SparseMatmul, filter_operator
from .quadrature import MomentQuadrature

__all__ = ["SphereConv", "default_radius"]


def default_radius(grid: HealpixGrid, pixels: float = 3.0) -> float:
    """A kernel radius of ``pixels`` mean pixel spacings, ``sqrt(4 pi / N_pix)`` each."""
    return pixels * math.sqrt(4 * math.pi / grid.npix)


def _check_grid(grid, who):
    if not isinstance(grid, HealpixGrid):
        raise TypeError(f"{who}: expected a HealpixGrid, got {type(grid).__name__}")
    return grid


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
    dtype : torch.dtype, optional
        Floating dtype of the weights and of the precomputed filter operators (default:
        ``torch.get_default_dtype()``). The pair geometry is always computed in float64; the operator
        values, products of a few factors rounded to ``dtype``, are formed in ``dtype`` (float32: a
        relative error of a few 1e-7, at half the time and memory of forming them in float64). For
        float64 accuracy build with ``dtype=torch.float64``: ``.double()`` on a float32 layer keeps the
        float32 rounding of its operators.
    device : torch.device, optional
        Where the parameters and buffers live (built on the CPU, then moved).
    quadrature : int or None
        Degree ``d`` of the moment-matched quadrature (:mod:`~fiberconv.nn.sphere.quadrature`; default 3):
        per output point, the weights that integrate polynomials of degree ``<= d`` in ``z`` exactly, nearest
        to the sampled kernel. ``None``: the sampled kernel ``w kappa(z)`` of eq. (14) as written.

    Shapes
    ------
    input ``(batch, in_type.dim, grid.npix)`` -> output ``(batch, out_type.dim, out_grid.npix)``, on the
    input's device and dtype.
    """

    def __init__(self, in_type: FieldType, out_type: FieldType, grid: HealpixGrid, radius: float | None = None,
                 n_rings: int = 2, stride: int = 1, bias: bool = True, dtype: torch.dtype | None = None,
                 device=None, quadrature: int | None = 3):
        super().__init__()
        self.grid = _check_grid(grid, "SphereConv")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"SphereConv: dtype must be a floating torch.dtype, got {dtype!r}")
        check_int(stride, "stride", 1, who="SphereConv", expected="a power of two >= 1")
        if stride & (stride - 1):
            raise ValueError(f"SphereConv: stride must be a power of two >= 1, got {stride!r}")
        if stride > grid.nside:
            raise ValueError(f"SphereConv: stride {stride} is larger than the input nside {grid.nside}")
        self.out_grid = HealpixGrid(grid.nside // stride, nest=grid.nest)
        self.stride = stride
        self.radius = check_positive_float(radius, "radius", who="SphereConv") if radius is not None else default_radius(grid)
        self.basis = SphereKernelBasis(in_type, out_type, self.radius, n_rings)
        self.in_type, self.out_type = in_type, out_type
        self.quadrature = quadrature
        self._build_geometry(dtype)
        # the weights multiply unit-gain elements: sigma_e from init_std is a fixed scale, not an initial size
        self.register_buffer("weight_scale", self.basis.init_std(self.grid.npix).to(dtype), persistent=False)
        self.weight = nn.Parameter(torch.empty(self.basis.dim, dtype=dtype))
        scalar_out = self.basis.out_groups.get(0)
        self.register_buffer("bias_index", scalar_out.reshape(-1) if scalar_out is not None else torch.zeros(0, dtype=torch.long),
                             persistent=False)
        self.bias = nn.Parameter(torch.zeros(self.bias_index.numel(), dtype=dtype)) if bias and self.bias_index.numel() else None
        self.reset_parameters()
        if device is not None:
            self.to(device)

    # -- construction: everything that depends only on the grid ---------------------------------------
    def reset_parameters(self) -> None:
        """Draw the weights from ``N(0, 1)`` and zero the bias.

        The kernel's coefficients are ``weight * weight_scale`` (:meth:`kernel_weights`), with the
        power-preserving per-element scale of :meth:`SphereKernelBasis.init_std`: at initialisation the
        expected output power equals the input power (on white and smooth inputs, where the elements allow),
        and every weight lives on the same scale, so an optimiser's step moves every element's gain by the
        same relative amount (the derivative-like elements need scales ~10x those of the intertwiners).
        Override it for another initialisation."""
        with torch.no_grad():
            self.weight.normal_()
            if self.bias is not None:
                self.bias.zero_()

    def kernel_weights(self) -> torch.Tensor:
        """The coefficients of the kernel in the basis of ``K_C`` (:attr:`basis`): ``weight * weight_scale``,
        ``(basis.dim,)``; ``basis.kappa_c(conv.kernel_weights(), z)`` is the layer's kernel ``kappa(z)``."""
        return self.weight * self.weight_scale.to(self.weight.dtype)

    def _build_geometry(self, dtype: torch.dtype):
        basis = self.basis
        bundle = self.in_type.bundle
        x = self.out_grid.xyz(dtype=torch.float64)
        y = self.grid.xyz(dtype=torch.float64)
        idx, mask = self.grid.neighbours_of(x, self.radius)
        self.n_neighbours = idx.shape[1]  # the most neighbours of any output point
        rows, cols = mask.nonzero(as_tuple=True)[0], idx[mask]  # pairs (output x, input y), sorted by x
        # geometry in float64; everything of size P x filters is formed in the layer's dtype
        ca, sa, beta, ct, st = pair_frames(bundle, x, y, rows, cols)  # (P,) each
        frames64 = (ca, sa, beta, ct, st)
        ca, sa, ct, st = (t.to(dtype) for t in (ca, sa, ct, st))
        self.n_pairs = rows.numel()
        phi = (basis.radial(beta) * (4 * math.pi / self.grid.npix)).to(dtype)  # (P, R)
        rot_alpha = cos_sin_multiples(ca, sa, max(basis.out_groups))
        # filters: for each ring, one per output frequency m2 = 0, two (cos, sin) per m2 > 0
        filters, self.filter_index = [], {}
        for j in range(basis.n_rings):
            for m2 in basis.out_groups:
                if m2 == 0:
                    self.filter_index[(j, 0, "c")] = len(filters)
                    filters.append(phi[:, j])
                else:
                    self.filter_index[(j, m2, "c")] = len(filters)
                    filters.append(phi[:, j] * rot_alpha[m2][0])
                    self.filter_index[(j, m2, "s")] = len(filters)
                    filters.append(phi[:, j] * rot_alpha[m2][1])
        self.n_filters = len(filters)
        psi = torch.stack(filters)  # (F, P)
        quad, psi_sampled = None, psi  # moment-matched quadrature weights (quadrature.py)
        if self.quadrature is not None:
            quad = MomentQuadrature(basis, self.filter_index, rows, self.out_grid.npix, *frames64, self.quadrature)
            psi = quad.scalar(psi)
        F, P = psi.shape
        n_out, n_in = self.out_grid.npix, self.grid.npix
        # input channels in the "twisted order": scalars, then (all a, all b) components per m1 > 0.
        # m1 = 0: rows (filter, x), columns y. m1 > 0: the twist rho1(m1 tau) folded in, M = [C | S] with
        # rows (filter, x), columns (a|b in, y): every pair twice, psi cos(m1 tau) at y, psi sin at n_in + y.
        perm, self.groups = [], []
        order = torch.argsort(cols, stable=True)  # the pairs by input pixel, for the transposes
        psi_t = psi.index_select(1, order).T.contiguous()  # (P, F), the pairs by input pixel
        if 0 in basis.in_groups:
            g0 = basis.in_groups[0].reshape(-1)
            self.groups.append((0, g0.numel()))
            perm += g0.tolist()
            self._register_operator(0, rows, cols, psi, order, psi_t, n_out, n_in)
        m1s = [m1 for m1 in basis.in_groups if m1 > 0]
        if m1s:
            rot_tau = cos_sin_multiples(ct, st, max(m1s))
            rows2 = rows.repeat_interleave(2)  # every pair twice: columns y (a) and n_in + y (b)
            cols2 = torch.stack([cols, cols + n_in], dim=1).reshape(-1)
            order2 = torch.cat([2 * order, 2 * order + 1])  # sorts cols2: all a-columns come first
        for m1 in m1s:
            g = basis.in_groups[m1]
            self.groups.append((m1, g.shape[0]))
            perm += g[:, 0].tolist() + g[:, 1].tolist()
            c, s = rot_tau[m1]
            # M: blocks = filters, entries (pair, a|b in) = psi (c, s); its transpose: entries (a|b in, pair
            # by input pixel), blocks = filters. One product per component into a strided view (~2x faster
            # than one broadcast product with a short inner dim)
            values, values_t = psi.new_empty(F, P, 2), psi.new_empty(2, P, F)
            for i, v in enumerate((c, s)):
                torch.mul(psi, v, out=values[:, :, i])
                torch.mul(psi_t, v.index_select(0, order).unsqueeze(1), out=values_t[i])
            values, values_t = values.view(F, 2 * P), values_t.view(2 * P, F)
            if quad is not None:
                values, values_t = quad.twisted(psi_sampled, m1, order)
            self._register_operator(m1, rows2, cols2, values, order2, values_t, n_out, 2 * n_in)
        self.register_buffer("in_perm", torch.tensor(perm, dtype=torch.long), persistent=False)
        inv = torch.empty_like(self.in_perm)
        inv[self.in_perm] = torch.arange(len(perm))
        self.register_buffer("in_position", inv, persistent=False)  # original channel -> position in perm
        # the fixed tensors that turn theta into the mixing matrix, per (m2, m1) pair
        patterns = []
        for m2, m1, elems in basis.type_pairs:
            d2 = 1 if m2 == 0 else 2
            pattern = torch.zeros(len(elems), d2, self.n_filters, 1 if m1 == 0 else 2, dtype=dtype)
            jmat = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=dtype)
            for e, (j, a) in enumerate(elems):
                if m2 == 0:
                    pattern[e, :, self.filter_index[(j, 0, "c")]] = a
                else:  # rho2(alpha) A = cos(m2 alpha) A + sin(m2 alpha) J A
                    pattern[e, :, self.filter_index[(j, m2, "c")]] = a
                    pattern[e, :, self.filter_index[(j, m2, "s")]] = jmat @ a.to(dtype)
            patterns.append(pattern)
        for i, p in enumerate(patterns):
            self.register_buffer(f"pattern_{i}", p, persistent=False)

    # -- forward ---------------------------------------------------------------------------------------
    def _register_operator(self, m1: int, rows, cols, values, order, values_t, n_out: int, n_in: int):
        op, op_t = filter_operator(rows, cols, values, order, values_t, n_out, n_in)
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
        coeffs = self.kernel_weights()
        for i, ((m2, m1, elems), off) in enumerate(zip(basis.type_pairs, basis.offsets)):
            og, ig = basis.out_groups[m2], basis.in_groups[m1]
            n_o, n_i = og.shape[0], ig.shape[0]
            theta = coeffs[off : off + n_o * n_i * len(elems)].view(n_o, n_i, len(elems)).to(dtype)
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
        # (N_in, B, C) in the twisted order; a SphereConv's output is stored this way, so a stack of
        # layers passes its features on without a transpose
        xt = x.permute(2, 0, 1)[..., self.in_perm]
        responses, start = [], 0
        for m1, n in self.groups:
            width = n if m1 == 0 else 2 * n
            block = xt[..., start : start + width]  # (N_in, B, width)
            start += width
            if m1 == 0:
                t = SparseMatmul.apply(block.reshape(-1, B * n), *self._operators(m1, x))  # rows (F, x)
                responses.append(t.view(F, n_out, B, n).permute(1, 2, 0, 3))  # (x, B, F, n)
                continue
            a, b = block.view(-1, B, 2, n).unbind(2)
            # rows (a|b in, y); columns (a|b out, batch, field): [a; -b] gives the a-, [b; a] the b-components
            rhs = torch.stack([torch.stack([a, b], 1), torch.stack([-b, a], 1)]).view(-1, 2 * B * n)
            t = SparseMatmul.apply(rhs, *self._operators(m1, x)).view(F, n_out, 2, B, n)
            # to (x, B, F, a|b, n): rows (x, batch) of the mixing product; chunks of B n contiguous floats
            responses.append(t.permute(1, 3, 0, 2, 4).reshape(n_out, B, F, width))
        t = responses[0] if len(responses) == 1 else torch.cat(responses, dim=-1)
        t = t.reshape(n_out * B, F * self.in_type.dim)
        out = t @ self.mixing_matrix(x.dtype).reshape(self.out_type.dim, -1).T  # (N_out * B, C_out)
        out = out.view(n_out, B, -1).permute(1, 2, 0)  # (B, C_out, N_out), stored as (N_out, B, C_out)
        if self.bias is not None:
            out = out.index_add(1, self.bias_index, self.bias.to(x.dtype).view(1, -1, 1).expand(B, -1, n_out))
        return out

    def _check_input(self, x):
        """Type, shape and device (metadata only): NaN/Inf propagate to the neighbours of their pixel."""
        self.in_type.check_tensor(x, "SphereConv", points=(self.grid.npix,), where=repr(self.grid))
        check_matches(x, self.weight, dtype=False, who="SphereConv")  # any floating dtype: operators follow x

    def extra_repr(self) -> str:
        return (f"{self.in_type} -> {self.out_type}, {self.grid!r} -> nside {self.out_grid.nside}, "
                f"radius={self.radius:.4g}, n_rings={self.basis.n_rings}, filters={self.n_filters}, "
                f"neighbours={self.n_neighbours}")

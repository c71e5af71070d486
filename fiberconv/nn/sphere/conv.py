r"""``SphereConv``: the rho1-twisted cross-correlation (eq. 14) on HEALPix grids of ``S^2``.

.. math::

    [\kappa \star f](x) = \sum_{y:\ d(x, y) < r} w_{xy}\ \kappa\big(s(x)^{-1} y\big)\,
        \rho_1\big(h_1(s(x)^{-1} s(y))\big)\, f(y),

with ``kappa`` in ``K_C`` expanded in :class:`~fiberconv.nn.sphere.kernels.SphereKernelBasis`,
``kappa(alpha, beta) = rho2(alpha) sum_b theta_b A_b phi_{j_b}(beta)``. The quadrature weights ``w_xy`` are the
pixel area ``4 pi / N_pix`` corrected per output point and filter so that they integrate polynomials of
degree ``<= quadrature`` in the relative point exactly (:mod:`~fiberconv.nn.sphere.quadrature`; the error
under rotations then falls as a power of the pixel size, ~15x per doubling of ``nside`` at the default 4;
``quadrature=None``: the area alone).

Computation. Writing the twisted neighbour values ``g_xk = rho1(tau_xk) f(y_xk)`` and
``rho2(alpha) = cos(m2 alpha) I + sin(m2 alpha) J`` (blockwise), every output is a fixed linear
combination, set by the weights ``theta``, of the *filter responses*

.. math:: T_{x, f} = \sum_k \psi_f(x, k)\, g_{xk}, \qquad
          \psi_f \in \{ w\,\phi_j(\beta),\ w\,\phi_j(\beta)\cos(m_2\alpha),\ w\,\phi_j(\beta)\sin(m_2\alpha) \}.

Everything that depends only on the grid — neighbour indices, the relative points ``s(x)^{-1} y``
(as ``alpha, beta``), the twist angles ``tau`` and the filter values ``psi`` — lives in a
:class:`~fiberconv.nn.sphere.conv_geometry.SphereConvGeometry`, shared by every layer with the same grid,
radius, rings, stride and quadrature (the models build one per level). It stores the values for
representative pixels only (one per orbit of the rotations about the polar axis that map the grid onto
itself) and derives from them, per device and dtype, the per-pixel filter operators: CSR arrays, one
operator per input frequency ``m1``, with one entry per (output point, neighbour) pair and filter. For
``m1 > 0`` the twist is folded in: with ``c, s = psi cos(m1 tau), psi sin(m1 tau)``, ``rho1(m1 tau) (a, b) =
(c a - s b, s a + c b)``, so the matrix ``M = [C | S]`` (two entries per pair and filter, columns
``(a|b, y)``) gives both components from one product, ``M [a; -b] = C a - S b`` and ``M [b; a] = S a + C b``,
with the two right-hand sides side by side. The backward pass multiplies by the transposes, derived the
same way. A forward pass is one sparse-dense product per input frequency
(:func:`~fiberconv.nn.sphere.operators.csr_mm`, a custom operator, so ``torch.compile`` and
``torch.export`` treat it as one opaque call) and one dense product with the mixing matrix assembled from
``theta`` (the bias added by the same call). The sparse products read the input pixel-major, ``(pixel,
batch, channel)``; the output is a contiguous ``(batch, channel, pixel)`` tensor, so that the batch norm and
gates after it work on one memory layout (elementwise products of tensors in different layouts, forward
against backward, cost several times more: about a third of a spherical-digits training step). Whichever is
smaller, the filter responses (``F C_in`` per pixel, then the mixing writes ``(batch, channel, pixel)``
directly) or the output (``C_out`` per pixel), is transposed, as a 2-D transpose where it can be.

State. The module holds only dense tensors: the weights, the bias and small index and pattern buffers
(non-persistent). The geometry is a plain object (not a buffer): ``deepcopy`` shares it, pickling keeps
its settings, and ``.to()`` does not touch it — the operators follow the input's device and dtype
(float16/bfloat16 on the CPU run the sparse product in float32).
"""
from __future__ import annotations

import torch
from torch import nn

from ...fields import FieldType
from ...spaces.healpix import HealpixGrid
from ...validation import check_matches
from ..signature import TypeSignature
from .conv_geometry import SphereConvGeometry, default_radius, filter_index
from .kernels import SphereKernelBasis
from .operators import compute_dtype, csr_mm

__all__ = ["SphereConv", "default_radius"]


@torch.compiler.assume_constant_result
def _derived(geometry, m2s, m1, device, dtype):
    """The geometry's derived operator, run eagerly even while ``torch.compile`` traces (its result, a
    function of the grid only, enters the graph as a constant)."""
    return geometry.operator(m2s, m1, device, dtype)


class SphereConv(TypeSignature, nn.Module):
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
        Floating dtype of the weights (default: ``torch.get_default_dtype()``). The filter operators are
        derived from the float64 geometry in the dtype of each input (float32 for float16/bfloat16 inputs
        on the CPU), so ``.double()`` gives float64 operators.
    device : torch.device, optional
        Where the parameters and buffers live (``"meta"`` works: shapes only).
    quadrature : int or None
        Degree ``d`` of the moment-matched quadrature (:mod:`~fiberconv.nn.sphere.quadrature`; default 4):
        per output point, the weights that integrate polynomials of degree ``<= d`` in ``z`` exactly, nearest
        to the sampled kernel. ``None``: the sampled kernel ``w kappa(z)`` of eq. (14) as written.
    geometry : SphereConvGeometry, optional
        The grid-only part (neighbourhoods, quadrature, filter values), shared with other layers of the same
        grid, radius, rings, stride and quadrature; built here when not given. ``grid`` must equal its grid,
        and ``radius``, ``n_rings``, ``stride``, ``quadrature`` are taken from it.

    Shapes
    ------
    input ``(batch, in_type.dim, grid.npix)`` -> output ``(batch, out_type.dim, out_grid.npix)``, on the
    input's device and dtype.
    """

    def __init__(self, in_type: FieldType, out_type: FieldType, grid: HealpixGrid, radius: float | None = None,
                 n_rings: int = 2, stride: int = 1, bias: bool = True, dtype: torch.dtype | None = None,
                 device=None, quadrature: int | None = 4, geometry: SphereConvGeometry | None = None):
        super().__init__()
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"SphereConv: dtype must be a floating torch.dtype, got {dtype!r}")
        if geometry is None:
            geometry = SphereConvGeometry(grid, radius, n_rings, stride, quadrature)
        elif not isinstance(geometry, SphereConvGeometry):
            raise TypeError(f"SphereConv: geometry must be a SphereConvGeometry, got {type(geometry).__name__}")
        elif geometry.grid != grid:
            raise ValueError(f"SphereConv: the geometry is for {geometry.grid!r}, the layer's grid is {grid!r}")
        self.geometry, n_rings = geometry, geometry.n_rings
        self.grid, self.out_grid, self.stride = geometry.grid, geometry.out_grid, geometry.stride
        self.radius, self.quadrature = geometry.radius, geometry.quadrature
        self.basis = SphereKernelBasis(in_type, out_type, self.radius, geometry.n_rings)
        self.in_type, self.out_type = in_type, out_type
        self._build_layout(dtype)
        # the weights multiply unit-gain elements: sigma_e from init_std is a fixed scale, not an initial size.
        # float64 and not a buffer: derived from the basis, it follows the weights' dtype without rounding
        self.weight_scale = self.basis.init_std(self.grid.npix)
        self.weight = nn.Parameter(torch.empty(self.basis.dim, dtype=dtype))
        scalar_out = self.basis.out_groups.get(0)
        self.register_buffer("bias_index", scalar_out.reshape(-1) if scalar_out is not None else torch.zeros(0, dtype=torch.long),
                             persistent=False)
        self.bias = nn.Parameter(torch.zeros(self.bias_index.numel(), dtype=dtype)) if bias and self.bias_index.numel() else None
        self.reset_parameters()
        if device is not None:
            self.to(device)

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
        return self.weight * self.weight_scale.to(dtype=self.weight.dtype, device=self.weight.device)

    # -- construction: the channel layout and the patterns that turn theta into the mixing matrix ----------
    def _build_layout(self, dtype: torch.dtype):
        basis, geometry = self.basis, self.geometry
        self.m2s = tuple(basis.out_groups)
        self.filter_index = filter_index(self.m2s, basis.n_rings)
        self.n_filters = len(self.filter_index)
        self.n_neighbours, self.n_pairs = geometry.n_neighbours, geometry.n_pairs
        # input channels in the "twisted order": scalars, then (all a, all b) components per m1 > 0
        perm, self.groups = [], []
        geometry.prepare(self.m2s, tuple(basis.in_groups))  # fit the quadrature now, not in the first forward
        for m1, g in basis.in_groups.items():
            if m1 == 0:
                self.groups.append((0, g.numel()))
                perm += g.reshape(-1).tolist()
            else:
                self.groups.append((m1, g.shape[0]))
                perm += g[:, 0].tolist() + g[:, 1].tolist()
        perm = torch.tensor(perm, dtype=torch.long)
        position = torch.empty_like(perm)  # original channel -> position in the twisted order
        position[perm] = torch.arange(len(perm))
        self.register_buffer("in_perm", None if torch.equal(perm, torch.arange(len(perm))) else perm, persistent=False)
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
        # where each pair's block lands in the flattened mixing matrix (C_out, F, C_in): one index_copy per call
        index, n_f, c_in = [], self.n_filters, self.in_type.dim
        for m2, m1, _ in basis.type_pairs:
            og, ig = basis.out_groups[m2], basis.in_groups[m1]
            rows = og.reshape(-1)
            # positions in the twisted order: for m1 > 0 all a-components first, then all b-components
            cols = position[ig.transpose(0, 1).reshape(-1)] if m1 > 0 else position[ig.reshape(-1)]
            index.append(((rows[:, None, None] * n_f + torch.arange(n_f)[None, :, None]) * c_in + cols).reshape(-1))
        self.register_buffer("mix_index", torch.cat(index), persistent=False)
        # which tensor the forward pass transposes between the pixel-major sparse products and the (B, C, N) output:
        # the responses, F C_in per pixel, or the output, C_out per pixel (both give the same result)
        self.responses_by_batch = self.n_filters * self.in_type.dim <= self.out_type.dim

    # -- forward ---------------------------------------------------------------------------------------
    def operator(self, m1: int, device=None, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, ...]:
        """The CSR arrays of the filter operator of input frequency ``m1`` and of its transpose
        (:meth:`SphereConvGeometry.operator`), derived for ``device`` and ``dtype`` (default: the weight's)."""
        device = self.weight.device if device is None else torch.device(device)
        return _derived(self.geometry, self.m2s, m1, device, dtype or self.weight.dtype)

    def mixing_matrix(self, dtype=None) -> torch.Tensor:
        """``(C_out, F, C_in)`` in the twisted input order: output = ``sum_{f, c} M[o, f, c] T[f, c]``."""
        basis = self.basis
        dtype = dtype or self.weight.dtype
        coeffs, blocks = self.kernel_weights(), []
        for i, ((m2, m1, elems), off) in enumerate(zip(basis.type_pairs, basis.offsets)):
            n_o, n_i = basis.out_groups[m2].shape[0], basis.in_groups[m1].shape[0]
            theta = coeffs[off : off + n_o * n_i * len(elems)].view(n_o, n_i, len(elems)).to(dtype)
            block = torch.einsum("oie,eafb->oafib", theta, getattr(self, f"pattern_{i}").to(dtype))  # (n_o, d2, F, n_i, d1)
            blocks.append((block.permute(0, 1, 2, 4, 3) if m1 > 0 else block).reshape(-1).to(dtype))  # einsum may autocast
        values = torch.cat(blocks) if len(blocks) > 1 else blocks[0]
        m = values.new_zeros(self.out_type.dim * self.n_filters * self.in_type.dim)
        m = m.index_copy(0, self.mix_index, values)
        m = m.view(self.out_type.dim, self.n_filters, self.in_type.dim)
        return m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        B, n_out, F = x.shape[0], self.out_grid.npix, self.n_filters
        if B == 0:  # an empty batch gives an empty batch (the products below cannot infer their shapes),
            # still connected to the input and the weights, so that backward gives (zero) gradients
            zero = x.sum() + self.weight.sum().to(x.dtype) * 0
            return x.new_zeros(0, self.out_type.dim, n_out) + zero * 0
        # (N_in, B, C) in the twisted order, pixel-major for the sparse products; a 2-D transpose (torch copies
        # those blocked, several times faster than a 3-D permute)
        c_in = self.in_type.dim
        xt = x if self.in_perm is None else x.index_select(1, self.in_perm)  # backward: index_add, not index_put
        xt = xt.reshape(B * c_in, -1).t().contiguous().view(-1, B, c_in)
        op_dtype = compute_dtype(x.dtype, x.device)
        # the filter responses T, channels in the twisted order, written group by group: (B, F, C_in, N_out) when
        # that is smaller than the output (then the mixing writes (B, C_out, N_out) directly), else (N_out, B, F,
        # C_in) and the output is transposed once (the product's layout follows T's)
        by_batch = getattr(self, "responses_by_batch", False)  # (modules pickled before it existed)
        t, start = None, 0  # T is allocated by the first group
        for m1, n in self.groups:
            width = n if m1 == 0 else 2 * n
            block = xt[..., start : start + width]  # (N_in, B, width)
            if m1 == 0:
                r = csr_mm(block.reshape(-1, B * n), *self.operator(0, x.device, op_dtype), F * n_out)  # rows (F, x)
                r = r.view(F, n_out, B, n).permute(*((2, 0, 3, 1) if by_batch else (1, 2, 0, 3)))
            else:
                a, b = block.view(-1, B, 2, n).unbind(2)
                # rows (a|b in, y); columns (a|b out, batch, field): [a; -b] gives the a-, [b; a] the b-components
                rhs = torch.stack([torch.stack([a, b], 1), torch.stack([-b, a], 1)]).view(-1, 2 * B * n)
                r = csr_mm(rhs, *self.operator(m1, x.device, op_dtype), F * n_out).view(F, n_out, 2, B, n)
                r = r.permute(*((3, 0, 2, 4, 1) if by_batch else (1, 3, 0, 2, 4)))  # a|b then field: channels
            if start == 0:
                t = r.new_empty((B, F, c_in, n_out) if by_batch else (n_out, B, F, c_in))
            # each group's responses copied once into its channels of T
            (t[:, :, start : start + width] if by_batch else t[..., start : start + width]).view(r.shape).copy_(r)
            start += width
        mix = self.mixing_matrix(t.dtype).reshape(self.out_type.dim, -1)  # (C_out, F C_in)
        bias = None if self.bias is None else t.new_zeros(self.out_type.dim).index_copy(
            0, self.bias_index, self.bias.to(t.dtype))  # zero on the m > 0 channels, added by the product itself
        if by_batch:
            t = t.view(B, F * c_in, n_out)
            return torch.matmul(mix, t) if bias is None else torch.baddbmm(bias.view(1, -1, 1), mix.expand(B, -1, -1), t)
        t = t.view(n_out * B, F * c_in)
        out = t @ mix.T if bias is None else torch.addmm(bias, t, mix.T)  # (N_out B, C_out)
        return out.view(n_out, -1).t().contiguous().view(B, -1, n_out)  # (B, C_out, N_out), a 2-D transpose

    def _check_input(self, x):
        """Type, shape and device (metadata only): NaN/Inf propagate to the neighbours of their pixel."""
        self.in_type.check_tensor(x, "SphereConv", points=(self.grid.npix,), where=repr(self.grid))
        check_matches(x, self.weight, dtype=False, who="SphereConv")  # any floating dtype: operators follow x

    def extra_repr(self) -> str:
        return (f"{self.in_type} -> {self.out_type}, {self.grid!r} -> nside {self.out_grid.nside}, "
                f"radius={self.radius:.4g}, n_rings={self.basis.n_rings}, filters={self.n_filters}, "
                f"neighbours={self.n_neighbours}")

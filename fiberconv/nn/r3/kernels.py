r"""Analytic bases of the SE(3)-equivariant kernels on ``R^3`` (Sec. 6.2 of Cohen, Geiger & Weiler 2019).

Theory
------
On ``R^3 = SE(3)/SO(3)`` with the translation section, the cocycle is ``h1(x, r) = r`` (SE(3) is a
semidirect product), so Theorem 3.3 says a kernel ``kappa: R^3 -> Hom(V1, V2)`` between fields of
types ``rho1, rho2`` (SO(3) representations) must satisfy

.. math::  \kappa(r x) = \rho_2(r)\, \kappa(x)\, \rho_1(r)^{-1}, \qquad r \in SO(3),\ x \in R^3 .   (K_C)

The double cosets ``SO(3) \ SE(3) / SO(3)`` are the radii ``[0, inf)`` with representatives
``gamma(rad)`` = translation by ``rad e_z``; off the origin the stabilizer is ``SO(2) = {Z(t)}``, at
the origin all of SO(3) (Theorem 3.4, :meth:`~fiberconv.spaces.homogeneous.EuclideanR3.double_coset`).
A ``K_D`` kernel is a function of the radius with values in the ``SO(2)``-intertwiners (all of
``SO(3)`` at ``rad = 0``), and ``kappa_C(h gamma(rad) o) = rho2(h) kappa_D(rad) rho1(h)^{-1}``
(:func:`fiberconv.nn.kernel_spaces.kd_to_kc`).

For irreducible ``rho1 = D^{l_in}``, ``rho2 = D^{l_out}`` the ``Z(t)``-intertwiners at ``rad e_z`` form a
space of dimension ``2 min(l_in, l_out) + 1``, spanned by the matrices ``Q^J[M = 0]`` of the real
Clebsch-Gordan coefficients ``Q^J = Q^J_{l_out, l_in}`` (:mod:`fiberconv.spaces.clebsch_gordan`),
``|l_in - l_out| <= J <= l_in + l_out``. Mapped to ``K_C`` by ``kd_to_kc`` (with ``h = Z(alpha) Y(beta)``
and ``Y_J(h e_z) = D^J(h) Y_J(e_z)``) they become the closed form used here:

.. math::  \kappa_{s, J}(x)_{m_o m_i} = c_{s,J}\, \varphi_{s,J}(|x|) \sum_{M=-J}^{J} Q^J[M, m_o, m_i]\, Y_{J M}(x / |x|),

which satisfies (K_C) because ``Q^J (D^{l_out} (x) D^{l_in}) = D^J Q^J`` and ``Y_J(r x) = D^J(r) Y_J(x)``.

The grid samples used by :class:`~fiberconv.nn.r3.conv.R3Conv` are produced by the generic machinery:
:class:`R3KernelBasis` evaluates ``kd_to_kc`` of the ``K_D`` basis (:meth:`IrrepPairBasis.kd`) at the
``k^3`` offsets, once, at construction. The closed form (:meth:`IrrepPairBasis.__call__`) evaluates the
same kernels at arbitrary points (they agree to ~1e-15).
``tests/nn/r3/test_kernels.py`` checks that this equals ``kd_to_kc`` of :meth:`IrrepPairBasis.kd`,
that it satisfies (K_C) at random continuous points, and that it spans the numerical null spaces of
:func:`~fiberconv.nn.kernel_spaces.solve_kc_on_orbit` (per sphere) and
:func:`~fiberconv.nn.kernel_spaces.solve_kd` (per radius).

Radial part and band limit
--------------------------
Lengths are in units of the voxel spacing. Shells ``s`` at radii ``rad_s = 0, 1, ..., (k-1)/2`` (kernel
size ``k``, odd) with Gaussian profiles ``exp(-(|x| - rad_s)^2 / (2 sigma^2))``; for ``J > 0`` times
``1 - exp(-|x|^2 / (2 sigma^2))``, so every basis kernel is continuous at the origin (where the angular
part of ``J > 0`` is undefined and the constraint forces ``kappa(0) = 0``); all times a cosine taper from
``(k-1)/2 - 1/2`` to ``(k-1)/2 + 1/2``, so the support is a ball inside the ``k^3`` cube rather than the
cube itself (cube-shaped truncation is the largest source of error under continuous rotations). Shell ``s`` carries only
``J <= floor(frequencies_per_radius * rad_s)`` (default 1 per voxel) (and ``J <= maximum_frequency`` if given): on a
sphere of radius ``rad`` voxels, higher angular frequencies alias. ``c_{s,J}`` normalizes each
sampled kernel to unit Frobenius norm on the ``k^3`` grid.

Grid
----
The kernel is sampled at the offsets ``d = (i, j, l) - (k-1)/2``, ``i, j, l = 0..k-1``: the array
``(..., k, k, k)`` indexes ``(x, y, z)`` as the last three dims of a ``(B, C, X, Y, Z)`` field tensor.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ...bundles import r3_bundle
from ...fields import FieldType
from ...fields.field_type import check_field_entries
from ...spaces.clebsch_gordan import real_clebsch_gordan
from ...spaces.harmonics import real_sph_harm_xyz
from ...spaces.homogeneous import EuclideanR3
from ...spaces.representations import SO3Irrep
from ...validation import check_dtype, check_int, check_nonnegative_float, check_nonnegative_int, check_positive_float
from ..kernel_spaces import kd_to_kc

__all__ = ["r3_field_type", "check_r3_field_type", "kernel_offsets", "IrrepPairBasis", "R3KernelBasis"]


def r3_field_type(*entries: tuple[int, int]) -> FieldType:
    """Field type on ``R^3`` from ``(degree l, multiplicity)`` pairs, in channel order.

    ``r3_field_type((0, 4), (1, 4), (2, 4))``: 4 scalars, 4 vectors, 4 rank-2 traceless symmetric
    tensors (36 channels).
    """
    pairs = check_field_entries(entries, "r3_field_type", "degree l", "r3_field_type((0, 4), (1, 4))")
    return FieldType(r3_bundle(), [(SO3Irrep(l), n) for l, n in pairs])


def check_r3_field_type(ft, who: str, name: str = "field type") -> FieldType:
    """Check ``ft`` is a FieldType on ``R^3 = SE(3)/SO(3)`` whose irreps are ``SO3Irrep``; return it."""
    if not isinstance(ft, FieldType):
        raise TypeError(f"{who}: {name} must be a FieldType on R^3 (e.g. r3_field_type((0, 2), (1, 1))), got {type(ft).__name__}")
    if not isinstance(ft.bundle.space, EuclideanR3):
        raise ValueError(f"{who}: {name} {ft} lives on {ft.bundle.space.name}, expected R^3 = SE(3)/SO(3)")
    bad = [r for r in ft.representation.irreps if not isinstance(r, SO3Irrep)]
    if bad:
        raise ValueError(f"{who}: {name} {ft} must decompose into SO3Irrep's, found {bad[0]!r}")
    return ft


def kernel_offsets(kernel_size: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """Centred offsets ``(k, k, k, 3)``: ``[i, j, l] -> (i, j, l) - (k-1)/2`` (voxel units)."""
    expected = "a positive odd int (the kernel is centred on a voxel)"
    if check_int(kernel_size, "kernel_size", 1, expected=expected) % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int (the kernel is centred on a voxel), got {kernel_size!r}")
    a = torch.arange(kernel_size, dtype=dtype, device=device) - (kernel_size - 1) / 2
    return torch.stack(torch.meshgrid(a, a, a, indexing="ij"), dim=-1)


def _unit_directions(x: torch.Tensor):
    """``|x|`` and ``x / |x|`` with ``e_z`` substituted at the origin (where only ``J = 0`` is non-zero)."""
    rad = torch.linalg.vector_norm(x, dim=-1)
    ez = torch.zeros_like(x)
    ez[..., 2] = 1
    safe = torch.where((rad > 1e-12)[..., None], x, ez)
    return rad, safe


class IrrepPairBasis:
    r"""Analytic kernel basis for ``SO3Irrep(l_in) -> SO3Irrep(l_out)`` on ``R^3`` (module docstring).

    Parameters
    ----------
    l_in, l_out : int
    radii : sequence of float
        Shell radii ``rad_s`` (voxel units), non-negative.
    sigma : float
        Gaussian width of the shells.
    max_frequencies : sequence of int
        ``J_max`` of every shell (same length as ``radii``).
    window : ``(a, b)``, optional
        Radial taper: every profile is multiplied by ``1`` below ``a``, ``(1 + cos(pi (|x| - a) / (b - a))) / 2``
        between, ``0`` above ``b`` (no taper if ``None``).

    Attributes
    ----------
    elements : list of ``(s, J)``: the basis kernels, shell index and angular degree.
    scale : Tensor ``(n,)``, the normalisation ``c_{s,J}`` (ones until :meth:`normalize`).
    """

    def __init__(self, l_in: int, l_out: int, radii: Sequence[float], sigma: float, max_frequencies: Sequence[int],
                 window: tuple[float, float] | None = None):
        self.l_in, self.l_out = int(l_in), int(l_out)
        self.window = None if window is None else (float(window[0]), float(window[1]))
        self.radii = [float(r) for r in radii]
        self.sigma = float(sigma)
        self.elements: list[tuple[int, int]] = []
        for s, jmax in enumerate(max_frequencies):
            for J in range(abs(self.l_in - self.l_out), min(self.l_in + self.l_out, int(jmax)) + 1):
                self.elements.append((s, J))
        self.js = sorted({J for _, J in self.elements})
        # Q^J_{l_out, l_in}: (2J+1, 2l_out+1, 2l_in+1), float64
        self.cg: dict[int, torch.Tensor] = {J: real_clebsch_gordan(self.l_out, self.l_in, J) for J in self.js}
        self.scale = torch.ones(len(self.elements), dtype=torch.float64)

    @property
    def size(self) -> int:
        """Number of basis kernels."""
        return len(self.elements)

    @property
    def shape(self) -> tuple[int, int]:
        """``(2 l_out + 1, 2 l_in + 1)``."""
        return (2 * self.l_out + 1, 2 * self.l_in + 1)

    def radial(self, rad: torch.Tensor) -> torch.Tensor:
        r"""``phi_{s,J}(rad)`` for every element: ``(...) -> (..., n)``."""
        shells = torch.tensor(self.radii, dtype=rad.dtype, device=rad.device)
        g = torch.exp(-((rad[..., None] - shells) ** 2) / (2 * self.sigma**2))  # (..., S)
        onset = 1 - torch.exp(-(rad**2) / (2 * self.sigma**2))
        if self.window is not None:
            a, b = self.window
            t = ((rad - a) / (b - a)).clamp(0, 1)
            g = g * (0.5 * (1 + torch.cos(math.pi * t)))[..., None]
        cols = [g[..., s] * (onset if J > 0 else 1) for s, J in self.elements]
        return torch.stack(cols, dim=-1) if cols else rad.new_zeros(rad.shape + (0,))

    def __call__(self, x: torch.Tensor, sph: torch.Tensor | None = None) -> torch.Tensor:
        r"""``K_C``: the basis kernels at points ``x (..., 3)`` -> ``(..., n, 2l_out+1, 2l_in+1)``.

        ``sph`` may pass precomputed ``real_sph_harm_xyz(Jmax, x / |x|)`` (``e_z`` at the origin).
        """
        if not isinstance(x, torch.Tensor) or x.shape[-1:] != (3,) or not x.is_floating_point():
            raise ValueError(f"IrrepPairBasis: points must be a floating tensor (..., 3), got {getattr(x, 'shape', x)!r}")
        rad, unit = _unit_directions(x)
        if sph is None:
            sph = real_sph_harm_xyz(max(self.js, default=0), unit)
        phi = self.radial(rad) * self.scale.to(x.dtype).to(x.device)  # (..., n)
        ang = {J: (sph[..., J * J: (J + 1) ** 2] @ self.cg[J].to(x).reshape(2 * J + 1, -1)).reshape(x.shape[:-1] + self.shape)
               for J in self.js}
        if not self.elements:
            return x.new_zeros(x.shape[:-1] + (0,) + self.shape)
        return torch.stack([phi[..., i, None, None] * ang[J] for i, (_, J) in enumerate(self.elements)], dim=-3)

    def kd(self, rad: torch.Tensor) -> torch.Tensor:
        r"""``K_D``: the basis at the double-coset representatives ``gamma(rad) o = rad e_z``.

        ``kappa_D(rad) = c phi(rad) sqrt((2J+1) / 4 pi) Q^J[M = 0]``: ``(...) -> (..., n, 2l_out+1, 2l_in+1)``.
        """
        phi = self.radial(rad) * self.scale.to(rad)
        if not self.elements:
            return rad.new_zeros(rad.shape + (0,) + self.shape)
        mats = [math.sqrt((2 * J + 1) / (4 * math.pi)) * self.cg[J][J].to(rad) for _, J in self.elements]
        return phi[..., None, None] * torch.stack(mats)

    def normalize(self, samples: torch.Tensor) -> torch.Tensor:
        """Given the unnormalised samples ``(n, 2l_out+1, 2l_in+1, k, k, k)`` of the kernels (``scale = 1``) on
        the grid, set ``scale`` to make each unit-norm there and return the normalised samples (elements
        that vanish on the grid are dropped)."""
        norms = samples.flatten(1).norm(dim=1)
        keep = norms > 1e-8
        self.elements = [e for e, k in zip(self.elements, keep.tolist()) if k]
        self.scale = (1.0 / norms[keep]).to(torch.float64)
        return samples[keep] * self.scale.to(samples)[:, None, None, None, None, None]

    def __repr__(self):
        return f"IrrepPairBasis(l_in={self.l_in}, l_out={self.l_out}, n={self.size})"


def _group_by_degree(ft: FieldType) -> dict[int, torch.Tensor]:
    """``{l: channel indices (n_l, 2l+1)}`` over the irreducible blocks of ``ft``."""
    groups: dict[int, list[list[int]]] = {}
    for sl, rep in ft.irrep_blocks():
        groups.setdefault(rep.l, []).append(list(range(sl.start, sl.stop)))
    return {l: torch.tensor(v, dtype=torch.long) for l, v in sorted(groups.items())}


class R3KernelBasis:
    r"""The sampled equivariant kernel basis between two field types on ``R^3``, and its expansion.

    Built once (float64, then cast to ``dtype``): for every pair of degrees ``(l_out, l_in)`` present, an
    :class:`IrrepPairBasis` sampled on the ``k^3`` offsets. A weight vector ``w`` (length
    :attr:`num_weights`) holds, per pair, ``(n_out_l, n_in_l, n_basis)`` coefficients; :meth:`expand`
    returns ``kernel[o, i, a, b, c] = sum w * basis`` of shape ``(C_out, C_in, k, k, k)``.

    Parameters
    ----------
    in_type, out_type : FieldType on ``R^3`` (irreps ``SO3Irrep``)
    kernel_size : odd int
    sigma : float, default 0.6
        Shell width (voxel units).
    radii : sequence of float, optional
        Default ``0, 1, ..., (k-1)/2``.
    frequencies_per_radius : float, default 1.0
        Band limit ``J <= floor(frequencies_per_radius * rad_s)`` per shell (1.0: ``J_max = 0, 1, 2`` for
        ``k = 5``; 2.0 keeps every ``J <= 4`` at the outer shell but doubles the rotation error).
    window : ``(a, b)`` or ``"auto"`` or None, default ``"auto"``
        Radial taper of :class:`IrrepPairBasis`; ``"auto"`` is ``((k-1)/2 - 1/2, (k-1)/2 + 1/2)``, so the
        kernel's support is a ball inside the ``k^3`` cube (no cube-shaped truncation).
    maximum_frequency : int, optional
        Global cap on ``J``.
    """

    def __init__(self, in_type: FieldType, out_type: FieldType, kernel_size: int, sigma: float = 0.6,
                 radii: Sequence[float] | None = None, frequencies_per_radius: float = 1.0,
                 maximum_frequency: int | None = None, window="auto", dtype: torch.dtype = None, device=None):
        self.in_type = check_r3_field_type(in_type, "R3KernelBasis", "in_type")
        self.out_type = check_r3_field_type(out_type, "R3KernelBasis", "out_type")
        offsets = kernel_offsets(kernel_size)
        self.kernel_size = kernel_size
        sigma = check_positive_float(sigma, "sigma", who="R3KernelBasis")
        if radii is None:
            radii = [float(r) for r in range((kernel_size - 1) // 2 + 1)]
        radii = [check_nonnegative_float(r, "radii", who="R3KernelBasis") for r in radii]
        if not radii:
            raise ValueError("R3KernelBasis: radii must be a non-empty list of non-negative numbers, got []")
        frequencies_per_radius = check_nonnegative_float(frequencies_per_radius, "frequencies_per_radius", who="R3KernelBasis")
        jmax = [int(math.floor(frequencies_per_radius * r + 1e-9)) for r in radii]
        if maximum_frequency is not None:
            check_nonnegative_int(maximum_frequency, "maximum_frequency", who="R3KernelBasis")
            jmax = [min(j, maximum_frequency) for j in jmax]
        if isinstance(window, str) and window == "auto":
            window = ((kernel_size - 1) / 2 - 0.5, (kernel_size - 1) / 2 + 0.5)
        if window is not None and not (len(window) == 2 and 0 <= window[0] < window[1]):
            raise ValueError(f"R3KernelBasis: window must be 'auto', None or (a, b) with 0 <= a < b, got {window!r}")
        self.radii, self.sigma, self.max_frequencies, self.window = radii, float(sigma), jmax, window
        dtype = check_dtype(dtype, who="R3KernelBasis")

        self.in_groups, self.out_groups = _group_by_degree(in_type), _group_by_degree(out_type)
        self.pairs: list[tuple[int, int, IrrepPairBasis]] = [  # (l_out, l_in, basis), l_out major
            (lo, li, IrrepPairBasis(li, lo, radii, sigma, jmax, window)) for lo in self.out_groups for li in self.in_groups
        ]
        raw = self._sample_via_kernel_spaces(offsets)
        self.samples: list[torch.Tensor] = []  # (n_b, 2lo+1, 2li+1, k, k, k) per pair
        self.weight_slices: list[slice] = []
        self.num_weights = 0
        for (lo, li, pb), samp in zip(self.pairs, raw):
            samp = pb.normalize(samp)
            n = self.out_groups[lo].shape[0] * self.in_groups[li].shape[0] * pb.size
            self.samples.append(samp.to(dtype=dtype, device=device))
            self.weight_slices.append(slice(self.num_weights, self.num_weights + n))
            self.num_weights += n
        # sorted channel order (by degree) -> the field types' channel order
        out_sorted = torch.cat([v.reshape(-1) for v in self.out_groups.values()])
        in_sorted = torch.cat([v.reshape(-1) for v in self.in_groups.values()])
        self.out_perm = torch.argsort(out_sorted)  # kernel_sorted[out_perm] = kernel in out_type order
        self.in_perm = torch.argsort(in_sorted)
        self.out_identity = bool((out_sorted == torch.arange(out_type.dim)).all())
        self.in_identity = bool((in_sorted == torch.arange(in_type.dim)).all())

    def _sample_via_kernel_spaces(self, offsets: torch.Tensor) -> list[torch.Tensor]:
        r"""Sample every pair basis on the grid as ``kd_to_kc`` of its ``K_D`` realization (eq. 12 -> eq. 9).

        One call of :func:`~fiberconv.nn.kernel_spaces.kd_to_kc` for the field types with one irrep per degree
        present (``deg_in``, ``deg_out``): the ``K_D`` kernel returns all pair bases at once, each in its
        ``(l_out, l_in)`` block, as ``(n_total, P, C2, C1)`` (the leading ``n_total`` broadcasts through the
        map). Returns the unnormalised samples ``(n, 2lo+1, 2li+1, k, k, k)`` per pair.
        """
        bundle = self.in_type.bundle
        deg_in = FieldType(bundle, [SO3Irrep(l) for l in self.in_groups])
        deg_out = FieldType(bundle, [SO3Irrep(l) for l in self.out_groups])
        row0 = {lo: sum(2 * l + 1 for l in self.out_groups if l < lo) for lo in self.out_groups}
        col0 = {li: sum(2 * l + 1 for l in self.in_groups if l < li) for li in self.in_groups}
        starts = [0]
        for _, _, pb in self.pairs:
            starts.append(starts[-1] + pb.size)

        def kappa_d(rad: torch.Tensor) -> torch.Tensor:
            out = rad.new_zeros((starts[-1],) + rad.shape + (deg_out.dim, deg_in.dim))
            for (lo, li, pb), a in zip(self.pairs, starts):
                out[a: a + pb.size, ..., row0[lo]: row0[lo] + 2 * lo + 1, col0[li]: col0[li] + 2 * li + 1] = \
                    pb.kd(rad).movedim(-3, 0)
            return out

        k = self.kernel_size
        kc = kd_to_kc(kappa_d, deg_in, deg_out)(offsets.reshape(-1, 3))  # (n_total, k^3, C2, C1)
        res = []
        for (lo, li, pb), a in zip(self.pairs, starts):
            blk = kc[a: a + pb.size, :, row0[lo]: row0[lo] + 2 * lo + 1, col0[li]: col0[li] + 2 * li + 1]
            res.append(blk.permute(0, 2, 3, 1).reshape(pb.size, 2 * lo + 1, 2 * li + 1, k, k, k))
        return res

    def init_std(self) -> torch.Tensor:
        r"""Per-weight standard deviations ``(num_weights,)`` so that every output component has about
        the variance of the input components: ``std^2 = (2 l_out + 1) / N_{l_out}`` with ``N_{l_out}`` the
        number of (input field, basis kernel) terms feeding a field of degree ``l_out``."""
        fan = {lo: 0 for lo in self.out_groups}
        for (lo, li, pb) in self.pairs:
            fan[lo] += self.in_groups[li].shape[0] * pb.size
        std = torch.empty(self.num_weights, dtype=torch.float64)
        for (lo, li, pb), sl in zip(self.pairs, self.weight_slices):
            std[sl] = math.sqrt((2 * lo + 1) / max(fan[lo], 1))
        return std

    def expand(self, weight: torch.Tensor, samples: Sequence[torch.Tensor], out_perm: torch.Tensor = None,
               in_perm: torch.Tensor = None) -> torch.Tensor:
        """``weight (num_weights,) -> kernel (C_out, C_in, k, k, k)``; ``samples`` (and the permutations)
        are the tensors of :attr:`samples` on the weight's device (an ``R3Conv`` keeps them as buffers)."""
        k = self.kernel_size
        rows = []
        j = 0
        for lo, oidx in self.out_groups.items():
            cols = []
            for li, iidx in self.in_groups.items():
                _, _, pb = self.pairs[j]
                b, sl = samples[j], self.weight_slices[j]
                no, ni, do, di = oidx.shape[0], iidx.shape[0], 2 * lo + 1, 2 * li + 1
                if pb.size == 0:
                    cols.append(weight.new_zeros(no * do, ni * di, k, k, k))
                else:
                    w = weight[sl].view(no * ni, pb.size)
                    blk = (w @ b.reshape(pb.size, -1)).view(no, ni, do, di, k * k * k)
                    cols.append(blk.transpose(1, 2).reshape(no * do, ni * di, k, k, k))
                j += 1
            rows.append(torch.cat(cols, dim=1) if len(cols) > 1 else cols[0])
        kernel = torch.cat(rows, dim=0) if len(rows) > 1 else rows[0]
        if not self.out_identity:
            kernel = kernel.index_select(0, out_perm)
        if not self.in_identity:
            kernel = kernel.index_select(1, in_perm)
        return kernel

    def __call__(self, weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The continuous kernel ``kappa(x) (..., C_out, C_in)`` at points ``x (..., 3)`` for weights ``weight``
        (float64 reference evaluation, e.g. to test (K_C) before discretization)."""
        out = x.new_zeros(x.shape[:-1] + (self.out_type.dim, self.in_type.dim))
        for (lo, li, pb), sl in zip(self.pairs, self.weight_slices):
            if pb.size == 0:
                continue
            oidx, iidx = self.out_groups[lo], self.in_groups[li]
            w = weight[sl].to(x).view(oidx.shape[0], iidx.shape[0], pb.size)
            blk = torch.einsum("oin,...npq->...opiq", w, pb(x))  # (..., no, do, ni, di)
            rows, cols = oidx.reshape(-1), iidx.reshape(-1)
            out[..., rows[:, None], cols[None, :]] = blk.reshape(x.shape[:-1] + (rows.numel(), cols.numel()))
        return out

    def __repr__(self):
        return (f"R3KernelBasis({self.in_type} -> {self.out_type}, k={self.kernel_size}, radii={self.radii}, "
                f"J_max={self.max_frequencies}, {self.num_weights} weights)")

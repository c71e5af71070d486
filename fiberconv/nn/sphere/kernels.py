r"""An analytic basis of ``K_C`` (eq. 9) on ``S^2 = SO(3)/SO(2)`` for fields of SO(2) irreps.

With the section ``s(alpha, beta) = Z(alpha) Y(beta)`` the twist of a z-rotation is trivial,
``h1(x, Z(t)) = e``, so eq. (9) reads ``kappa(Z(t) x) = rho2(t) kappa(x)``: a kernel is a free
matrix-valued function ``kappa_D(beta)`` on the meridian (Theorem 3.4, the double cosets
``[0, pi]``) turned by ``rho2`` around the pole,

.. math:: \kappa(\alpha, \beta) = \rho_2(\alpha)\, \kappa_D(\beta),

except at the poles, where the whole of ``H`` fixes the point and ``kappa_D(0)`` must intertwine
``rho1`` and ``rho2`` (eq. 12; ``kappa_D(pi)`` must intertwine ``rho1(-t)`` and ``rho2(t)``).

Basis: for every pair of irreps ``(m1 -> m2)`` and every ring ``j``,

.. math:: \kappa_{j,A}(\alpha, \beta) = \rho_2(\alpha)\, A\, \phi_j(\beta),

with ``A`` running over a basis of real ``d2 x d1`` matrices — in complex notation ``z -> p z + q conj(z)``:
``I, J`` (``p = 1, i``) and ``C, CJ`` (``q = 1, i``) for ``m1, m2 > 0``, the two unit vectors when one
side is a scalar, ``[1]`` for two scalars. The radial functions are ``cos^2`` bumps

.. math:: \phi_j(\beta) = \cos^2\Big(\frac{\pi (\beta - j\Delta)}{2\Delta}\Big)\ \text{ for } |\beta - j\Delta| < \Delta,
          \qquad \Delta = \text{radius} / n_\text{rings},

normalised to unit integral over the sphere. Bumps ``j >= 1`` vanish (with their derivative) at the
pole, so only the centre bump ``j = 0`` meets the pole constraint, and it takes only intertwiners
(``I, J`` for ``m1 = m2 > 0``, ``[1]`` for scalars). The kernel is then continuous on the sphere: its
non-intertwining components vanish at the pole. Kernels are supported in ``beta < radius < pi``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...fields import FieldType
from ...spaces.homogeneous import Sphere
from ...spaces.representations import SO2Irrep
from ...validation import check_positive_float, check_positive_int

__all__ = ["SphereKernelBasis", "angular_elements"]

_J = ((0.0, -1.0), (1.0, 0.0))
_C = ((1.0, 0.0), (0.0, -1.0))
_CJ = ((0.0, 1.0), (1.0, 0.0))


def angular_elements(m1: int, m2: int, at_pole: bool) -> list[torch.Tensor]:
    """Real matrices ``A (d2, d1)`` spanning ``kappa_D(beta)`` for ``m1 -> m2``: all of ``Hom(V1, V2)``
    off the pole, the intertwiners at the pole."""
    if m1 == 0 and m2 == 0:
        return [torch.ones(1, 1, dtype=torch.float64)]
    if at_pole:
        if m1 == m2:
            return [torch.eye(2, dtype=torch.float64), torch.tensor(_J, dtype=torch.float64)]
        return []
    if m1 == 0:
        return [torch.tensor([[1.0], [0.0]], dtype=torch.float64), torch.tensor([[0.0], [1.0]], dtype=torch.float64)]
    if m2 == 0:
        return [torch.tensor([[1.0, 0.0]], dtype=torch.float64), torch.tensor([[0.0, 1.0]], dtype=torch.float64)]
    return [torch.eye(2, dtype=torch.float64)] + [torch.tensor(a, dtype=torch.float64) for a in (_J, _C, _CJ)]


def _irrep_groups(field_type: FieldType, who: str) -> dict[int, torch.Tensor]:
    """``m -> LongTensor (n_m, d_m)`` of the channels of every irrep block of frequency ``m``."""
    if not isinstance(field_type, FieldType) or not isinstance(field_type.bundle.space, Sphere):
        raise TypeError(f"{who}: expected a FieldType over SO(3) -> S^2, got {field_type!r}")
    groups: dict[int, list] = {}
    for sl, rep in field_type.irrep_blocks():
        if not isinstance(rep, SO2Irrep):
            raise TypeError(f"{who}: fields on S^2 must be built from SO2Irrep's, got {rep!r} in {field_type}")
        groups.setdefault(rep.m, []).append(list(range(sl.start, sl.stop)))
    return {m: torch.tensor(v, dtype=torch.long) for m, v in sorted(groups.items())}


class SphereKernelBasis:
    r"""Basis of ``K_C`` between two field types on ``S^2`` (see the module docstring).

    Parameters
    ----------
    in_type, out_type : FieldType over ``sphere_bundle()`` made of ``SO2Irrep``'s (regular fields
        count as their irreps ``0..M``)
    radius : float, kernel support ``0 < radius < pi`` (radians)
    n_rings : int, number of radial bumps ``>= 1``

    Attributes
    ----------
    type_pairs : list of ``(m2, m1, [(ring j, A), ...])`` over the irrep frequencies present
    dim : number of basis kernels, ``sum n_out(m2) n_in(m1) len(elements)``; weights are laid out
        pair by pair, each as ``(n_out(m2), n_in(m1), n_elements)``.
    """

    def __init__(self, in_type: FieldType, out_type: FieldType, radius: float, n_rings: int = 3):
        radius = check_positive_float(radius, "radius", who="SphereKernelBasis")
        if not radius < math.pi:
            raise ValueError(f"SphereKernelBasis: radius must lie in (0, pi) radians, got {radius}")
        check_positive_int(n_rings, "n_rings", who="SphereKernelBasis")
        self.in_type, self.out_type = in_type, out_type
        self.in_groups = _irrep_groups(in_type, "SphereKernelBasis input")
        self.out_groups = _irrep_groups(out_type, "SphereKernelBasis output")
        if in_type.bundle != out_type.bundle:
            raise ValueError("SphereKernelBasis: input and output fields must share the principal bundle")
        self.radius, self.n_rings = float(radius), n_rings
        self.width = self.radius / n_rings
        self.norms = torch.tensor([self._bump_integral(j) for j in range(n_rings)], dtype=torch.float64)
        self.type_pairs: list[tuple[int, int, list[tuple[int, torch.Tensor]]]] = []
        self.offsets: list[int] = []
        dim = 0
        for m2, og in self.out_groups.items():
            for m1, ig in self.in_groups.items():
                elems = [(j, a) for j in range(n_rings) for a in angular_elements(m1, m2, at_pole=(j == 0))]
                if not elems:
                    continue
                self.type_pairs.append((m2, m1, elems))
                self.offsets.append(dim)
                dim += og.shape[0] * ig.shape[0] * len(elems)
        self.dim = dim

    def __repr__(self):
        return (f"SphereKernelBasis({self.in_type} -> {self.out_type}, radius={self.radius:.4g}, "
                f"n_rings={self.n_rings}, dim={self.dim})")

    # -- radial part --------------------------------------------------------------------------------
    def _bump_integral(self, j: int) -> float:
        """``int_{S^2} phi_j dA = 2 pi int phi_j(beta) sin(beta) d beta`` by Gauss-Legendre (exact to rounding)."""
        lo, hi = max(0.0, (j - 1) * self.width), (j + 1) * self.width
        x, w = np.polynomial.legendre.leggauss(64)
        b = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
        phi = np.cos(math.pi * (b - j * self.width) / (2 * self.width)) ** 2
        return float(2 * math.pi * 0.5 * (hi - lo) * np.sum(w * phi * np.sin(b)))

    def radial(self, beta: torch.Tensor) -> torch.Tensor:
        r"""Normalised bumps ``phi_j(beta) / int phi_j``: ``(...,) -> (..., n_rings)``."""
        centres = torch.arange(self.n_rings, dtype=beta.dtype, device=beta.device) * self.width
        d = beta.unsqueeze(-1) - centres
        phi = torch.cos(math.pi * d / (2 * self.width)) ** 2 * (d.abs() < self.width)
        return phi / self.norms.to(dtype=beta.dtype, device=beta.device)

    # -- initialisation --------------------------------------------------------------------------------
    def element_gains(self, npix: int) -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
        r"""Power gains of every element ``(j, A)`` of every pair ``(m2, m1)``: ``[(m2, m1, g_white, g_smooth)]``
        with ``(n_elements,)`` float64 tensors, per input field and output component, for unit weight.

        White input (independent pixels of unit power): ``g_w = w ||A||_F^2 int phi_j^2 dA / d2`` (``w = 4 pi /
        N_pix``; ``rho1``, ``rho2`` are orthogonal). Smooth input (slowly varying over the kernel): the bumps have
        unit integral, so an element passes it with gain ``<rho2(alpha) A rho1(-alpha)>_alpha``: 1 for the
        intertwiners (``m1 = m2``, ``A = p I + q J`` with ``p^2 + q^2 = 1``, or ``[1]``), and 0 up to
        ``O((r k)^{2n})`` for the others, which respond to ``n``-th derivatives (``r`` the radius, ``k`` the
        input's wavenumber, ``n = |m2 -+ m1|``).
        """
        x, w = np.polynomial.legendre.leggauss(48)
        beta = np.concatenate([0.5 * self.width * x + (i + 0.5) * self.width for i in range(self.n_rings)])
        wq = np.concatenate([0.5 * self.width * w] * self.n_rings) * np.sin(beta)
        phi = self.radial(torch.tensor(beta, dtype=torch.float64)).numpy()  # (Q, R)
        phi2 = 2 * math.pi * (wq[:, None] * phi**2).sum(0)  # int phi_j^2 dA
        out = []
        for m2, m1, elems in self.type_pairs:
            d2 = 1 if m2 == 0 else 2
            g_w = [4 * math.pi / npix * float((a**2).sum()) * phi2[j] / d2 for j, a in elems]
            g_s = [float(m1 == m2 and (m1 == 0 or bool(a[0, 0] == a[1, 1] and a[0, 1] == -a[1, 0])))
                   for _, a in elems]
            out.append((m2, m1, torch.tensor(g_w, dtype=torch.float64), torch.tensor(g_s, dtype=torch.float64)))
        return out

    def init_std(self, npix: int) -> torch.Tensor:
        r"""Standard deviations of the weights (``(dim,)``, float64, in the weights' layout) for which the
        expected output power equals the input power, on white and on smooth inputs where the elements allow.

        With independent zero-mean weights the cross terms vanish in expectation, and an output field's power
        is ``E|out|^2 = sum_e sigma_e^2 n_in(m1_e) g_e P_in`` over the elements ``e`` feeding it (all input
        frequencies ``m1``; gains from :meth:`element_gains`). Per output frequency, the elements split into
        those that pass smooth inputs (``g_s > g_w``: the intertwiners) and the rest (derivative-like). With
        ``sigma_e^2 = c_e / (n_in (g_w + g_s))`` and one share ``c`` per group, the two conditions

        .. math:: \sum_e \sigma_e^2 n_	ext{in} g_{w,e} = 1, \qquad \sum_e \sigma_e^2 n_	ext{in} g_{s,e} = 1

        are two linear equations in the two shares, solvable with non-negative shares whenever both groups are
        present (e.g. vector -> vector, or scalars and vectors -> vectors). A layer with only derivative-like
        elements (scalar -> vector, vector -> scalar) cannot pass smooth inputs at unit gain: its white gain
        is 1 and its smooth gain ``O((r k)^2)``, the size of a derivative. A layer with only intertwiners
        (scalar -> scalar) cannot keep white power without amplifying smooth inputs: its smooth gain is 1 and
        its white gain ``g_w / g_s < 1``, the kernel's averaging. No nonlinearity factor (the gated and norm
        nonlinearities act on field norms; batch norm follows in the models).
        """
        n_in = {m1: g.shape[0] for m1, g in self.in_groups.items()}
        gains = self.element_gains(npix)
        variance = [None] * len(gains)
        for m2 in self.out_groups:
            pairs = [(k, n_in[m1] * gw, n_in[m1] * gs) for k, (o, m1, gw, gs) in enumerate(gains) if o == m2]
            if not pairs:
                continue
            gw, gs = torch.cat([p[1] for p in pairs]), torch.cat([p[2] for p in pairs])
            r = gw / (gw + gs)  # the white share of each element's gain
            lo = r <= 0.5
            sums = [(float(r[m].sum()), float((1 - r[m]).sum())) for m in (lo, ~lo)]  # (white, smooth) per group
            if bool(lo.any()) and bool((~lo).any()):
                shares = torch.linalg.solve(torch.tensor([[sums[0][0], sums[1][0]], [sums[0][1], sums[1][1]]],
                                                         dtype=torch.float64), torch.ones(2, dtype=torch.float64))
                share = torch.where(lo, shares[0], shares[1])
            elif bool(lo.any()):
                share = torch.full_like(r, 1 / sums[0][1])  # smooth gain 1
            else:
                share = torch.full_like(r, 1 / sums[1][0])  # white gain 1
            v, start = share / (gw + gs), 0
            for k, pw, _ in pairs:
                variance[k] = v[start : start + pw.numel()]
                start += pw.numel()
        std = torch.zeros(self.dim, dtype=torch.float64)
        for (m2, m1, elems), off, var in zip(self.type_pairs, self.offsets, variance):
            n = self.out_groups[m2].shape[0] * n_in[m1]
            std[off : off + n * len(elems)] = var.sqrt().repeat(n)
        return std

    # -- the basis as kernels ---------------------------------------------------------------------------
    def _assemble(self, weights: torch.Tensor, block_fn) -> torch.Tensor:
        """``sum_b weights[..., b] * kernel_b`` with ``block_fn(m2, m1, j, A) -> (..., d2, d1)``."""
        if weights.shape[-1] != self.dim:
            raise ValueError(f"expected {self.dim} kernel weights for {self!r}, got shape {tuple(weights.shape)}")
        out = None
        for (m2, m1, elems), off in zip(self.type_pairs, self.offsets):
            og, ig = self.out_groups[m2], self.in_groups[m1]
            n = og.shape[0] * ig.shape[0] * len(elems)
            w = weights[..., off : off + n].reshape(weights.shape[:-1] + (og.shape[0], ig.shape[0], len(elems)))
            blocks = torch.stack([block_fn(m2, m1, j, a) for j, a in elems], dim=-3)  # (..., E, d2, d1)
            contrib = torch.einsum("...oie,...eab->...oaib", w, blocks)  # (..., n_o, d2, n_i, d1)
            if out is None:
                out = contrib.new_zeros(contrib.shape[:-4] + (self.out_type.dim, self.in_type.dim))
            rows = og.reshape(-1).to(contrib.device)
            cols = ig.reshape(-1).to(contrib.device)
            out[..., rows[:, None], cols[None, :]] += contrib.flatten(-4, -3).flatten(-2, -1)
        return out

    def kappa_d(self, weights: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """``K_D``: ``kappa_D(beta) = sum_b w_b A_b phi_{j_b}(beta)``; ``weights (dim,)``, ``beta (...,)``
        ``-> (..., C_out, C_in)``."""
        phi = self.radial(beta)
        return self._assemble(weights.to(beta.dtype), lambda m2, m1, j, a: phi[..., j, None, None] * a.to(beta.dtype))

    def kappa_c(self, weights: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``K_C``: ``kappa(x) = rho2(alpha) kappa_D(beta)`` at points ``x (..., 3)`` ``-> (..., C_out, C_in)``."""
        alpha, beta = Sphere().to_angles(x)
        phi = self.radial(beta)

        def block(m2, m1, j, a):
            rot = SO2Irrep(m2).of_angle(alpha)
            return phi[..., j, None, None] * (rot @ a.to(x.dtype))

        return self._assemble(weights.to(x.dtype), block)

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """Every basis kernel at points ``x (..., 3)``: ``(..., dim, C_out, C_in)`` (for tests and analysis)."""
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device)
        return self.kappa_c(eye, x.unsqueeze(-2).expand(x.shape[:-1] + (self.dim, 3)))

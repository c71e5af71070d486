r"""``SphereConvGeometry``: the grid-only part of :class:`~fiberconv.nn.sphere.SphereConv`, built once per
(grid, radius, n_rings, stride, quadrature) and shared by every layer with those settings.

Structure used. The section ``s(alpha, beta) = Z(alpha) Y(beta)`` gives ``s(Z(t) x) = Z(t) s(x)``, so a
rotation ``Z(t)`` about the polar axis leaves every relative point ``s(x)^{-1} y`` and every twist
``h1(s(x)^{-1} s(y))`` unchanged (``h(x, Z(t)) = e``): if ``Z(t)`` maps the output and input pixels onto
themselves, the pixels ``x`` and ``Z(t) x`` have the same neighbourhood geometry, the same quadrature
weights and the same filter values. On HEALPix, ring ``r`` holds ``n_r`` pixels ``phi_j = phi_0 + 2 pi j /
n_r``; ``Z(2 pi / q)`` maps it onto itself when ``q | n_r``. The neighbourhood of a pixel of output ring
``r`` lies on the input rings within the kernel radius in colatitude, so with

.. math:: q_r = \gcd\big(n^\text{out}_r,\ n^\text{in}_{r'} : |\theta_{r'} - \theta_r| \le \text{radius}\big)

the pixels ``(r, j)`` and ``(r, j + n_r / q_r)`` share everything: ``n_r / q_r`` *representative* pixels
per ring suffice. In the equatorial belt (every ring ``4 nside`` pixels) ``q_r = 4 nside``: one
representative per ring; in the polar caps (``4 i`` pixels on ring ``i``) and next to them ``q_r = 4``:
one quadrant. About ``nside^2`` representatives for ``12 nside^2`` pixels.

State (plain dense CPU tensors, computed at construction): the orbit of every output pixel (its
representative and the number of turns ``t``), the representatives' neighbours as (input ring, position)
and, per set of frequencies asked for (:meth:`values`), the filter values at the representatives' pairs
in float64 (the moment-matched quadrature is fitted for the representatives only). The neighbour of pixel
``(r, j0 + t n_r / q_r)`` that corresponds to the representative's neighbour ``(r', j')`` is ``(r', j' + t
n_{r'} / q_r)``, so the per-pixel operator is a gather of the representatives' values.

Derived (not state): the per-pixel CSR arrays of the operators and their transposes
(:mod:`~fiberconv.nn.sphere.operators`), built on first use for one (frequencies, device, dtype) and kept in
an explicit cache on this object, ``_cache[(m2s, m1, device, dtype)]``, shared by every layer that holds
this geometry; :meth:`clear_cache` empties it. The object is immutable apart from that cache: ``deepcopy``
returns it unchanged (like a grid), and pickling keeps its settings only (it is rebuilt, in well under a
second per level, when first used after unpickling).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...bundles import sphere_bundle
from ...fields import sphere_field_type
from ...spaces.healpix import HealpixGrid
from ...validation import check_int, check_positive_float
from .geometry import cos_sin_multiples, pair_frames
from .kernels import SphereKernelBasis
from .operators import filter_operator
from .quadrature import MomentQuadrature

__all__ = ["SphereConvGeometry", "default_radius", "filter_index"]


def default_radius(grid: HealpixGrid, pixels: float = 3.0) -> float:
    """A kernel radius of ``pixels`` mean pixel spacings, ``sqrt(4 pi / N_pix)`` each."""
    return pixels * math.sqrt(4 * math.pi / grid.npix)


def filter_index(m2s: tuple[int, ...], n_rings: int) -> dict:
    """``(ring j, m2, 'c'|'s') -> f``: one filter per ring for ``m2 = 0``, two (cos, sin) for ``m2 > 0``."""
    out = {}
    for j in range(n_rings):
        for m2 in m2s:
            out[(j, m2, "c")] = len(out)
            if m2 > 0:
                out[(j, m2, "s")] = len(out)
    return out


class SphereConvGeometry:
    r"""Neighbourhoods, quadrature and filter values of :class:`SphereConv` on one grid (module docstring).

    Parameters
    ----------
    grid : HealpixGrid of the input
    radius : float, optional; kernel radius in radians (default :func:`default_radius`)
    n_rings : int; radial bumps of the kernel basis
    stride : int, a power of two; the output grid has ``nside // stride``
    quadrature : int or None; degree of the moment-matched quadrature (``None``: sampled kernel)

    Attributes
    ----------
    out_grid, n_pairs (pairs ``(x, y)`` over all output pixels), n_neighbours (most neighbours of a pixel),
    n_reps (representative output pixels), n_rep_pairs
    """

    def __init__(self, grid: HealpixGrid, radius: float | None = None, n_rings: int = 2, stride: int = 1,
                 quadrature: int | None = 4):
        if not isinstance(grid, HealpixGrid):
            raise TypeError(f"SphereConv: expected a HealpixGrid, got {type(grid).__name__}")
        check_int(stride, "stride", 1, who="SphereConv", expected="a power of two >= 1")
        if stride & (stride - 1):
            raise ValueError(f"SphereConv: stride must be a power of two >= 1, got {stride!r}")
        if stride > grid.nside:
            raise ValueError(f"SphereConv: stride {stride} is larger than the input nside {grid.nside}")
        if quadrature is not None:  # degree 5 and above: ~30 neighbours cannot carry the moments (ill-conditioned)
            check_int(quadrature, "quadrature", 0, who="SphereConv", expected="None or a degree from 0 to 4")
            if quadrature > 4:
                raise ValueError(f"SphereConv: quadrature must be None or a degree from 0 to 4, got {quadrature}: above 4 "
                                 "the ~30 neighbours of a kernel cannot fit the moments (the weights blow up)")
        self.grid, self.stride, self.n_rings, self.quadrature = grid, stride, n_rings, quadrature
        self.radius = check_positive_float(radius, "radius", who="SphereConv") if radius is not None else default_radius(grid)
        spacing = default_radius(grid, 1.0)
        if self.radius < spacing:
            raise ValueError(f"SphereConv: radius {self.radius:.4g} rad is below the pixel spacing {spacing:.4g} rad of "
                             f"{grid!r}: the kernel would see at most its centre pixel; use radius >= {spacing:.4g} "
                             f"(default: 3 spacings, {3 * spacing:.4g})")
        scalar = sphere_field_type((0, 1))
        self.basis = SphereKernelBasis(scalar, scalar, self.radius, n_rings)  # its radial part
        self.out_grid = HealpixGrid(grid.nside // stride, nest=grid.nest)
        self._build()

    # -- identity, copies, pickling ---------------------------------------------------------------------
    def settings(self) -> tuple:
        return (self.grid, self.radius, self.n_rings, self.stride, self.quadrature)

    def __repr__(self):
        return (f"SphereConvGeometry({self.grid!r}, radius={self.radius:.4g}, n_rings={self.n_rings}, "
                f"stride={self.stride}, quadrature={self.quadrature}, reps={self.n_reps}/{self.out_grid.npix})")

    def __deepcopy__(self, memo):
        return self  # immutable apart from the cache of derived operators, which copies may share

    def __getstate__(self):
        return {"settings": self.settings()}

    def __setstate__(self, state):
        grid, radius, n_rings, stride, quadrature = state["settings"]
        self.__init__(grid, radius, n_rings, stride, quadrature)

    # -- construction: orbits, representatives and their neighbours ---------------------------------------
    def _build(self):
        out, grid = self.out_grid, self.grid
        n_out_r, n_in_r = out.ring_npix().numpy(), grid.ring_npix().numpy()
        th_out, th_in = out.ring_theta().numpy(), grid.ring_theta().numpy()
        q = np.array([np.gcd.reduce(np.append(n_in_r[np.abs(th_in - t) <= self.radius + 1e-9], n))
                      for t, n in zip(th_out, n_out_r)])
        per_ring = n_out_r // q  # representatives per ring
        rep_off = np.concatenate([[0], np.cumsum(per_ring)])
        ring, pos = out.ring_index().numpy(), out.ring_position().numpy()
        self.n_reps = int(rep_off[-1])
        self.rep_of_pixel = torch.from_numpy(rep_off[ring] + pos % per_ring[ring])  # (N_out,)
        self.turn_of_pixel = torch.from_numpy(pos // per_ring[ring])  # t: pixel = Z(2 pi t / q) rep
        self.q_of_pixel = torch.from_numpy(q[ring])
        rep_ring = np.repeat(np.arange(len(per_ring)), per_ring)
        rep_pos = np.arange(self.n_reps) - rep_off[rep_ring]
        self.rep_pixel = out.to_ring_permutation()[torch.from_numpy(out.ring_start().numpy()[rep_ring] + rep_pos)]
        idx, mask = grid.neighbours_of(out.xyz(dtype=torch.float64)[self.rep_pixel], self.radius)
        self.n_neighbours = idx.shape[1]
        rows, cols = mask.nonzero(as_tuple=True)[0], idx[mask]
        self.rep_rows, self.rep_cols = rows.to(torch.int32), cols.to(torch.int32)
        self.rep_count = torch.bincount(rows, minlength=self.n_reps)
        self.n_rep_pairs = rows.numel()
        self.n_pairs = int(self.rep_count[self.rep_of_pixel].sum())
        self._values: dict = {}
        self._cache: dict = {}

    def _frames(self):
        """``(rows, ca, sa, beta, ct, st)`` of the representatives' pairs, float64 (recomputed: cheap)."""
        rows, cols = self.rep_rows.long(), self.rep_cols.long()
        x = self.out_grid.xyz(dtype=torch.float64)[self.rep_pixel]
        return (rows, *pair_frames(sphere_bundle(), x, self.grid.xyz(dtype=torch.float64), rows, cols))

    # -- filter values at the representatives ---------------------------------------------------------------
    def values(self, m2s: tuple[int, ...], m1: int) -> torch.Tensor:
        r"""Filter values at the representatives' pairs, float64, cached on this object (state).

        ``m1 = 0``: ``(F, P_rep)``, the (moment-matched) weights ``psi_f`` of the filters of
        :func:`filter_index` ``(m2s)``. ``m1 > 0``: ``(F, P_rep, 2)``, ``(C, S) = psi (cos, sin)(m1 tau)``
        corrected as in :class:`~fiberconv.nn.sphere.quadrature.MomentQuadrature`: the twist folded in.
        """
        self.prepare(m2s, (m1,))
        return self._values[(tuple(m2s), m1)]

    def prepare(self, m2s: tuple[int, ...], m1s) -> None:
        """Compute the filter values of every input frequency in ``m1s`` now (a layer's construction), with
        one quadrature fit for all of them: the fit depends on the geometry only, and is not kept."""
        fit = None
        for m1 in m1s:
            key = (tuple(m2s), m1)
            if key not in self._values:
                self._values[key], fit = self._compute_values(*key, fit)

    def _compute_values(self, m2s, m1, fit=None):
        """``(values, fit)``: the filter values of :meth:`values` and the quadrature's fit (None without one)."""
        rows, ca, sa, beta, ct, st = self._frames()
        index = filter_index(m2s, self.n_rings)
        phi = self.basis.radial(beta) * (4 * math.pi / self.grid.npix)  # (P, R)
        rot = cos_sin_multiples(ca, sa, max(m2s))
        psi = torch.stack([phi[:, j] * (rot[m2][0] if cs == "c" else rot[m2][1])
                           for (j, m2, cs) in sorted(index, key=index.get)])  # (F, P)
        if self.quadrature is None:
            if m1 == 0:
                return psi, None
            c, s = cos_sin_multiples(ct, st, m1)[m1]
            return torch.stack([psi * c, psi * s], dim=-1), None
        quad = MomentQuadrature(self.basis, index, rows, self.n_reps, ca, sa, beta, ct, st, self.quadrature, fit=fit)
        return (quad.scalar(psi) if m1 == 0 else quad.twisted(psi, m1)), quad.fit

    # -- derived: per-pixel operators ------------------------------------------------------------------
    def pairs(self):
        r"""The per-pixel pairs: ``rows, cols (P,)`` (sorted by output pixel) and ``rep_pair (P,)``, the
        representative's pair each one copies. Pixel ``(r, j0 + t n_r / q_r)`` takes the representative's
        neighbour ``(r', j')`` turned to ``(r', j' + t n_{r'} / q_r)``."""
        n_out, grid = self.out_grid.npix, self.grid
        counts = self.rep_count[self.rep_of_pixel]
        rows = torch.repeat_interleave(torch.arange(n_out), counts, output_size=self.n_pairs)
        first = torch.cumsum(self.rep_count, 0) - self.rep_count  # first pair of each representative
        row_start = torch.cumsum(counts, 0) - counts
        rep_pair = (first[self.rep_of_pixel] - row_start).repeat_interleave(counts, output_size=self.n_pairs)
        rep_pair += torch.arange(self.n_pairs)
        nb = self.rep_cols.long().index_select(0, rep_pair)
        ring, pos = grid._ring_index.index_select(0, nb), grid._ring_position.index_select(0, nb)
        n_ring = grid._ring_npix.index_select(0, ring)
        shift = self.turn_of_pixel.index_select(0, rows) * n_ring // self.q_of_pixel.index_select(0, rows)
        cols = grid._to_ring.index_select(0, grid._ring_start.index_select(0, ring) + (pos + shift) % n_ring)
        return rows, cols, rep_pair

    def operator(self, m2s: tuple[int, ...], m1: int, device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        r"""CSR arrays ``(crow, col, values, crow_t, col_t, values_t)`` of the filter operator of input
        frequency ``m1`` and its transpose, on ``device`` in ``dtype`` (derived once, then cached).

        ``m1 = 0``: ``S (F n_out, n_in)``, rows ``(filter, x)``, columns ``y``. ``m1 > 0``: the twist
        folded in, ``M = [C | S] (F n_out, 2 n_in)``: every pair twice, ``C`` at ``y`` and ``S`` at
        ``n_in + y``. On the ``meta`` device: empty arrays of the right shapes.
        """
        device = torch.device(device)
        key = (tuple(m2s), m1, device, dtype)
        op = self._cache.get(key)
        if op is None:
            op = self._derive(tuple(m2s), m1, device, dtype)
            self._cache[key] = op
        return op

    def clear_cache(self):
        """Drop every derived operator (they are rebuilt on the next use)."""
        self._cache.clear()

    def nbytes(self) -> dict:
        """Bytes held: ``state`` (the compact tensors above) and ``cache`` (the derived operators)."""
        def size(ts):
            return sum(t.numel() * t.element_size() for t in ts if t.device.type != "meta")
        state = [self.rep_of_pixel, self.turn_of_pixel, self.q_of_pixel, self.rep_pixel, self.rep_rows,
                 self.rep_cols, self.rep_count, *self._values.values()]
        return {"state": size(state), "cache": size([t for op in self._cache.values() for t in op])}

    def _derive(self, m2s, m1, device, dtype):
        F = len(filter_index(m2s, self.n_rings))
        n_out, n_in, P = self.out_grid.npix, self.grid.npix, self.n_pairs
        width = 1 if m1 == 0 else 2
        if device.type == "meta":
            def empty(n, dt):
                return torch.empty(n, dtype=dt, device=device)
            return (empty(F * n_out + 1, torch.int32), empty(width * F * P, torch.int32), empty(width * F * P, dtype),
                    empty(width * n_in + 1, torch.int32), empty(width * F * P, torch.int32), empty(width * F * P, dtype))
        compact = self.values(m2s, m1).to(dtype)
        rows, cols, rep_pair = self.pairs()
        order = torch.argsort(cols, stable=True)  # the pairs by input pixel, for the transposes
        if m1 == 0:
            values = compact.index_select(1, rep_pair)  # (F, P)
            op = filter_operator(rows, cols, values, order, values.index_select(1, order).T, n_out, n_in)
        else:
            values = compact.index_select(1, rep_pair)  # (F, P, 2)
            # transpose: the C entries of the pairs by input pixel (columns y), then the S entries (n_in + y)
            values_t = values.index_select(1, order).permute(2, 1, 0)  # (2, P, F)
            rows2 = rows.repeat_interleave(2)
            cols2 = torch.stack([cols, cols + n_in], dim=1).reshape(-1)
            order2 = torch.cat([2 * order, 2 * order + 1])  # sorts cols2: all C-columns come first
            op = filter_operator(rows2, cols2, values.reshape(F, 2 * P), order2, values_t.reshape(2 * P, F),
                                 n_out, 2 * n_in)
        return tuple(t.to(device) for t in op)

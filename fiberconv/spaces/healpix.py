r"""The HEALPix grid on the sphere S^2 = SO(3)/SO(2).

HEALPix (Gorski et al. 2005, ApJ 622:759) splits the sphere into ``N_pix = 12 nside^2`` pixels of
equal area ``4 pi / N_pix``. The pixel centres lie on ``4 nside - 1`` rings of constant colatitude;
ring ``i = 1 .. 4 nside - 1`` (counted from the north) holds ``4 i`` pixels in the north polar cap
(``i < nside``), ``4 nside`` pixels in the equatorial belt (``nside <= i <= 3 nside``) and
``4 (4 nside - i)`` in the south cap; on each ring the centres are equally spaced in longitude,
``phi_j = phi_0 + 2 pi j / n_ring`` with ``phi_0`` either ``0`` or ``pi / n_ring``. Two orderings
number the pixels: RING (ring by ring, west to east, north to south) and NESTED (a quad tree
below each of the 12 base pixels: pixel ``p`` of ``nside`` has the parent ``p // 4`` at ``nside/2``).

Coordinates
-----------
A point ``x`` has colatitude ``theta`` (the section's Euler angle ``beta``, docs/conventions.md) in ``(0, pi)`` and longitude
``phi`` (the Euler angle ``alpha``) in ``[0, 2 pi)``, ``x = (sin theta cos phi, sin theta sin phi, cos theta)``.

Frames
------
The section of the principal bundle ``SO(3) -> S^2`` is ``s(alpha, beta) = Z(alpha) Y(beta)``.
It maps the north pole to ``x`` and the frame ``(e_x, e_y)`` of the tangent plane at the pole to

.. math::

    e_\theta = (\cos\theta\cos\phi, \cos\theta\sin\phi, -\sin\theta) \quad \text{(south)}, \qquad
    e_\phi = (-\sin\phi, \cos\phi, 0) \quad \text{(east)}.

No HEALPix centre sits on a pole, so ``s`` is defined at every pixel.

Symmetries
----------
The set of pixel centres is mapped onto itself by the rotations ``Z(k pi / 2)`` and
``X(pi) Z(k pi / 2)``, ``k = 0..3``: a dihedral group of order 8
(:meth:`HealpixGrid.symmetries`, :meth:`HealpixGrid.symmetry_permutation`).

All geometry is computed once, with healpy, in float64 on the CPU; methods that return tensors
take ``dtype`` (default float64) and ``device`` (default CPU).
"""
from __future__ import annotations

import math
import os

import healpy as hp
import numpy as np
import torch
from scipy.spatial import cKDTree

from ..validation import check_dtype, check_float, check_int, element_tolerance
from .homogeneous import zy_matrix

__all__ = ["HealpixGrid"]

#: tolerance (in chord length) used to decide ties at the neighbourhood radius and symmetry matches
_TIE_TOL = 1e-10
_SYM_TOL = 1e-9


#: the largest nside (HEALPix's own limit is 2**29; beyond 2**13 the tables alone take > 60 GB)
MAX_NSIDE = 2**13
#: bytes per pixel of a grid's tables, peak during construction (measured: about 90 in RING order)
_BYTES_PER_PIXEL = 120


def _available_memory() -> int | None:
    """Available physical memory in bytes (Linux ``MemAvailable``, else free pages), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_nside(nside) -> int:
    nside = check_int(nside, "nside", who="HealpixGrid")
    if nside < 1 or nside & (nside - 1):
        raise ValueError(f"HealpixGrid: nside must be a positive power of two, got {nside}")
    need = 12 * nside**2 * _BYTES_PER_PIXEL
    if nside > MAX_NSIDE:
        raise ValueError(f"HealpixGrid: nside must be at most {MAX_NSIDE} (2**13), got {nside}: its tables "
                         f"(12 nside^2 = {12 * nside**2:.3g} pixels) would take about {need / 2**30:.3g} GiB")
    avail = _available_memory()
    if avail is not None and need > avail:
        raise MemoryError(f"HealpixGrid: nside = {nside} needs about {need / 2**30:.3g} GiB for its tables "
                          f"(12 nside^2 = {12 * nside**2:.3g} pixels, ~{_BYTES_PER_PIXEL} bytes each) but only "
                          f"{avail / 2**30:.3g} GiB are available; use a smaller nside")
    return nside


def _out(a: np.ndarray, dtype: torch.dtype | None, device) -> torch.Tensor:
    """numpy float64 array -> tensor of ``dtype`` (default float64) on ``device`` (default CPU)."""
    return torch.as_tensor(a).to(dtype=check_dtype(dtype, default=torch.float64), device=device)


def _as_rotation_np(R, what: str = "R") -> np.ndarray:
    if isinstance(R, torch.Tensor):
        R = R.detach().to("cpu", torch.float64).numpy()
    R = np.asarray(R, dtype=np.float64)
    if R.shape != (3, 3):
        raise ValueError(f"{what} must be a 3x3 rotation matrix, got shape {R.shape}")
    return R


class HealpixGrid:
    r"""HEALPix grid of resolution ``nside`` in RING or NESTED ordering.

    Parameters
    ----------
    nside : int
        A positive power of two; ``N_pix = 12 nside^2``.
    nest : bool
        NESTED ordering if True, RING ordering otherwise (default).

    Notes
    -----
    The grid is immutable; two grids are equal when ``nside`` and ``nest`` agree. Every array is
    indexed by this grid's own pixel numbering (RING or NESTED), except where a method says
    otherwise (the ring tables).
    """

    def __init__(self, nside: int, nest: bool = False):
        self._nside = _check_nside(nside)
        if not isinstance(nest, (bool, np.bool_)):
            raise TypeError(f"HealpixGrid: nest must be a bool, got {type(nest).__name__} {nest!r}")
        self._nest = bool(nest)
        ns, npix = self._nside, 12 * self._nside**2
        pix = np.arange(npix)
        theta, phi = hp.pix2ang(ns, pix, nest=self._nest)
        self._theta = torch.from_numpy(np.ascontiguousarray(theta, dtype=np.float64))
        self._phi = torch.from_numpy(np.ascontiguousarray(phi, dtype=np.float64))
        xyz = np.stack(hp.pix2vec(ns, pix, nest=self._nest), axis=-1)
        self._xyz = torch.from_numpy(np.ascontiguousarray(xyz, dtype=np.float64))
        # RING <-> NESTED permutations: values_ring = values[..., to_ring]
        if self._nest:
            to_ring = hp.ring2nest(ns, pix)  # to_ring[i_ring] = nested index of ring pixel i
            from_ring = hp.nest2ring(ns, pix)  # from_ring[i_nest] = ring index of nested pixel i
        else:
            to_ring = from_ring = pix
        self._to_ring = torch.from_numpy(np.asarray(to_ring, dtype=np.int64))
        self._from_ring = torch.from_numpy(np.asarray(from_ring, dtype=np.int64))
        # ring tables (rings numbered 0 .. 4 nside - 2 from the north)
        nring = 4 * ns - 1
        start, npr, cos_t, sin_t, shifted = hp.ringinfo(ns, np.arange(1, nring + 1))
        self._ring_start = torch.from_numpy(np.asarray(start, dtype=np.int64))
        self._ring_npix = torch.from_numpy(np.asarray(npr, dtype=np.int64))
        self._ring_theta = torch.from_numpy(np.arctan2(sin_t, cos_t).astype(np.float64))
        self._ring_phi0 = torch.from_numpy(np.where(shifted, np.pi / npr, 0.0).astype(np.float64))
        ring_of_ring_pix = np.repeat(np.arange(nring), npr)
        pos_of_ring_pix = pix - np.repeat(start, npr)
        fr = np.asarray(from_ring)
        self._ring_index = torch.from_numpy(ring_of_ring_pix[fr].astype(np.int64))
        self._ring_position = torch.from_numpy(pos_of_ring_pix[fr].astype(np.int64))
        self._tree: cKDTree | None = None

    # -- identity ---------------------------------------------------------------------------------
    @property
    def nside(self) -> int:
        return self._nside

    @property
    def nest(self) -> bool:
        return self._nest

    @property
    def npix(self) -> int:
        """Number of pixels ``12 nside^2``."""
        return 12 * self._nside**2

    @property
    def ordering(self) -> str:
        """``'NESTED'`` or ``'RING'``."""
        return "NESTED" if self._nest else "RING"

    @property
    def resolution(self) -> float:
        """Typical pixel size ``sqrt(4 pi / N_pix)`` in radians."""
        return math.sqrt(4 * math.pi / self.npix)

    def __repr__(self) -> str:
        return f"HealpixGrid(nside={self._nside}, nest={self._nest})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, HealpixGrid):
            return NotImplemented
        return (self._nside, self._nest) == (other._nside, other._nest)

    def __reduce__(self):
        """Pickled by its settings (immutable; the tables are rebuilt on loading)."""
        return (HealpixGrid, (self._nside, self._nest))

    def __deepcopy__(self, memo):
        return self  # immutable

    def __hash__(self) -> int:
        return hash(("HealpixGrid", self._nside, self._nest))

    # -- geometry ---------------------------------------------------------------------------------
    @property
    def theta(self) -> torch.Tensor:
        """Colatitudes of the pixel centres, float64 ``(N_pix,)`` (a copy)."""
        return self._theta.clone()

    @property
    def phi(self) -> torch.Tensor:
        """Longitudes of the pixel centres in ``[0, 2 pi)``, float64 ``(N_pix,)`` (a copy)."""
        return self._phi.clone()

    def angles(self, dtype=None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(theta, phi)``, each ``(N_pix,)``, in ``dtype`` on ``device``."""
        return (self._theta.to(dtype=check_dtype(dtype, default=torch.float64), device=device),
                self._phi.to(dtype=check_dtype(dtype, default=torch.float64), device=device))

    def xyz(self, dtype=None, device=None) -> torch.Tensor:
        """Unit vectors of the pixel centres, ``(N_pix, 3)`` (healpy ``pix2vec``)."""
        return self._xyz.to(dtype=check_dtype(dtype, default=torch.float64), device=device)

    def weights(self, dtype=None, device=None) -> torch.Tensor:
        r"""Equal-area quadrature weights ``w = 4 pi / N_pix``, ``(N_pix,)``; they sum to ``4 pi``."""
        return torch.full((self.npix,), 4 * math.pi / self.npix, dtype=check_dtype(dtype, default=torch.float64), device=device)

    def frames(self, dtype=None, device=None) -> torch.Tensor:
        r"""Tangent frames ``(N_pix, 2, 3)``: rows ``e_theta`` (south) and ``e_phi`` (east).

        They are ``s(x) e_x`` and ``s(x) e_y`` for the section ``s(phi, theta) = Z(phi) Y(theta)``.
        """
        t, p = self._theta, self._phi
        ct, st, cp, sp = torch.cos(t), torch.sin(t), torch.cos(p), torch.sin(p)
        frames = zy_matrix(cp, sp, ct, st)[..., :2].transpose(-1, -2)  # columns e_theta, e_phi of s(x)
        return frames.to(dtype=check_dtype(dtype, default=torch.float64), device=device)

    def sections(self, dtype=None, device=None) -> torch.Tensor:
        r"""The section at every pixel, ``s(x) = Z(phi) Y(theta)``, as ``(N_pix, 3, 3)`` matrices.

        Columns: ``e_theta``, ``e_phi``, ``x``.
        """
        fr = self.frames()
        s = torch.stack([fr[:, 0], fr[:, 1], self._xyz], dim=-1)
        return s.to(dtype=check_dtype(dtype, default=torch.float64), device=device)

    # -- neighbourhoods ---------------------------------------------------------------------------
    def _kdtree(self) -> cKDTree:
        if self._tree is None:  # per-instance, immutable once built
            self._tree = cKDTree(self._xyz.numpy())
        return self._tree

    def neighbourhoods(self, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
        r"""All pixels within angular distance ``radius`` of each pixel centre.

        Parameters
        ----------
        radius : float
            Angular radius in radians, ``> 0``. Centres at distance ``<= radius`` count (with an
            absolute tolerance of ``1e-10`` in chord length, so that ties are decided the same way
            at pixels related by a grid symmetry).

        Returns
        -------
        index : LongTensor ``(N_pix, K)``
            Neighbour indices sorted by distance, the pixel itself first; padded with the pixel's
            own index where ``mask`` is False. ``K`` is the largest neighbourhood size.
        mask : BoolTensor ``(N_pix, K)``
            True for real neighbours.

        Notes
        -----
        Uses a k-d tree on the chord distance ``|x - y| = 2 sin(d / 2)``.
        """
        idx, mask = self.neighbours_of(self._xyz, radius)
        if not bool((idx[:, 0] == torch.arange(self.npix)).all()):
            raise RuntimeError("neighbourhoods: pixel centre not found first (duplicate pixel centres?)")
        return idx, mask

    def neighbours_of(self, points, radius: float, guess: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The pixels of this grid within angular distance ``radius`` of arbitrary unit vectors.

        Parameters
        ----------
        points : Tensor or array ``(M, 3)``, e.g. the pixel centres of a coarser grid
        radius : float, radians ``> 0`` (ties as in :meth:`neighbourhoods`)
        guess : int, optional
            Candidates per point of the first k-d tree query (default: the pixels in the cap, plus 6);
            the points it leaves short are queried again with twice as many. Only speed
            depends on it.

        Returns
        -------
        index : LongTensor ``(M, K)`` sorted by distance, padded with the nearest pixel where
            ``mask`` is False; ``mask`` : BoolTensor ``(M, K)``. Every point has at least its
            nearest pixel if that lies within ``radius``.
        """
        radius = check_float(radius, "radius", minimum=0.0, strict=True, who="neighbourhoods",
                             expected="a positive finite angle in radians")
        pts = np.asarray(points.detach().cpu().double() if isinstance(points, torch.Tensor) else points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f"neighbours_of: points must have shape (M, 3), got {pts.shape}")
        chord = 2 * math.sin(min(radius, math.pi) / 2) + _TIE_TOL
        tree = self._kdtree()
        bound = chord * (1 + 1e-6)
        # a close guess of the count from the cap's area; the points it leaves short are queried again
        # (alone) with twice the count until every row ends outside the radius
        if guess is None:
            guess = int(self.npix * (1 - math.cos(min(radius, math.pi))) / 2) + 6
        k = min(self.npix, max(int(guess), 1))
        dist, idx = tree.query(pts, k=k, distance_upper_bound=bound, workers=-1)
        dist, idx = dist.reshape(len(pts), k), idx.reshape(len(pts), k)
        short = np.flatnonzero(dist[:, -1] <= chord) if k < self.npix else np.zeros(0, dtype=np.int64)
        while short.size:
            k = min(self.npix, 2 * k)
            d2, i2 = tree.query(pts[short], k=k, distance_upper_bound=bound, workers=-1)
            d2, i2 = d2.reshape(len(short), k), i2.reshape(len(short), k)
            pad = k - dist.shape[1]
            dist = np.pad(dist, ((0, 0), (0, pad)), constant_values=np.inf)
            idx = np.pad(idx, ((0, 0), (0, pad)), constant_values=self.npix)
            dist[short], idx[short] = d2, i2
            short = short[d2[:, -1] <= chord] if k < self.npix else short[:0]
        mask = dist <= chord
        k = max(int(mask.sum(1).max()), 1)
        dist, idx, mask = dist[:, :k], idx[:, :k], mask[:, :k]
        idx = np.where(mask, idx, np.where(mask[:, :1], idx[:, :1], 0))
        return torch.from_numpy(idx.astype(np.int64)), torch.from_numpy(mask)

    # -- NESTED hierarchy -------------------------------------------------------------------------
    def coarsen(self) -> HealpixGrid:
        """The grid with ``nside // 2`` and the same ordering."""
        if self._nside == 1:
            raise ValueError("HealpixGrid.coarsen: nside=1 has no coarser HEALPix grid")
        return HealpixGrid(self._nside // 2, nest=self._nest)

    def parent_indices(self) -> torch.Tensor:
        """``(N_pix,)`` index of each pixel's parent in :meth:`coarsen` (in the coarse grid's ordering)."""
        coarse = self.coarsen()
        pix = np.arange(self.npix)
        nested = pix if self._nest else hp.ring2nest(self._nside, pix)
        parent = nested // 4
        if not self._nest:
            parent = hp.nest2ring(coarse.nside, parent)
        return torch.from_numpy(np.asarray(parent, dtype=np.int64))

    def child_indices(self) -> torch.Tensor:
        """``(N_pix_coarse, 4)``: the four children (in this grid's ordering) of each coarse pixel."""
        coarse = self.coarsen()
        q = np.arange(coarse.npix)
        qn = q if self._nest else hp.ring2nest(coarse.nside, q)
        children = 4 * np.asarray(qn)[:, None] + np.arange(4)[None, :]
        if not self._nest:
            children = hp.nest2ring(self._nside, children)
        return torch.from_numpy(np.asarray(children, dtype=np.int64))

    # -- ring structure ---------------------------------------------------------------------------
    @property
    def nrings(self) -> int:
        """Number of iso-latitude rings ``4 nside - 1``."""
        return 4 * self._nside - 1

    def ring_index(self) -> torch.Tensor:
        """``(N_pix,)`` ring (0 = northernmost) of each pixel, in this grid's ordering."""
        return self._ring_index.clone()

    def ring_position(self) -> torch.Tensor:
        """``(N_pix,)`` position ``j`` of each pixel on its ring: ``phi = phi0[ring] + 2 pi j / n[ring]``."""
        return self._ring_position.clone()

    def ring_theta(self, dtype=None, device=None) -> torch.Tensor:
        """``(nrings,)`` colatitude of each ring."""
        return self._ring_theta.to(dtype=check_dtype(dtype, default=torch.float64), device=device)

    def ring_phi0(self, dtype=None, device=None) -> torch.Tensor:
        """``(nrings,)`` longitude of the first pixel of each ring (``0`` or ``pi / n_ring``)."""
        return self._ring_phi0.to(dtype=check_dtype(dtype, default=torch.float64), device=device)

    def ring_npix(self) -> torch.Tensor:
        """``(nrings,)`` number of pixels on each ring."""
        return self._ring_npix.clone()

    def ring_start(self) -> torch.Tensor:
        """``(nrings,)`` RING-ordering index of the first pixel of each ring."""
        return self._ring_start.clone()

    # -- reordering -------------------------------------------------------------------------------
    def to_ring_permutation(self) -> torch.Tensor:
        """``idx (N_pix,)`` with ``values[..., idx]`` = the same field in RING ordering."""
        return self._to_ring.clone()

    def from_ring_permutation(self) -> torch.Tensor:
        """``idx (N_pix,)`` with ``values_ring[..., idx]`` = the same field in this grid's ordering."""
        return self._from_ring.clone()

    def to_nest_permutation(self) -> torch.Tensor:
        """``idx (N_pix,)`` with ``values[..., idx]`` = the same field in NESTED ordering."""
        if self._nest:
            return torch.arange(self.npix)
        return torch.from_numpy(np.asarray(hp.nest2ring(self._nside, np.arange(self.npix)), dtype=np.int64))

    def from_nest_permutation(self) -> torch.Tensor:
        """``idx (N_pix,)`` with ``values_nest[..., idx]`` = the same field in this grid's ordering."""
        if self._nest:
            return torch.arange(self.npix)
        return torch.from_numpy(np.asarray(hp.ring2nest(self._nside, np.arange(self.npix)), dtype=np.int64))

    def _check_values(self, values: torch.Tensor, dim: int, name: str) -> int:
        if not isinstance(values, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(values).__name__}")
        if values.dim() == 0 or values.shape[dim] != self.npix:
            raise ValueError(
                f"{name}: expected size {self.npix} (N_pix of {self!r}) along dim {dim}, got shape {tuple(values.shape)}"
            )
        return dim

    def to_ring(self, values: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """Reorder a field given in this grid's ordering to RING ordering along ``dim``."""
        self._check_values(values, dim, "to_ring")
        return values if not self._nest else values.index_select(dim, self._to_ring.to(values.device))

    def from_ring(self, values: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """Reorder a RING-ordered field to this grid's ordering along ``dim``."""
        self._check_values(values, dim, "from_ring")
        return values if not self._nest else values.index_select(dim, self._from_ring.to(values.device))

    # -- symmetries -------------------------------------------------------------------------------
    @staticmethod
    def symmetries(dtype=None, device=None) -> torch.Tensor:
        r"""The 8 rotations mapping the HEALPix centres onto themselves, ``(8, 3, 3)``.

        Order: ``Z(k pi/2)`` for ``k = 0..3``, then ``X(pi) Z(k pi/2)``. Entries are exactly 0, +-1.
        """
        mats = []
        x_pi = np.diag([1.0, -1.0, -1.0])
        for flip in (False, True):
            for k in range(4):
                c, s = [1, 0, -1, 0][k], [0, 1, 0, -1][k]
                z = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)
                mats.append(x_pi @ z if flip else z)
        return torch.from_numpy(np.stack(mats)).to(dtype=check_dtype(dtype, default=torch.float64), device=device)

    @staticmethod
    def symmetry_index(R) -> int | None:
        """The index ``k`` of :meth:`symmetries` with ``R = symmetries()[k]`` up to rounding in ``R``'s dtype
        (entries within :func:`fiberconv.validation.element_tolerance`; float64 for arrays), else None.
        ``R``: one ``(3, 3)`` tensor or array. Reads the values (a device synchronisation)."""
        tol = element_tolerance(R.dtype) if isinstance(R, torch.Tensor) else element_tolerance(torch.float64)
        Rn = _as_rotation_np(R, "symmetry_index: R")
        dev = np.abs(HealpixGrid.symmetries().numpy() - Rn).max(axis=(-1, -2))
        k = int(np.argmin(dev))
        return k if dev[k] <= tol else None

    def symmetry_permutation(self, R) -> torch.Tensor:
        r"""Pixel permutation induced by a grid symmetry ``R``: ``R x_i = x_{perm[i]}``.

        Parameters
        ----------
        R : Tensor or array, ``(3, 3)``
            A rotation mapping the pixel centres onto themselves (see :meth:`symmetries`).

        Returns
        -------
        perm : LongTensor ``(N_pix,)``. For a scalar field, ``[pi(R) f](x) = f(R^-1 x)`` is
        ``f_rot[perm] = f``, i.e. ``f_rot = f[inv_perm]``.

        A rotation within rounding of one of :meth:`symmetries` (:meth:`symmetry_index`, with the
        tolerance of its dtype) is taken to be that symmetry.

        Raises
        ------
        ValueError
            If some rotated centre is farther than ``1e-9`` from every pixel centre.
        """
        k = self.symmetry_index(R)
        Rn = self.symmetries().numpy()[k] if k is not None else _as_rotation_np(R, "symmetry_permutation: R")
        pts = self._xyz.numpy()
        moved = pts @ Rn.T
        dist, perm = self._kdtree().query(moved, k=1)
        err = float(np.max(dist))
        if err > _SYM_TOL or len(np.unique(perm)) != self.npix:
            raise ValueError(
                f"symmetry_permutation: R is not a symmetry of {self!r} (max distance of a rotated pixel "
                f"centre to the grid {err:.3g} > {_SYM_TOL}); the symmetries are HealpixGrid.symmetries()"
            )
        return torch.from_numpy(perm.astype(np.int64))

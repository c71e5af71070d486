r"""Regridding of latitude-longitude data (scalars and ``(u, v)`` winds) to a :class:`HealpixGrid`.

Climate data comes on latitude-longitude grids: arrays ``(..., nlat, nlon)`` with latitudes in
degrees (ascending or descending, with or without the pole rows, regular or Gaussian) and
longitudes in degrees (any start, possibly negative or past 360: they are taken mod 360). This
module interpolates such data to the pixel centres of a HEALPix grid.

Scalars
-------
Bilinear interpolation in ``(latitude, longitude)``, periodic in longitude. A pole row (latitude
``+-90``) describes a single point, so its values are replaced by their mean over the row; where
the data has no pole row, a virtual one is added whose value is the mean of the outermost row.
Pixels between the outermost row and the pole interpolate linearly towards that value.

Tangent vectors
---------------
Interpolating the components ``(u, v)`` themselves would be wrong near the poles: the local
frame (east, north) turns by ``360`` degrees around a pole, so a uniform flow across the pole has
components that vary with longitude, and on a pole row the components of one vector differ from
column to column. Instead the wind is treated as a vector in ``R^3``:

1. at every lat-lon point (poles included, where the frame of column ``lambda`` is well defined) the
   ambient vector is

   .. math:: \mathbf{w} = u\, e_\text{east} + v\, e_\text{north} = v_\theta e_\theta + v_\phi e_\phi,
             \qquad (v_\theta, v_\phi) = (-v, u),

   with ``e_theta = (cos t cos p, cos t sin p, -sin t)`` and ``e_phi = (-sin p, cos p, 0)`` at
   colatitude ``t = 90 - lat`` and longitude ``p = lon``;
2. a pole row holds one vector: the (longitude-arc weighted) mean of its ambient vectors, which is
   the least-squares single vector and reproduces a consistent row exactly (its spread is reported by
   :meth:`LatLonToHealpix.pole_spread`); a missing pole gets the mean of the outermost row's ambient
   vectors, projected onto the pole's tangent plane (a flow converging on the pole gives zero);
3. each Cartesian component is interpolated bilinearly, as a scalar, to the pixel centres;
4. the result is projected onto the section frame ``(e_theta, e_phi)`` of each pixel
   (:func:`fiberconv.fields.tangent.ambient_to_tangent`), which drops the small radial part that
   interpolating between different tangent planes creates.

Steps 1, 3 and 4 are linear, so the plan composes them: for each pixel and each of its four cell corners
that is a data point, one ``2 x 2`` matrix maps the corner's ``(-v, u)`` to its share of the pixel's
components; the poles add their vectors. A time step then reads ``u`` and ``v`` at the corners and the two
outermost rows only (``bench/bench_regrid.py``: 11 ms for 0.25 degrees -> nside 64, no temporaries of the
data's size).

Accuracy
--------
For a field whose Cartesian components have bounded second derivatives the error is that of
bilinear interpolation, ``|f - I f| <= (h_lat^2 max|f_lat lat| + h_lon^2 max|f_lon lon|) / 8``
(spacings in radians). For a solid-body rotation ``w = omega x x`` every Cartesian component is
a linear function of ``x``, whose second derivatives in latitude and longitude are bounded by
``|omega|``, so the error is at most ``sqrt(3) |omega| (h_lat^2 + h_lon^2) / 8``: ``8.2e-4 |omega|``
at 2.5 degrees, falling by 4 when the spacing halves (tested).
"""
from __future__ import annotations

import numpy as np
import torch

from ..spaces.healpix import HealpixGrid
from ._regrid_diagnostics import PoleRowDiagnostics
from .latlon import _coordinate, _frames_at, latlon_frames, latlon_wind_to_ambient
from .tangent import ambient_to_tangent, tangent_to_ambient

__all__ = ["LatLonToHealpix", "regrid_scalar", "regrid_wind", "latlon_frames", "latlon_wind_to_ambient"]

#: tolerance in degrees for "this latitude is a pole" and "these longitudes coincide mod 360"
_DEG_TOL = 1e-6
_POLE_MODES = ("average", "drop")


class LatLonToHealpix(PoleRowDiagnostics):
    r"""Bilinear lat-lon -> HEALPix interpolation plan, reusable for many fields on the same grids.

    Parameters
    ----------
    lat : array_like ``(nlat,)``
        Latitudes in degrees, strictly monotonic (ascending or descending), within ``[-90, 90]``.
        Pole rows (``+-90``) may be present or not; without them the outermost row must lie within
        1.5 latitude spacings of the pole (the data must be global).
    lon : array_like ``(nlon,)``
        Longitudes in degrees, strictly monotonic, taken mod 360 (e.g. ``20 .. 377.5`` or
        ``-180 .. 177.5``). A column repeated mod 360 (a cyclic point) must hold the same values as
        the first one and is skipped. The columns must cover the circle: no gap larger than 1.5 times
        the median spacing.
    grid : HealpixGrid
        Target grid (RING or NESTED); outputs use its pixel ordering.
    pole_rows : {"average", "drop"}
        ``"average"`` (default): a pole row in the data becomes one value, the mean over the row
        (for vectors, of the ambient vectors). ``"drop"``: ignore the pole rows of the data and treat
        the poles as missing (useful when a data set fills its pole rows with values that are not a
        consistent vector, see :meth:`pole_spread`).

    Notes
    -----
    The plan holds, for each pixel, four flat indices into the (sorted, extended) lat-lon array and
    four bilinear weights that sum to 1; :meth:`scalar` and :meth:`wind` are a gather and a weighted
    sum, batched over leading dimensions. Inputs may be numpy arrays (output: numpy float64) or
    tensors (output: a tensor of the input's float dtype on its device; integer input -> float64).
    """

    def __init__(self, lat, lon, grid: HealpixGrid, pole_rows: str = "average"):
        if not isinstance(grid, HealpixGrid):
            raise TypeError(f"LatLonToHealpix: grid must be a HealpixGrid, got {type(grid).__name__}")
        if pole_rows not in _POLE_MODES:
            raise ValueError(f"LatLonToHealpix: pole_rows must be one of {_POLE_MODES}, got {pole_rows!r}")
        self.grid, self.pole_rows = grid, pole_rows
        lat = _coordinate("lat", lat)
        lon = _coordinate("lon", lon)
        if lat.min() < -90 - _DEG_TOL or lat.max() > 90 + _DEG_TOL:
            raise ValueError(
                f"LatLonToHealpix: latitudes must lie in [-90, 90] degrees, got the range "
                f"[{lat.min()}, {lat.max()}] (are these radians, or is lat/lon swapped?)"
            )
        self.lat, self.lon = lat, lon
        self.nlat, self.nlon = lat.size, lon.size

        # -- latitude: ascending order, pole rows, virtual poles ---------------------------------
        lat_order = np.argsort(lat)
        lat_sorted = np.clip(lat[lat_order], -90.0, 90.0)
        north = lat_sorted[-1] >= 90 - _DEG_TOL
        south = lat_sorted[0] <= -90 + _DEG_TOL
        self.has_north_pole_row, self.has_south_pole_row = bool(north), bool(south)
        if pole_rows == "drop":
            keep = np.ones(lat_sorted.size, dtype=bool)
            keep[0] &= not south
            keep[-1] &= not north
            lat_order, lat_sorted = lat_order[keep], lat_sorted[keep]
            north = south = False
            if lat_sorted.size < 2:
                raise ValueError("LatLonToHealpix: fewer than 2 latitude rows are left after dropping the pole rows")
        spacing = float(np.max(np.diff(lat_sorted)))
        for missing, gap, where in ((not north, 90 - lat_sorted[-1], "north"),
                                    (not south, lat_sorted[0] + 90, "south")):
            if missing and gap > 1.5 * spacing + _DEG_TOL:
                raise ValueError(
                    f"LatLonToHealpix: the latitudes end {gap:g} degrees from the {where} pole, more than 1.5 "
                    f"times the largest latitude spacing ({spacing:g} degrees): regridding to HEALPix needs "
                    "global data"
                )
        self._lat_order = lat_order
        self._virtual_south, self._virtual_north = not south, not north
        # the rows the interpolation sees: the data's rows plus a virtual row at each missing pole
        lat_ext = np.concatenate([[-90.0] if not south else [], lat_sorted, [90.0] if not north else []])

        # -- longitude: mod 360, sorted, cyclic duplicates -----------------------------------------
        lam = np.mod(lon, 360.0)
        lam = np.where(lam >= 360.0 - _DEG_TOL, 0.0, lam)  # 359.9999999 -> 0 to match a 0 column
        order = np.argsort(lam, kind="stable")
        lam_sorted = lam[order]
        new = np.concatenate([[True], np.diff(lam_sorted) > _DEG_TOL])
        uniq_pos = np.flatnonzero(new)
        self._lon_cols = order[uniq_pos]  # data column of each unique longitude, ascending
        group = np.cumsum(new) - 1
        dup = ~new
        # (duplicate column, the column it repeats) pairs, checked against the data
        self._dup_pairs = np.stack([order[dup], self._lon_cols[group[dup]]], axis=1) if dup.any() else None
        lam_u = lam_sorted[uniq_pos]
        n_u = lam_u.size
        if n_u < 3:
            raise ValueError(f"LatLonToHealpix: need at least 3 distinct longitudes mod 360, got {n_u}")
        gaps = np.diff(np.concatenate([lam_u, [lam_u[0] + 360.0]]))
        med = float(np.median(gaps))
        k = int(np.argmax(gaps))
        if gaps[k] > 1.5 * med + _DEG_TOL:
            raise ValueError(
                f"LatLonToHealpix: the longitudes do not cover the circle: a gap of {gaps[k]:g} degrees between "
                f"{lam_u[k]:g} and {(lam_u[(k + 1) % n_u]):g} (mod 360), typical spacing {med:g} degrees; "
                "regridding to HEALPix needs global data"
            )
        self._lon_u = lam_u
        # longitude-arc weights of each column: half the gap on either side (sum to 1)
        self._arc = (gaps + np.roll(gaps, 1)) / (2 * 360.0)

        # -- interpolation plan ----------------------------------------------------------------------
        theta, phi = (t.numpy() for t in grid.angles())
        plat = 90.0 - np.rad2deg(theta)
        plon = np.mod(np.rad2deg(phi), 360.0)
        j = np.clip(np.searchsorted(lat_ext, plat, side="right") - 1, 0, lat_ext.size - 2)
        tl = (plat - lat_ext[j]) / (lat_ext[j + 1] - lat_ext[j])
        plon = np.where(plon < lam_u[0], plon + 360.0, plon)
        lam_ext = np.concatenate([lam_u, [lam_u[0] + 360.0]])
        i = np.clip(np.searchsorted(lam_ext, plon, side="right") - 1, 0, n_u - 1)
        tp = (plon - lam_ext[i]) / (lam_ext[i + 1] - lam_ext[i])
        i1 = (i + 1) % n_u
        idx = np.stack([j * n_u + i, j * n_u + i1, (j + 1) * n_u + i, (j + 1) * n_u + i1], axis=-1)
        w = np.stack([(1 - tl) * (1 - tp), (1 - tl) * tp, tl * (1 - tp), tl * tp], axis=-1)
        self._idx = torch.from_numpy(idx.astype(np.int64))
        self._w = torch.from_numpy(w)
        self._frames = grid.frames()  # (N_pix, 2, 3) float64
        self._lat_sorted = lat_sorted  # rows of the sorted, pole-handled data grid (columns: self._lon_u)
        self._sparse_plan(idx, lat_ext.size, n_u, lat_sorted, lam_u)

    def _sparse_plan(self, idx: np.ndarray, n_ext: int, n_u: int, lat_sorted: np.ndarray, lam_u: np.ndarray) -> None:
        """The corners as points of the data, so that regridding reads only the values it needs.

        A corner on the first / last row of the extended grid is a (virtual or averaged) pole: its value is
        the arc-weighted mean of the outermost data row on that side. Any other corner is one value of the
        data, at flat index ``row * nlon + column`` of the caller's array. ``_corner (N_pix, 4)`` indexes
        ``[data points..., south pole, north pole]``.
        """
        uniq, inv = np.unique(idx, return_inverse=True)
        rows, cols = uniq // n_u, uniq % n_u
        south, north = rows == 0, rows == n_ext - 1
        data = ~(south | north)
        offset = 1 if self._virtual_south else 0
        r_sorted = rows[data] - offset
        self._points = torch.from_numpy(self._lat_order[r_sorted] * self.nlon + self._lon_cols[cols[data]])
        n_pts = int(data.sum())
        pos = np.empty(uniq.size, dtype=np.int64)
        pos[data] = np.arange(n_pts)
        pos[south], pos[north] = n_pts, n_pts + 1
        self._corner = torch.from_numpy(pos[inv.reshape(idx.shape)])
        # winds: pixel i's tangent components are sum_c M_ic (-v_c, u_c) + (pole terms), with the 2 x 2 matrices
        # M_ic = w_ic F_i D_c^T (F_i: the pixel's frame, D_c: the frame of the data point at corner c), so that a
        # step needs only u and v at the corners: no ambient vectors of the data are formed
        corner = self._corner.numpy()
        pole = corner >= n_pts
        safe = np.where(pole, 0, corner)
        D = _frames_at(lat_sorted[r_sorted], lam_u[cols[data]])[safe]  # (N_pix, 4, 2, 3)
        M = np.einsum("nij,nckj->ncik", self._frames.numpy(), D) * np.where(pole, 0.0, self._w.numpy())[..., None, None]
        self._coef_u, self._coef_v = torch.from_numpy(M[..., :, 1].copy()), torch.from_numpy(-M[..., :, 0])  # (N, 4, 2)
        self._corner_points = self._points[torch.from_numpy(safe)]  # (N_pix, 4) flat data indices
        w = self._w.numpy()
        self._pole_w = torch.from_numpy(np.stack([(w * (corner == n_pts)).sum(-1), (w * (corner == n_pts + 1)).sum(-1)]))
        # the outermost data rows (original row index) and their frames, for the pole values
        self._pole_rows = (int(self._lat_order[0]), int(self._lat_order[-1]))
        self._pole_frames = torch.from_numpy(latlon_frames(lat_sorted[[0, -1]], lam_u))  # (2, n_u, 2, 3)

    def __repr__(self) -> str:
        return (f"LatLonToHealpix(nlat={self.nlat}, nlon={self.nlon}, poles in data: "
                f"N={self.has_north_pole_row}, S={self.has_south_pole_row}, pole_rows={self.pole_rows!r}, "
                f"grid={self.grid!r})")

    # -- helpers ------------------------------------------------------------------------------------
    def _as_tensor(self, name: str, x) -> tuple[torch.Tensor, bool]:
        is_np = not isinstance(x, torch.Tensor)
        if is_np:
            a = np.asarray(x)
            if a.dtype.kind not in "iuf":
                raise TypeError(f"LatLonToHealpix: {name} must be a real numeric array, got dtype {a.dtype}")
            keep = a.dtype.kind == "f" and a.dtype.itemsize in (4, 8)  # float32 stays float32 until gathered
            t = torch.from_numpy(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("=") if keep else np.float64))
        else:
            if x.is_complex() or x.dtype == torch.bool:
                raise TypeError(f"LatLonToHealpix: {name} must be a real tensor, got {x.dtype}")
            t = x if x.dtype in (torch.float32, torch.float64) else x.to(torch.float64)
        if t.dim() < 2 or tuple(t.shape[-2:]) != (self.nlat, self.nlon):
            raise ValueError(
                f"LatLonToHealpix: {name} must have shape (..., nlat, nlon) = (..., {self.nlat}, {self.nlon}) "
                f"matching lat and lon, got {tuple(t.shape)}"
            )
        # a NaN / inf anywhere makes the sum non-finite (so does overflow: then the full check decides); the sum
        # needs no temporary of the input's size
        finite = torch.isfinite(t) if not bool(torch.isfinite(t.sum())) else None
        if finite is not None and not bool(finite.all()):
            bad = torch.nonzero(~finite)[0].tolist()
            raise ValueError(
                f"LatLonToHealpix: {name} has {int((~finite).sum())} non-finite values (NaN/inf, e.g. missing "
                f"values), first at index {tuple(bad)}; fill or mask them before regridding"
            )
        if self._dup_pairs is not None:
            a, b = (torch.from_numpy(c).to(t.device) for c in self._dup_pairs.T)
            d = (t[..., a] - t[..., b]).abs().max()
            scale = t.abs().max().clamp_min(1e-30)
            if float(d) > 1e-5 * float(scale):
                raise ValueError(
                    f"LatLonToHealpix: {name} differs between longitude columns that coincide mod 360 "
                    f"(columns {self._dup_pairs[:, 0].tolist()} repeat {self._dup_pairs[:, 1].tolist()}; max "
                    f"difference {float(d):.3g})"
                )
        return t, is_np

    def _gather(self, t: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The data points the plan reads ``(..., P)`` and the outermost rows ``(..., 2, n_u)`` (south, north)."""
        pts = t.flatten(-2)[..., self._points.to(t.device)].to(dtype)
        rows = torch.tensor(self._pole_rows, device=t.device)
        edge = t.index_select(-2, rows).index_select(-1, torch.from_numpy(self._lon_cols).to(t.device)).to(dtype)
        return pts, edge

    def _combine(self, values: torch.Tensor) -> torch.Tensor:
        """``values (..., P + 2, C)`` at the data points and the two poles -> bilinear ``(..., N_pix, C)``."""
        w = self._w.to(dtype=values.dtype, device=values.device)
        corner = self._corner.to(values.device)
        out = values[..., corner[:, 0], :] * w[:, 0, None]
        for c in range(1, 4):  # corner by corner: temporaries of the output's size, not four times it
            out += values[..., corner[:, c], :] * w[:, c, None]
        return out

    def _pole_means(self, edge: torch.Tensor) -> torch.Tensor:
        """Arc-weighted means of the outermost rows ``(..., 2, n_u, C)`` -> ``(..., 2, C)``."""
        arc = torch.from_numpy(self._arc).to(dtype=edge.dtype, device=edge.device)
        return (edge * arc.unsqueeze(-1)).sum(-2)

    # -- public ---------------------------------------------------------------------------------------
    def scalar(self, f):
        r"""Regrid a scalar field ``(..., nlat, nlon) -> (..., N_pix)`` (bilinear, pole rows averaged).

        Reads only the values at the corners of the pixels' cells and the two outermost rows (for the
        poles): a step costs about a gather of ``4 N_pix`` values, whatever the data's resolution.
        """
        t, is_np = self._as_tensor("f", f)
        pts, edge = self._gather(t, torch.float64 if is_np else t.dtype)
        values = torch.cat([pts, self._pole_means(edge.unsqueeze(-1)).squeeze(-1)], dim=-1)
        out = self._combine(values.unsqueeze(-1)).squeeze(-1)
        return out.numpy() if is_np else out

    def wind(self, u, v):
        r"""Regrid wind ``(u, v)`` (eastward, northward) to tangent components on the grid.

        Parameters
        ----------
        u, v : array_like or Tensor ``(..., nlat, nlon)``

        Returns
        -------
        ``(..., 2, N_pix)``: ``(v_theta, v_phi)`` in the section frame (south, east) at each pixel,
        i.e. ``(-v, u)`` of the interpolated ambient vector (see the module docstring).
        """
        ut, u_np = self._as_tensor("u", u)
        vt, v_np = self._as_tensor("v", v)
        if ut.shape != vt.shape:
            raise ValueError(
                f"LatLonToHealpix: u and v must have the same shape, got {tuple(ut.shape)} and {tuple(vt.shape)}"
            )
        if vt.device != ut.device:
            raise ValueError(f"LatLonToHealpix: u and v are on different devices ({ut.device}, {vt.device})")
        is_np = u_np and v_np
        dtype = torch.float64 if is_np else torch.promote_types(ut.dtype, vt.dtype)
        if self.pole_rows == "average" and (self.has_north_pole_row or self.has_south_pole_row):
            self._warn_inconsistent_poles(ut, vt)
        dev = ut.device
        pts = self._corner_points.to(dev)
        cu, cv = self._coef_u.to(dtype=dtype, device=dev), self._coef_v.to(dtype=dtype, device=dev)
        out = torch.zeros(*ut.shape[:-2], self.grid.npix, 2, dtype=dtype, device=dev)
        uf, vf = ut.flatten(-2), vt.flatten(-2)
        for c in range(4):  # corner by corner: temporaries of the output's size
            out += uf[..., pts[:, c], None].to(dtype) * cu[:, c] + vf[..., pts[:, c], None].to(dtype) * cv[:, c]
        rows = torch.tensor(self._pole_rows, device=dev)
        cols = torch.from_numpy(self._lon_cols).to(dev)
        ue, ve = (t.index_select(-2, rows).index_select(-1, cols).to(dtype) for t in (ut, vt))  # (..., 2, n_u)
        edge = tangent_to_ambient(torch.stack([-ve, ue], dim=-1), self._pole_frames.to(dtype=dtype, device=dev))
        poles = self._pole_means(edge)  # (..., 2, 3); a pole's tangent plane is horizontal: drop z
        poles = torch.cat([poles[..., :2], torch.zeros_like(poles[..., 2:])], dim=-1)
        frames = self._frames.to(dtype=dtype, device=dev)  # (N, 2, 3)
        pw = self._pole_w.to(dtype=dtype, device=dev)  # (2, N)
        for k in range(2):  # south, north
            out += pw[k, :, None] * ambient_to_tangent(poles[..., k, None, :], frames)
        out = out.movedim(-1, -2)
        return out.numpy() if is_np else out


def _check_grid(grid) -> None:
    if not isinstance(grid, HealpixGrid):
        raise TypeError(f"expected a HealpixGrid as grid, got {type(grid).__name__}")


def regrid_scalar(f, lat, lon, grid: HealpixGrid, pole_rows: str = "average"):
    r"""Regrid a scalar lat-lon field ``(..., nlat, nlon)`` to ``(..., N_pix)`` on ``grid``.

    Bilinear in (latitude, longitude), periodic in longitude; see :class:`LatLonToHealpix` for the
    coordinate rules and the pole treatment. Build a :class:`LatLonToHealpix` once to regrid many
    fields on the same grids.
    """
    _check_grid(grid)
    return LatLonToHealpix(lat, lon, grid, pole_rows=pole_rows).scalar(f)


def regrid_wind(u, v, lat, lon, grid: HealpixGrid, pole_rows: str = "average"):
    r"""Regrid lat-lon wind ``(u, v)`` ``(..., nlat, nlon)`` to tangent components ``(..., 2, N_pix)``.

    The output is ``(v_theta, v_phi) = (-v, u)`` in each pixel's section frame (south, east). The
    vectors are interpolated as ambient 3-D vectors (module docstring), so flows across the poles
    are regridded correctly. See :class:`LatLonToHealpix` for the coordinate rules.
    """
    _check_grid(grid)
    return LatLonToHealpix(lat, lon, grid, pole_rows=pole_rows).wind(u, v)

r"""Map views of the sphere for :mod:`fiberconv.plot.maps`: where a HEALPix field's raster and its arrows go.

* :class:`Mollweide` — the whole globe, on matplotlib's ``projection="mollweide"`` axes;
* :class:`Orthographic` — one hemisphere seen from far away, centred on a pole (``"north"`` / ``"south"``) or
  any unit vector: the polar views where the Mollweide map squeezes the arrows.

A view draws a scalar raster (nearest HEALPix pixel, ``healpy.ang2pix`` in the grid's own ordering, so
tensors in RING or NESTED order both draw right) and gives, for points on the sphere with ambient tangent
vectors ``w``, their positions on the axes and the arrows' screen directions: for the orthographic view the
projection of ``w`` on the view plane (exact), for Mollweide the direction of a short step along ``w`` mapped
through the axes' transform (true to the map's distortion).
"""
from __future__ import annotations

import healpy as hp
import numpy as np

from fiberconv.spaces import HealpixGrid

__all__ = ["MapView", "Mollweide", "Orthographic"]


class MapView:
    """A view: :meth:`axes` makes the axes, :meth:`raster` draws a scalar field, :meth:`arrows` places arrows."""

    name = "view"

    def axes(self, fig, pos, title: str):
        raise NotImplementedError

    def raster(self, ax, values: np.ndarray, grid: HealpixGrid, **kwargs):
        raise NotImplementedError

    def arrows(self, ax, xyz: np.ndarray, w: np.ndarray):
        """``(positions (K, 2), unit screen directions (K, 2), visible (K,) bool)`` of points ``xyz (K, 3)`` with
        ambient tangent vectors ``w (K, 3)``."""
        raise NotImplementedError

    def arrows_across(self, arrow_nside: int) -> float:
        """About how many arrows (of ``HealpixGrid(arrow_nside)``) lie across the axes' width: a vector of the
        reference speed is drawn ``1 / arrows_across`` of the width long."""
        raise NotImplementedError


class Mollweide(MapView):
    """The whole globe, longitude 0 in the middle, east to the right."""

    name = "Mollweide"

    def __init__(self, nlat: int = 90, nlon: int = 180):
        self.nlat, self.nlon = nlat, nlon

    def axes(self, fig, pos, title: str):
        ax = fig.add_subplot(*pos, projection="mollweide")
        ax.set_title(title, fontsize=9)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.grid(True, linewidth=0.3, alpha=0.5)
        return ax

    def raster(self, ax, values, grid, **kwargs):
        lon_e = np.linspace(-np.pi, np.pi, self.nlon + 1)
        lat_e = np.linspace(-np.pi / 2, np.pi / 2, self.nlat + 1)
        LON, LAT = np.meshgrid(0.5 * (lon_e[1:] + lon_e[:-1]), 0.5 * (lat_e[1:] + lat_e[:-1]))
        pix = hp.ang2pix(grid.nside, np.pi / 2 - LAT, np.mod(LON, 2 * np.pi), nest=grid.nest)
        return ax.pcolormesh(lon_e, lat_e, values[pix], shading="flat", rasterized=True, **kwargs)

    def arrows(self, ax, xyz, w):
        lat = np.arcsin(np.clip(xyz[:, 2], -1, 1))
        lon = np.arctan2(xyz[:, 1], xyz[:, 0])
        east = np.stack([-np.sin(lon), np.cos(lon), 0 * lon], -1)
        north = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], -1)
        u, v = (w * east).sum(-1), (w * north).sum(-1)
        speed = np.maximum(np.hypot(u, v), 1e-12)
        eps = 1e-3
        lon2 = lon + eps * (u / speed) / np.maximum(np.cos(lat), 1e-6)
        lat2 = np.clip(lat + eps * v / speed, -np.pi / 2, np.pi / 2)
        a = ax.transData.transform(np.column_stack([lon, lat]))
        d = ax.transData.transform(np.column_stack([lon2, lat2])) - a
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
        return np.column_stack([lon, lat]), d, np.ones(len(xyz), dtype=bool)

    def arrows_across(self, arrow_nside: int) -> float:
        return 4.0 * arrow_nside  # the equator is 4 arrow_nside pixels long


class Orthographic(MapView):
    """The hemisphere around ``centre`` (``"north"``, ``"south"`` or a 3-vector) seen from outside the sphere.

    Screen axes ``(e1, e2)`` with ``e1 x e2 = centre`` (towards the viewer): seen from above the north pole,
    longitude 0 points right and east turns anticlockwise; seen from below the south pole, east turns
    clockwise.
    """

    def __init__(self, centre="north", resolution: int = 200, margin: float = 0.05):
        if isinstance(centre, str):
            if centre not in ("north", "south"):
                raise ValueError(f"Orthographic: centre must be 'north', 'south' or a 3-vector, got {centre!r}")
            self.name = f"orthographic, {centre} pole"
            centre = (0.0, 0.0, 1.0 if centre == "north" else -1.0)
        else:
            self.name = "orthographic"
        d = np.asarray(centre, dtype=np.float64)
        if d.shape != (3,) or not np.isfinite(d).all() or np.linalg.norm(d) == 0:
            raise ValueError(f"Orthographic: centre must be a non-zero 3-vector, got {centre!r}")
        d = d / np.linalg.norm(d)
        ref = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([0.0, 1.0, 0.0]) * np.sign(d[2])
        e1 = np.cross(ref, d)
        e1 /= np.linalg.norm(e1)
        self.d, self.e1, self.e2 = d, e1, np.cross(d, e1)
        self.resolution, self.margin = resolution, margin

    def axes(self, fig, pos, title: str):
        import matplotlib.patches as mpatches

        ax = fig.add_subplot(*pos)
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlim(-1.05, 1.05)
        ax.set_ylim(-1.05, 1.05)
        ax.set_axis_off()
        ax.add_patch(mpatches.Circle((0, 0), 1.0, fill=False, linewidth=0.6, color="0.3"))
        return ax

    def raster(self, ax, values, grid, **kwargs):
        n = self.resolution
        s = (np.arange(n) + 0.5) / n * 2 - 1
        X, Y = np.meshgrid(s, s)
        r2 = X**2 + Y**2
        inside = r2 < 1
        Z = np.sqrt(np.clip(1 - r2, 0, 1))
        p = X[..., None] * self.e1 + Y[..., None] * self.e2 + Z[..., None] * self.d
        pix = hp.vec2pix(grid.nside, p[..., 0], p[..., 1], p[..., 2], nest=grid.nest)
        img = np.where(inside, values[pix], np.nan)
        return ax.imshow(img, origin="lower", extent=(-1, 1, -1, 1), interpolation="nearest", **kwargs)

    def arrows(self, ax, xyz, w):
        pos = np.column_stack([xyz @ self.e1, xyz @ self.e2])
        d = np.column_stack([w @ self.e1, w @ self.e2])
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
        return pos, d, xyz @ self.d > self.margin

    def arrows_across(self, arrow_nside: int) -> float:
        return 2.0 * arrow_nside  # a diameter is half the equator's 4 arrow_nside pixels

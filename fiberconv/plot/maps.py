r"""Mollweide maps of HEALPix fields (matplotlib on an Agg canvas: no display needed; matplotlib is imported
when a figure is drawn, see :mod:`fiberconv.plot`).

* :func:`plot_wind_maps` — maps of tangent vector fields such as winds: speed (colour) with direction arrows,
  e.g. for an input, the truth, predictions and their errors;
* :func:`plot_scalar_maps` — maps of scalar fields (e.g. vorticity, divergence, their errors).

Maps are drawn on matplotlib's ``projection="mollweide"`` axes: each HEALPix field is sampled on a
regular longitude-latitude raster (nearest pixel, ``healpy.ang2pix``) and drawn with ``pcolormesh``. Arrows
sit at the fine pixels nearest to the pixel centres of a coarse HEALPix grid and point along the wind *as projected*:
each arrow's screen direction is that of a short step along ``(u, v)`` mapped through the axes' own
transform, so arrows stay true to the map's distortion away from the central meridian.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import healpy as hp
import numpy as np
import torch

from fiberconv.spaces import HealpixGrid

from ._matplotlib import new_figure

__all__ = ["plot_wind_maps", "plot_scalar_maps"]


def _raster(values: np.ndarray, grid: HealpixGrid, nlat: int = 90, nlon: int = 180):
    """Nearest-pixel raster of a HEALPix map on cell edges ``lon (nlon+1)``, ``lat (nlat+1)`` in radians."""
    lon_e = np.linspace(-np.pi, np.pi, nlon + 1)
    lat_e = np.linspace(-np.pi / 2, np.pi / 2, nlat + 1)
    lon_c, lat_c = 0.5 * (lon_e[1:] + lon_e[:-1]), 0.5 * (lat_e[1:] + lat_e[:-1])
    LON, LAT = np.meshgrid(lon_c, lat_c)
    pix = hp.ang2pix(grid.nside, np.pi / 2 - LAT, np.mod(LON, 2 * np.pi), nest=grid.nest)
    return lon_e, lat_e, values[pix]


def _map_axes(fig, pos, title):
    ax = fig.add_subplot(*pos, projection="mollweide")
    ax.set_title(title, fontsize=9)
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.grid(True, linewidth=0.3, alpha=0.5)
    return ax


def _arrow_points(wind: torch.Tensor, grid: HealpixGrid, arrow_nside: int):
    """The wind ``(2, N)`` at the fine pixels nearest to the pixel centres of ``HealpixGrid(arrow_nside)``:
    lon, lat (radians), u (east), v (north) there. (Point values, not averages: averaging would shrink noisy
    fields such as errors.)"""
    coarse = HealpixGrid(arrow_nside, nest=grid.nest)
    theta, phi = coarse.angles()
    theta, phi = theta.numpy(), phi.numpy()
    pix = hp.ang2pix(grid.nside, theta, phi, nest=grid.nest)
    w = wind.detach().double().cpu().numpy()[:, pix]
    ft, fp = hp.pix2ang(grid.nside, pix, nest=grid.nest)
    lon = np.mod(fp + np.pi, 2 * np.pi) - np.pi
    lat = np.pi / 2 - ft
    return lon, lat, w[1], -w[0]  # u = v_phi, v = -v_theta


def _quiver(ax, lon, lat, u, v, ref_speed: float, n_across: int, color="k"):
    """Arrows pointing along (u, v) in the projected map; a vector of ``ref_speed`` is ``1 / n_across`` of the
    panel's width long (about the spacing of the arrows)."""
    eps = 1e-3
    coslat = np.maximum(np.cos(lat), 1e-6)
    speed = np.hypot(u, v)
    unit_u, unit_v = u / np.maximum(speed, 1e-12), v / np.maximum(speed, 1e-12)
    lon2 = lon + eps * unit_u / coslat
    lat2 = np.clip(lat + eps * unit_v, -np.pi / 2, np.pi / 2)
    a = ax.transData.transform(np.column_stack([lon, lat]))
    b = ax.transData.transform(np.column_stack([lon2, lat2]))
    d = b - a
    ang = np.arctan2(d[:, 1], d[:, 0])
    ax.quiver(lon, lat, speed * np.cos(ang), speed * np.sin(ang), angles="uv", scale=ref_speed * n_across,
              scale_units="width", width=0.003, headwidth=4, color=color, alpha=0.85)


def plot_wind_maps(path: Path, grid: HealpixGrid, panels: dict[str, torch.Tensor], title: str,
                   error_keys: Sequence[str] = (), arrow_nside: int = 8, ncols: int = 2) -> Path:
    r"""Mollweide maps of wind speed with direction arrows, one per entry of ``panels`` (``(2, N)`` winds in
    m/s, e.g. truth, prediction, prediction - truth). Keys in ``error_keys`` share an error colour scale,
    the others a speed scale."""
    keys = list(panels)
    nrows = (len(keys) + ncols - 1) // ncols
    fig = new_figure(figsize=(5.2 * ncols, 3.0 * nrows + 0.6))
    fig.suptitle(title, fontsize=11)
    arrow_nside = min(arrow_nside, grid.nside)
    speeds = {k: panels[k].detach().double().cpu().norm(dim=0).numpy() for k in keys}
    vmax_s = max([speeds[k].max() for k in keys if k not in error_keys] or [1.0])
    vmax_e = max([speeds[k].max() for k in keys if k in error_keys] or [1.0])
    # arrow lengths: a 99th-percentile vector is about as long as the arrows' spacing
    arrow_s = max([np.percentile(speeds[k], 99) for k in keys if k not in error_keys] or [1.0])
    arrow_e = max([np.percentile(speeds[k], 99) for k in keys if k in error_keys] or [1.0])
    axes, meshes = [], []
    for i, k in enumerate(keys):
        ax = _map_axes(fig, (nrows, ncols, i + 1), k)
        err = k in error_keys
        lon_e, lat_e, img = _raster(speeds[k], grid)
        m = ax.pcolormesh(lon_e, lat_e, img, cmap="magma" if err else "viridis", vmin=0,
                          vmax=vmax_e if err else vmax_s, shading="flat", rasterized=True)
        axes.append((ax, k, err))
        meshes.append(m)
    fig.subplots_adjust(left=0.02, right=0.93, top=0.9, bottom=0.03, wspace=0.3, hspace=0.18)
    fig.canvas.draw()  # fix the axes' layout before reading their transforms for the arrows
    for (ax, k, err), m in zip(axes, meshes):
        lon, lat, u, v = _arrow_points(panels[k], grid, arrow_nside)
        _quiver(ax, lon, lat, u, v, arrow_e if err else arrow_s, 4 * arrow_nside, color="w" if err else "k")
        cb = fig.colorbar(m, ax=ax, fraction=0.03, pad=0.02)
        cb.set_label("error (m/s)" if err else "speed (m/s)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    fig.savefig(path, dpi=110)
    return path


def plot_scalar_maps(path: Path, grid: HealpixGrid, panels: dict[str, np.ndarray], title: str,
                     ncols: int = 3, units: str = "") -> Path:
    """Mollweide maps of scalar fields ``(N,)``; each row of ``ncols`` panels shares a symmetric colour scale."""
    keys = list(panels)
    nrows = (len(keys) + ncols - 1) // ncols
    fig = new_figure(figsize=(4.4 * ncols, 2.7 * nrows + 0.6))
    fig.suptitle(title, fontsize=11)
    for r in range(nrows):
        row = keys[r * ncols : (r + 1) * ncols]
        vmax = max(float(np.abs(np.asarray(panels[k])).max()) for k in row) or 1.0
        for j, k in enumerate(row):
            ax = _map_axes(fig, (nrows, ncols, r * ncols + j + 1), k)
            lon_e, lat_e, img = _raster(np.asarray(panels[k]), grid)
            m = ax.pcolormesh(lon_e, lat_e, img, cmap="RdBu_r", vmin=-vmax, vmax=vmax, shading="flat", rasterized=True)
            cb = fig.colorbar(m, ax=ax, fraction=0.03, pad=0.02)
            cb.ax.tick_params(labelsize=7)
            if units:
                cb.set_label(units, fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.95, top=0.88, bottom=0.03, wspace=0.3, hspace=0.2)
    fig.savefig(path, dpi=110)
    return path

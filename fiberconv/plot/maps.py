r"""Maps of HEALPix fields (matplotlib on an Agg canvas: no display needed; matplotlib is imported when a
figure is drawn, see :mod:`fiberconv.plot`), on the views of :mod:`fiberconv.plot.views` (Mollweide by
default, orthographic for the poles).

* :func:`plot_vector_field` — one tangent vector field (e.g. a wind) in several views: speed in colour,
  arrows for the direction; returns the figure (and saves it when given a path);
* :func:`plot_wind_maps` — several tangent vector fields in one view (e.g. input, truth, prediction, error);
* :func:`plot_scalar_maps` — scalar fields (e.g. vorticity, divergence, their errors).

Fields are ``(2, N_pix)`` tangent components ``(v_theta, v_phi)`` (section frame: south, east) or ``(N_pix,)``
scalars, tensors or arrays, in the ordering of their :class:`~fiberconv.spaces.HealpixGrid` (RING or NESTED).
Arrows are thinned evenly over the sphere: they sit at the pixels nearest to the centres of a coarser HEALPix
grid (``arrow_nside``; equal-area cells, so equally many arrows per area everywhere, poles included), and show
point values (averaging would shrink noisy fields such as errors). An arrow of the reference speed (the 99th
percentile) is about as long as the arrows' spacing.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import healpy as hp
import numpy as np
import torch

from fiberconv.spaces import HealpixGrid

from ._matplotlib import new_figure
from .views import MapView, Mollweide, Orthographic

__all__ = ["plot_vector_field", "plot_wind_maps", "plot_scalar_maps", "draw_vectors", "arrow_pixels"]


def _numpy(x, name: str, shape: tuple) -> np.ndarray:
    a = x.detach().double().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    return a


def arrow_pixels(grid: HealpixGrid, arrow_nside: int) -> np.ndarray:
    """Pixels of ``grid`` (its ordering) nearest to the centres of ``HealpixGrid(arrow_nside)``: one arrow per
    coarse equal-area cell (``12 arrow_nside^2`` in all)."""
    arrow_nside = min(int(arrow_nside), grid.nside)
    # a coarse centre is a vertex of fine pixels: pick in RING terms, then convert, so that both orderings
    # choose the same pixels (and list them in the same order)
    theta, phi = hp.pix2ang(arrow_nside, np.arange(12 * arrow_nside**2))
    pix = hp.ang2pix(grid.nside, theta, phi)
    return hp.ring2nest(grid.nside, pix) if grid.nest else pix


def draw_vectors(ax, view: MapView, field: np.ndarray, grid: HealpixGrid, *, vmax: float, ref_speed: float,
                 arrow_nside: int, cmap: str = "viridis", color: str = "k"):
    """Speed raster and arrows of ``field (2, N_pix)`` on ``ax`` (made by ``view.axes``); the axes' layout must
    be fixed (``fig.canvas.draw()``) for the Mollweide arrows. Returns ``(raster, quiver)``."""
    speed = np.hypot(field[0], field[1])
    mesh = view.raster(ax, speed, grid, cmap=cmap, vmin=0, vmax=vmax)
    pix = arrow_pixels(grid, arrow_nside)
    frames = grid.frames().numpy()[pix]  # (K, 2, 3)
    w = (field[:, pix].T[:, :, None] * frames).sum(1)  # ambient (K, 3)
    pos, d, visible = view.arrows(ax, grid.xyz().numpy()[pix], w)
    s = speed[pix][visible]
    n_across = view.arrows_across(min(int(arrow_nside), grid.nside))
    q = ax.quiver(pos[visible, 0], pos[visible, 1], s * d[visible, 0], s * d[visible, 1], angles="uv",
                  scale=ref_speed * n_across, scale_units="width", width=0.003, headwidth=4, color=color, alpha=0.85)
    return mesh, q


def plot_vector_field(field, grid: HealpixGrid, path: Path | str | None = None, *, views: Sequence[MapView] | None = None,
                      title: str = "", units: str = "m/s", arrow_nside: int = 8, vmax: float | None = None):
    r"""One tangent vector field in several views (default: Mollweide, north and south pole orthographic).

    Parameters
    ----------
    field : Tensor or array ``(2, N_pix)``
        ``(v_theta, v_phi)`` in ``grid``'s ordering (``(-v, u)`` for a wind ``(u, v)``).
    grid : HealpixGrid
    path : optional
        Where to save the figure (png, pdf, ...).
    views : sequence of MapView
    vmax : float, optional
        Top of the speed colour scale (default: the largest speed).

    Returns
    -------
    matplotlib.figure.Figure; its axes hold one raster and one ``Quiver`` each.
    """
    if not isinstance(grid, HealpixGrid):
        raise TypeError(f"plot_vector_field: grid must be a HealpixGrid, got {type(grid).__name__}")
    f = _numpy(field, "plot_vector_field: field", (2, grid.npix))
    views = list(views) if views is not None else [Mollweide(), Orthographic("north"), Orthographic("south")]
    widths = [2.0 if isinstance(v, Mollweide) else 1.0 for v in views]
    fig = new_figure(figsize=(2.9 * sum(widths) + 0.8, 3.3))
    if title:
        fig.suptitle(title, fontsize=11)
    speed = np.hypot(f[0], f[1])
    vmax = (float(speed.max()) or 1.0) if vmax is None else float(vmax)
    ref = float(np.percentile(speed, 99)) or 1.0
    gs = fig.add_gridspec(1, len(views), width_ratios=widths)
    axes = [view.axes(fig, (gs[0, i],), view.name) for i, view in enumerate(views)]
    fig.subplots_adjust(left=0.02, right=0.9, top=0.85, bottom=0.05, wspace=0.1)
    fig.canvas.draw()
    mesh = None
    for ax, view in zip(axes, views):
        mesh, _ = draw_vectors(ax, view, f, grid, vmax=vmax, ref_speed=ref, arrow_nside=arrow_nside)
    cax = fig.add_axes((0.92, 0.15, 0.015, 0.6))
    fig.colorbar(mesh, cax=cax).set_label(f"speed ({units})", fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_wind_maps(path: Path, grid: HealpixGrid, panels: dict[str, torch.Tensor], title: str,
                   error_keys: Sequence[str] = (), arrow_nside: int = 8, ncols: int = 2,
                   view: MapView | None = None) -> Path:
    r"""Maps of wind speed with direction arrows, one per entry of ``panels`` (``(2, N)`` winds in m/s, e.g.
    truth, prediction, prediction - truth), in ``view`` (default Mollweide). Keys in ``error_keys`` share an
    error colour scale, the others a speed scale."""
    view = view or Mollweide()
    keys = list(panels)
    fields = {k: _numpy(panels[k], f"plot_wind_maps: panel {k!r}", (2, grid.npix)) for k in keys}
    nrows = (len(keys) + ncols - 1) // ncols
    wide = isinstance(view, Mollweide)
    fig = new_figure(figsize=((5.2 if wide else 3.4) * ncols, (3.0 if wide else 3.4) * nrows + 0.6))
    fig.suptitle(title, fontsize=11)
    speeds = {k: np.hypot(*fields[k]) for k in keys}
    groups = {True: [k for k in keys if k in error_keys], False: [k for k in keys if k not in error_keys]}
    vmax = {e: max([speeds[k].max() for k in g] or [1.0]) for e, g in groups.items()}
    ref = {e: max([np.percentile(speeds[k], 99) for k in g] or [1.0]) for e, g in groups.items()}
    axes = [view.axes(fig, (nrows, ncols, i + 1), k) for i, k in enumerate(keys)]
    fig.subplots_adjust(left=0.02, right=0.93, top=0.9, bottom=0.03, wspace=0.3, hspace=0.18)
    fig.canvas.draw()  # fix the axes' layout before reading their transforms for the arrows
    for ax, k in zip(axes, keys):
        err = k in error_keys
        mesh, _ = draw_vectors(ax, view, fields[k], grid, vmax=vmax[err], ref_speed=ref[err], arrow_nside=arrow_nside,
                               cmap="magma" if err else "viridis", color="w" if err else "k")
        cb = fig.colorbar(mesh, ax=ax, fraction=0.03, pad=0.02)
        cb.set_label("error (m/s)" if err else "speed (m/s)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    fig.savefig(path, dpi=110)
    return path


def plot_scalar_maps(path: Path, grid: HealpixGrid, panels: dict[str, np.ndarray], title: str,
                     ncols: int = 3, units: str = "", view: MapView | None = None) -> Path:
    """Maps of scalar fields ``(N,)`` in ``view`` (default Mollweide); each row of ``ncols`` panels shares a
    symmetric colour scale."""
    view = view or Mollweide()
    keys = list(panels)
    values = {k: _numpy(panels[k], f"plot_scalar_maps: panel {k!r}", (grid.npix,)) for k in keys}
    nrows = (len(keys) + ncols - 1) // ncols
    fig = new_figure(figsize=(4.4 * ncols, 2.7 * nrows + 0.6))
    fig.suptitle(title, fontsize=11)
    for r in range(nrows):
        row = keys[r * ncols : (r + 1) * ncols]
        vmax = max(float(np.abs(values[k]).max()) for k in row) or 1.0
        for j, k in enumerate(row):
            ax = view.axes(fig, (nrows, ncols, r * ncols + j + 1), k)
            m = view.raster(ax, values[k], grid, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            cb = fig.colorbar(m, ax=ax, fraction=0.03, pad=0.02)
            cb.ax.tick_params(labelsize=7)
            if units:
                cb.set_label(units, fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.95, top=0.88, bottom=0.03, wspace=0.3, hspace=0.2)
    fig.savefig(path, dpi=110)
    return path

"""The wind example's line plot: downscaling errors against the rotation angle of the globe. The maps are
:mod:`fiberconv.plot.maps` (re-exported here); matplotlib is imported when a figure is drawn."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fiberconv.plot import new_figure, plot_scalar_maps, plot_vector_field, plot_wind_maps

__all__ = ["plot_wind_maps", "plot_scalar_maps", "plot_vector_field", "plot_error_vs_rotation"]


def plot_error_vs_rotation(path: Path, angles: Sequence[float], curves: dict[str, dict[str, Sequence[float]]],
                           title: str, symmetric_angles: Sequence[float] = (0, 180), polar_degrees: float = 20) -> Path:
    """Four panels against the rotation angle: RMSE, RMSE relative to the upsampled input's ("skill"), RMSE near
    the grid's poles, mean angular error; ``curves[name] = {"rmse": [...], "skill": [...], ...}`` (missing keys are
    skipped). Angles that are grid symmetries
    (exact rotations) are shaded."""
    fig = new_figure(figsize=(11, 7.5))
    axs = fig.subplots(2, 2)
    fig.suptitle(title, fontsize=10)
    styles = {"equivariant": ("C0", "o", "-"), "baseline": ("C3", "s", "-"), "upsampled input": ("0.5", ".", ":")}
    panels = (("rmse", "RMSE (m/s)"), ("skill", "RMSE / RMSE of the upsampled input"),
              ("rmse_polar", f"RMSE within {polar_degrees:g}° of the poles (m/s)"), ("angle", "mean angular error (deg)"))
    axs = axs.ravel()
    for ax, (key, label) in zip(axs, panels):
        for name, c in curves.items():
            if key not in c:
                continue
            color, marker, ls = styles.get(name, (None, "^", "--"))
            ax.plot(angles, c[key], marker=marker, linestyle=ls, color=color, label=name)
        for a in symmetric_angles:
            ax.axvline(a, color="0.85", linewidth=3, zorder=0)
        ax.set_xlabel("rotation of the globe about the x-axis (deg)")
        ax.set_ylabel(label)
        ax.set_xticks(list(angles))
        ax.grid(alpha=0.3)
    axs[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path

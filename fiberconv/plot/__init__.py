"""Figures of fields on the sphere: Mollweide maps of HEALPix scalar fields, and of tangent vector fields
(speed in colour, direction as arrows true to the projection) — :mod:`fiberconv.plot.maps`.

matplotlib is an optional dependency (``pip install "fiberconv[examples]"``), imported only when a figure is
drawn: importing this package needs none, and drawing without it raises an ImportError naming the extra.
"""
from ._matplotlib import new_figure, require_matplotlib
from .maps import plot_scalar_maps, plot_wind_maps

__all__ = ["plot_wind_maps", "plot_scalar_maps", "new_figure", "require_matplotlib"]

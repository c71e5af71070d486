"""Figures of fields on the sphere: maps of HEALPix scalar fields and of tangent vector fields (speed in colour,
direction as arrows true to the projection, thinned evenly over the sphere) — :mod:`fiberconv.plot.maps` — on
Mollweide and orthographic (polar) views — :mod:`fiberconv.plot.views`.

matplotlib is an optional dependency (``pip install "fiberconv[examples]"``), imported only when a figure is
drawn: importing this package needs none, and drawing without it raises an ImportError naming the extra.
"""
from ._matplotlib import new_figure, require_matplotlib
from .maps import arrow_pixels, draw_vectors, plot_scalar_maps, plot_vector_field, plot_wind_maps
from .views import MapView, Mollweide, Orthographic

__all__ = ["plot_vector_field", "plot_wind_maps", "plot_scalar_maps", "draw_vectors", "arrow_pixels", "MapView",
           "Mollweide", "Orthographic", "new_figure", "require_matplotlib"]

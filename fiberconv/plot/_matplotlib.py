"""matplotlib, imported when a figure is drawn: an optional dependency (``pip install "fiberconv[examples]"``).

Figures are built as :class:`matplotlib.figure.Figure` on their own Agg canvas, without :mod:`matplotlib.pyplot`:
no display is needed, and the backend a user has chosen is left alone.
"""
from __future__ import annotations

__all__ = ["require_matplotlib", "new_figure"]

_HINT = 'plotting needs matplotlib, an optional dependency of fiberconv: `pip install "fiberconv[examples]"` ' \
        "(or `pip install matplotlib`)"


def require_matplotlib():
    """The :mod:`matplotlib` module, or an ImportError that says which extra to install."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(_HINT) from e
    return matplotlib


def new_figure(**kwargs):
    """A :class:`~matplotlib.figure.Figure` with an Agg canvas (``fig.canvas.draw()`` and ``fig.savefig`` work)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig

"""xarray, imported when :mod:`fiberconv.io` is: an optional dependency (``pip install "fiberconv[examples]"``)."""
from __future__ import annotations

__all__ = ["require_xarray"]

_HINT = ('fiberconv.io needs xarray (with cftime for non-standard calendars and netCDF4 for files), optional '
         'dependencies of fiberconv: `pip install "fiberconv[examples]"` (or `pip install xarray cftime netCDF4 dask`)')


def require_xarray():
    """The :mod:`xarray` module, or an ImportError that says which extra to install."""
    try:
        import xarray
    except ImportError as e:
        raise ImportError(_HINT) from e
    return xarray

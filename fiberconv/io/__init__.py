r"""Climate data in and out: xarray Datasets on lat-lon grids to HEALPix, and HEALPix-native xarray.

Needs the ``examples`` extra (``pip install "fiberconv[examples]"``: xarray, cftime, netCDF4, dask);
importing :mod:`fiberconv.io` without xarray raises an ImportError that says so. The library core
(``fiberconv.spaces``, ``fields``, ``nn``) needs none of it.

* :mod:`fiberconv.io.latlon` — :func:`open_wind`, :func:`open_field`: find the variables (CF standard names,
  ERA5 / CMIP short names), select a time range, regrid lazily with a plan built once (:class:`Regridder`);
* :mod:`fiberconv.io.healpix` — HEALPix-native DataArrays / Datasets with the xdggs conventions
  (``cell_ids``, ``grid_name="healpix"``, ``level``, ``indexing_scheme``): :func:`to_dataarray`,
  :func:`to_tensor`, :func:`wind_to_dataset`, :func:`wind_tensor`, :func:`grid_of`;
* :mod:`fiberconv.io.synthetic` — small ERA5- and CMIP-style Datasets of a known wind, for tests and docs.
"""
from ._xarray import require_xarray

require_xarray()

from .healpix import (  # noqa: E402
    CELL_DIM,
    HealpixMetadataError,
    cell_ids_coord,
    grid_of,
    to_dataarray,
    to_tensor,
    wind_tensor,
    wind_to_dataset,
)
from .latlon import (  # noqa: E402
    Regridder,
    VariableNotFound,
    find_latlon,
    find_time,
    find_wind,
    open_field,
    open_wind,
    select_time,
)

__all__ = ["CELL_DIM", "HealpixMetadataError", "cell_ids_coord", "grid_of", "to_dataarray", "to_tensor",
           "wind_tensor", "wind_to_dataset", "Regridder", "VariableNotFound", "find_latlon", "find_time",
           "find_wind", "open_field", "open_wind", "select_time"]

r"""Lat-lon climate data from xarray to HEALPix: variable discovery, time selection, lazy regridding.

CF decoding (packing, ``_FillValue``, times in any calendar) is xarray's and cftime's: open files with
:func:`xarray.open_dataset` / :func:`xarray.open_mfdataset` (engine ``netcdf4`` reads zstd-compressed
NetCDF-4 too) or :func:`xarray.open_zarr`, ideally with ``chunks=`` so nothing is read before it is needed.
This module then

* finds the wind by CF standard name (``eastward_wind`` / ``northward_wind``) or by the usual short names
  (ERA5 ``u10`` / ``v10``, CMIP ``uas`` / ``vas``, NCEP ``uwnd`` / ``vwnd``, ...; :data:`U_NAMES`), and the
  latitude / longitude coordinates by name, units (``degrees_north`` / ``degrees_east``), standard name or
  ``axis``;
* finds the time dimension (``time``, ERA5's new ``valid_time``, or any dimension with datetime / cftime
  values) and selects a time range (``time=slice("2020-01-01", "2020-01-31")``, labels as in
  :meth:`xarray.DataArray.sel`); ERA5's ``expver`` dimension (ERA5 and ERA5T in one file, NaN where the
  other holds the value) is merged;
* regrids lazily: the :class:`~fiberconv.fields.regrid.LatLonToHealpix` plan is built once, and each dask
  chunk of ``chunk`` time steps is regridded when it is computed, so memory stays at a few chunks of input
  per dask worker, however long the record (``bench/bench_regrid.py``: 0.25 degrees, chunks of 8 steps, one
  worker: a peak of 306 MiB above the start for a record of 760 MiB or longer; 18 ms per step).

The result is a HEALPix-native Dataset (:mod:`fiberconv.io.healpix`: ``cell_ids`` with the xdggs
attributes), which :func:`fiberconv.io.wind_tensor` turns into ``(T, 2, N_pix)`` tangent components, and
which ``to_netcdf`` / ``to_zarr`` write chunk by chunk.
"""
from __future__ import annotations

import numpy as np

from ..datasets.netcdf import LAT_NAMES, LAT_UNITS, LON_NAMES, LON_UNITS
from ..datasets.wind import U_NAMES, U_STANDARD, V_NAMES, V_STANDARD
from ..fields.regrid import LatLonToHealpix
from ..spaces.healpix import HealpixGrid
from ..validation import check_positive_int
from ._xarray import require_xarray
from .healpix import CELL_DIM, cell_ids_coord

__all__ = ["Regridder", "VariableNotFound", "find_wind", "find_latlon", "find_time", "open_wind", "open_field", "select_time",
           "U_NAMES", "V_NAMES"]

xr = require_xarray()

_TIME_NAMES = ("time", "valid_time", "t")


class VariableNotFound(KeyError):
    """No (or more than one) variable matches: the message lists the data variables."""

    def __str__(self) -> str:  # KeyError quotes its message; this one is a sentence
        return str(self.args[0])


# ------------------------------------------------------------------------------------------------
# discovery
# ------------------------------------------------------------------------------------------------
def _describe(ds) -> str:
    def one(k, v):
        std = f" [{v.attrs['standard_name']}]" if "standard_name" in v.attrs else ""
        return f"{k}({', '.join(map(str, v.dims))}){std}"

    return ", ".join(one(k, v) for k, v in ds.data_vars.items()) or "none"


def _find_var(ds, name, names, standard, what: str, arg: str):
    if name is not None:
        if name not in ds.data_vars:
            raise VariableNotFound(f"variable {name!r} ({what}) not found; data variables: {_describe(ds)}")
        return ds[name]
    by_std = [k for k, v in ds.data_vars.items() if str(v.attrs.get("standard_name", "")).lower() in standard]
    hits = by_std or [k for k, v in ds.data_vars.items() if k.lower() in names and v.ndim >= 2]
    if not hits:
        raise VariableNotFound(f"no {what} variable: looked for standard_name {standard[0]!r} and names "
                               f"{', '.join(names[:8])}, ...; data variables: {_describe(ds)}. Pass {arg}='NAME'")
    if len(hits) > 1:
        raise VariableNotFound(f"several {what} variables: {hits}; choose one with {arg}='NAME'")
    return ds[hits[0]]


def find_wind(ds, u_name: str | None = None, v_name: str | None = None):
    """The eastward and northward wind DataArrays of ``ds`` (module docstring); VariableNotFound (a KeyError)
    listing the data variables when none or several match."""
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"find_wind: expected an xarray.Dataset, got {type(ds).__name__}")
    return (_find_var(ds, u_name, U_NAMES, U_STANDARD, "eastward wind (u)", "u_name"),
            _find_var(ds, v_name, V_NAMES, V_STANDARD, "northward wind (v)", "v_name"))


def _is_axis(c, names, units, standard, axis) -> bool:
    a = c.attrs
    return (c.name.lower() in names or str(a.get("units", "")).lower().replace(" ", "") in units
            or str(a.get("standard_name", "")).lower() == standard or str(a.get("axis", "")).upper() == axis)


def find_latlon(da, lat_name: str | None = None, lon_name: str | None = None) -> tuple[str, str]:
    """Names of the latitude and longitude dimensions of ``da`` (1-D coordinates); ValueError naming the
    dimensions and coordinates found otherwise."""
    lat = lat_name
    lon = lon_name
    for d in da.dims:
        if d not in da.coords or da.coords[d].ndim != 1:
            continue
        c = da.coords[d]
        if lat is None and _is_axis(c, LAT_NAMES, LAT_UNITS, "latitude", "Y"):
            lat = d
        elif lon is None and _is_axis(c, LON_NAMES, LON_UNITS, "longitude", "X"):
            lon = d
    for name, what, arg in ((lat, "latitude", "lat_name"), (lon, "longitude", "lon_name")):
        if name is None or name not in da.dims or name not in da.coords:
            raise ValueError(
                f"{da.name}: no {what} dimension with a 1-D coordinate found (dimensions {da.dims}, coordinates "
                f"{list(da.coords)}); a global lat-lon grid is needed, pass {arg}= if it has an unusual name")
    return lat, lon


def find_time(da) -> str | None:
    """The time dimension of ``da``: one with datetime64 or cftime values, else one named ``time`` /
    ``valid_time``; None when there is none. Raises ValueError when its values were not decoded (numbers with
    CF units ``"... since ..."``): open the data with ``decode_times=True`` (the default) or ``xr.decode_cf``."""
    for d in da.dims:
        if d in da.coords and da.coords[d].ndim == 1:
            kind = da.coords[d].dtype.kind
            if kind == "M" or (kind == "O" and da.sizes[d] and hasattr(da.coords[d].values[0], "calendar")):
                return d
    for d in da.dims:
        if str(d).lower() in _TIME_NAMES:
            c = da.coords.get(d)
            if c is not None and " since " in str(c.attrs.get("units", "")):
                raise ValueError(
                    f"{da.name}: the time coordinate {d!r} holds undecoded numbers ({c.attrs['units']!r}, calendar "
                    f"{c.attrs.get('calendar', 'standard')!r}); open the data with decode_times=True (the default, "
                    "cftime decodes any CF calendar) or pass it through xarray.decode_cf")
            return d
    return None


def select_time(da, time):
    """``da`` restricted to ``time`` (a label, a slice of labels, or a list, as in ``DataArray.sel``), on the
    dimension :func:`find_time` finds; ``None`` keeps everything."""
    if time is None:
        return da
    dim = find_time(da)
    if dim is None:
        raise ValueError(f"{da.name}: time={time!r} was given but the data has no time dimension (dimensions {da.dims})")
    try:
        out = da.sel({dim: time})
    except (KeyError, TypeError, ValueError) as e:
        c = da.coords[dim].values
        raise ValueError(f"{da.name}: cannot select time={time!r} on {dim!r} (values {c[0]} .. {c[-1]}, "
                         f"{c.dtype}): {e}") from e
    if dim in out.dims and out.sizes[dim] == 0:
        c = da.coords[dim].values
        raise ValueError(f"{da.name}: time={time!r} selects no step (the data covers {c[0]} .. {c[-1]})")
    return out


def _merge_expver(da):
    """ERA5 files mixing ERA5 (expver 1) and ERA5T (expver 5) on an ``expver`` dimension: the first value that
    is not NaN, in the order of the dimension."""
    if "expver" not in da.dims:
        return da
    out = da.isel(expver=0, drop=True)
    for i in range(1, da.sizes["expver"]):
        out = out.fillna(da.isel(expver=i, drop=True))
    return out


# ------------------------------------------------------------------------------------------------
# regridding
# ------------------------------------------------------------------------------------------------
class Regridder:
    """A lat-lon -> HEALPix plan (:class:`~fiberconv.fields.regrid.LatLonToHealpix`) built once, applied to
    xarray DataArrays lazily (dask) or at once (numpy).

    Parameters
    ----------
    lat, lon : array_like
        Degrees (rules of :class:`~fiberconv.fields.regrid.LatLonToHealpix`).
    grid : HealpixGrid
    pole_rows : {"average", "drop"}
    dtype : numpy dtype of the output (default float32)
    """

    def __init__(self, lat, lon, grid: HealpixGrid, pole_rows: str = "average", dtype=np.float32):
        self.plan = LatLonToHealpix(lat, lon, grid, pole_rows=pole_rows)
        self.grid, self.dtype = grid, np.dtype(dtype)

    @classmethod
    def for_dataarray(cls, da, grid: HealpixGrid, lat_name=None, lon_name=None, **kwargs) -> Regridder:
        lat, lon = find_latlon(da, lat_name, lon_name)
        return cls(da.coords[lat].values, da.coords[lon].values, grid, **kwargs)

    def _prepare(self, da, lat_name, lon_name, chunk):
        lat, lon = find_latlon(da, lat_name, lon_name)
        if (da.sizes[lat], da.sizes[lon]) != (self.plan.nlat, self.plan.nlon):
            raise ValueError(f"{da.name}: grid ({da.sizes[lat]}, {da.sizes[lon]}) is not the plan's "
                             f"({self.plan.nlat}, {self.plan.nlon})")
        if not (np.allclose(da.coords[lat].values, self.plan.lat) and np.allclose(da.coords[lon].values, self.plan.lon)):
            raise ValueError(f"{da.name}: latitudes / longitudes differ from the plan's; build a Regridder for this grid")
        t = find_time(da)
        if chunk is not None and t is not None:
            da = da.chunk({t: chunk, lat: -1, lon: -1})
        elif da.chunks is not None:
            da = da.chunk({lat: -1, lon: -1})
        return da, lat, lon

    def _out(self, result, lat, lon, name, attrs):
        result = result.assign_coords(cell_ids=cell_ids_coord(self.grid))
        result.name, result.attrs = name, dict(attrs)
        return result.drop_vars([c for c in (lat, lon) if c in result.coords])

    def scalar(self, da, lat_name=None, lon_name=None, chunk: int | None = None):
        """``da (..., lat, lon)`` -> ``(..., cells)`` DataArray (lazy if ``da`` is dask-backed or ``chunk`` is
        given: ``chunk`` time steps per dask chunk)."""
        da, lat, lon = self._prepare(da, lat_name, lon_name, chunk)
        plan, dtype = self.plan, self.dtype
        out = xr.apply_ufunc(lambda f: plan.scalar(f).astype(dtype, copy=False), da,
                             input_core_dims=[[lat, lon]], output_core_dims=[[CELL_DIM]], dask="parallelized",
                             output_dtypes=[dtype], dask_gufunc_kwargs={"output_sizes": {CELL_DIM: self.grid.npix}},
                             keep_attrs=False)
        return self._out(out, lat, lon, da.name, da.attrs)

    def wind(self, u, v, lat_name=None, lon_name=None, chunk: int | None = None):
        """Eastward / northward ``(..., lat, lon)`` -> Dataset with ``u``, ``v`` on ``(..., cells)`` (the wind
        regridded as a vector: :class:`~fiberconv.fields.regrid.LatLonToHealpix`); lazy as :meth:`scalar`."""
        u, lat, lon = self._prepare(u, lat_name, lon_name, chunk)
        v, lat_v, lon_v = self._prepare(v, lat_name, lon_name, chunk)
        if (lat_v, lon_v) != (lat, lon) or u.dims != v.dims or u.shape != v.shape:
            raise ValueError(f"u ({u.name}{u.dims} {u.shape}) and v ({v.name}{v.dims} {v.shape}) are not on the same grid")
        plan, dtype = self.plan, self.dtype

        def regrid(uu, vv):  # (..., nlat, nlon) -> (..., 2, N): (u, v) = (v_phi, -v_theta)
            w = plan.wind(uu, vv)
            return np.stack([w[..., 1, :], -w[..., 0, :]], axis=-2).astype(dtype, copy=False)

        out = xr.apply_ufunc(regrid, u, v, input_core_dims=[[lat, lon], [lat, lon]],
                             output_core_dims=[["component", CELL_DIM]], dask="parallelized", output_dtypes=[dtype],
                             dask_gufunc_kwargs={"output_sizes": {"component": 2, CELL_DIM: self.grid.npix}},
                             keep_attrs=False)
        ds = xr.Dataset({
            "u": self._out(out.isel(component=0, drop=True), lat, lon, "u",
                           {**_cf_attrs(u), "standard_name": "eastward_wind"}),
            "v": self._out(out.isel(component=1, drop=True), lat, lon, "v",
                           {**_cf_attrs(v), "standard_name": "northward_wind"}),
        })
        ds.attrs["regridding"] = ("fiberconv.fields.regrid.LatLonToHealpix (bilinear on ambient 3-D vectors, "
                                  f"pole_rows={plan.pole_rows!r}) from variables {u.name}, {v.name}")
        return ds


def _cf_attrs(da) -> dict:
    return {k: da.attrs[k] for k in ("units", "long_name") if k in da.attrs}


def _prepare_field(da, time, select):
    if select:
        da = da.sel(select)
    da = _merge_expver(da)
    da = select_time(da, time)
    extra = [d for d in da.dims if da.sizes[d] == 1 and d != find_time(da)]
    return da.squeeze(extra, drop=True) if extra else da


def open_wind(ds, nside: int = 32, nest: bool = True, *, time=None, select: dict | None = None,
              u_name: str | None = None, v_name: str | None = None, lat_name: str | None = None,
              lon_name: str | None = None, chunk: int = 8, pole_rows: str = "average", dtype=np.float32):
    """The wind of a lat-lon xarray Dataset on ``HealpixGrid(nside, nest)``, lazily.

    Parameters
    ----------
    ds : xarray.Dataset
        CF-decoded (as :func:`xarray.open_dataset` returns it), with eastward and northward wind on a global
        lat-lon grid (found as in :func:`find_wind`, :func:`find_latlon`).
    time : label, slice or list, optional
        Time steps to keep (:func:`select_time`), e.g. ``slice("2020-01-01", "2020-01-31T23")``.
    select : dict, optional
        Labels of other dimensions, e.g. ``{"pressure_level": 850}``; dimensions of length 1 are dropped.
    chunk : int
        Time steps per dask chunk: memory use is a few chunks of input per dask worker.
    pole_rows, dtype
        As in :class:`Regridder`.

    Returns
    -------
    xarray.Dataset
        ``u``, ``v`` (``eastward_wind``, ``northward_wind``, the file's units) on ``(time, cells)``, dask-backed,
        with the ``cell_ids`` coordinate of :mod:`fiberconv.io.healpix`. ``wind_tensor(result)`` gives the
        ``(T, 2, N_pix)`` tangent components; ``result.to_netcdf(path)`` writes it chunk by chunk.

    Raises
    ------
    VariableNotFound, ValueError
        No wind variable, no latitude / longitude, undecoded times, an empty time selection, a grid that is not
        global. Missing values (NaN) in the selected steps raise when the chunk holding them is computed.
    """
    check_positive_int(chunk, "chunk", who="open_wind")
    u, v = find_wind(ds, u_name, v_name)
    u, v = _prepare_field(u, time, select), _prepare_field(v, time, select)
    regridder = Regridder.for_dataarray(u, HealpixGrid(nside, nest=nest), lat_name, lon_name, pole_rows=pole_rows,
                                        dtype=dtype)
    return regridder.wind(u, v, lat_name, lon_name, chunk=chunk)


def open_field(ds, name: str | None = None, nside: int = 32, nest: bool = True, *, time=None,
               select: dict | None = None, lat_name: str | None = None, lon_name: str | None = None, chunk: int = 8,
               pole_rows: str = "average", dtype=np.float32):
    """A scalar field (temperature, pressure, ...) on ``HealpixGrid(nside, nest)``, lazily: a DataArray on
    ``(time, cells)``. ``ds`` is a Dataset (then ``name`` picks the variable) or a DataArray; other arguments
    as :func:`open_wind`."""
    if isinstance(ds, xr.DataArray):
        da = ds
    elif isinstance(ds, xr.Dataset):
        if name not in ds.data_vars:
            raise VariableNotFound(f"variable {name!r} not found; data variables: {_describe(ds)}")
        da = ds[name]
    else:
        raise TypeError(f"open_field: expected an xarray Dataset or DataArray, got {type(ds).__name__}")
    check_positive_int(chunk, "chunk", who="open_field")
    da = _prepare_field(da, time, select)
    regridder = Regridder.for_dataarray(da, HealpixGrid(nside, nest=nest), lat_name, lon_name, pole_rows=pole_rows,
                                        dtype=dtype)
    return regridder.scalar(da, lat_name, lon_name, chunk=chunk)

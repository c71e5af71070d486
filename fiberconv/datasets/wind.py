r"""Wind data for the examples: the committed HEALPix default, and a loader for any lat-lon NetCDF.

Two entry points:

* :func:`load_default` reads ``examples/wind/data/navy_winds_nside32.npz``: 132 monthly mean
  surface winds (Navy FNOC, 1982-1992) regridded to HEALPix nside 32, NESTED, as tangent
  components ``(v_theta, v_phi)`` in m/s (provenance in ``examples/wind/data/README.md``).
* :func:`load_netcdf` reads eastward / northward wind from one or more lat-lon NetCDF files
  (NetCDF-3 classic via :mod:`scipy.io`, NetCDF-4 / HDF5 via ``h5py``) and regrids it with
  :class:`fiberconv.fields.regrid.LatLonToHealpix`; :func:`read_latlon_wind` stops before the
  regridding. Variables are found by common names (``uwnd``, ``u``, ``u10``, ``UWND``, ... and the
  CF standard names ``eastward_wind`` / ``northward_wind``) or given by name; the latitude and
  longitude coordinates by name, units (``degrees_north`` / ``degrees_east``), ``standard_name`` or
  ``axis``. Fill values (``_FillValue``, ``missing_value``, ``valid_range``) and packing
  (``scale_factor``, ``add_offset``) follow the CF conventions. Missing values, non-finite values,
  missing variables or coordinates, and u / v on different grids are errors that say what was found.

:func:`load` dispatches between the two. All return a :class:`WindDataset`: ``wind`` ``(T, 2, N_pix)`` float32 on a
:class:`~fiberconv.spaces.healpix.HealpixGrid`, with times and metadata.

Example (e.g. ERA5 10 m winds)::

    from examples.wind.data import load_netcdf
    ds = load_netcdf("era5_u10_v10.nc", nside=32)            # finds u10 / v10, latitude / longitude
    ds = load_netcdf("uwnd.nc", "vwnd.nc", u_name="uwnd", v_name="vwnd", select={"level": 0})
"""
from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fiberconv.fields.regrid import LatLonToHealpix
from fiberconv.spaces.healpix import HealpixGrid

__all__ = [
    "DEFAULT_PATH",
    "WindDataset",
    "LatLonWind",
    "WindDataError",
    "load",
    "load_default",
    "load_netcdf",
    "read_latlon_wind",
    "decode_time",
]

#: the committed default data set
DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "navy_winds_nside32.npz"

# names are compared case-insensitively
U_NAMES = ("uwnd", "u", "u10", "u10m", "uas", "ua", "ugrd", "u_wind", "uwind", "10u", "var165", "var131",
           "u_component_of_wind", "10m_u_component_of_wind")
V_NAMES = ("vwnd", "v", "v10", "v10m", "vas", "va", "vgrd", "v_wind", "vwind", "10v", "var166", "var132",
           "v_component_of_wind", "10m_v_component_of_wind")
U_STANDARD = ("eastward_wind",)
V_STANDARD = ("northward_wind",)
LAT_NAMES = ("lat", "latitude", "lats", "nav_lat", "xlat", "rlat")
LON_NAMES = ("lon", "longitude", "lons", "nav_lon", "xlon", "rlon")
LAT_UNITS = ("degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn")
LON_UNITS = ("degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese")


class WindDataError(ValueError):
    """A wind file that cannot be read as global lat-lon (u, v): the message says what was found."""


# ------------------------------------------------------------------------------------------------
# the result
# ------------------------------------------------------------------------------------------------
@dataclass
class WindDataset:
    r"""Wind on a HEALPix grid.

    Attributes
    ----------
    wind : ndarray float32 ``(T, 2, N_pix)``
        ``(v_theta, v_phi) = (-v, u)`` in the section frame (south, east) of each pixel, in ``grid``'s
        ordering, in ``units``.
    grid : HealpixGrid
    time : ndarray ``(T,)``
        ``datetime64[s]`` when the file's time units could be decoded, else the raw values.
    meta : dict
        Strings: ``source``, ``units``, ``time_units``, ``interpolation``, ... .
    """

    wind: np.ndarray
    grid: HealpixGrid
    time: np.ndarray
    meta: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.wind.shape[0])

    @property
    def u(self) -> np.ndarray:
        """Eastward wind ``(T, N_pix)`` ``= v_phi``."""
        return self.wind[:, 1]

    @property
    def v(self) -> np.ndarray:
        """Northward wind ``(T, N_pix)`` ``= -v_theta``."""
        return -self.wind[:, 0]

    def __repr__(self) -> str:
        t = f"{self.time[0]} .. {self.time[-1]}" if len(self.time) else "no times"
        return f"WindDataset({len(self)} fields on {self.grid!r}, {t}, source={self.meta.get('source', '?')!r})"


@dataclass
class LatLonWind:
    r"""Wind on a lat-lon grid, as read from NetCDF (before regridding).

    ``u``, ``v``: float64 ``(T, nlat, nlon)`` (eastward, northward); ``lat``, ``lon`` in degrees as
    in the file; ``time`` ``(T,)``; ``meta`` strings (file names, variable names, units).
    """

    u: np.ndarray
    v: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    time: np.ndarray
    meta: dict[str, str] = field(default_factory=dict)

    def regrid(self, grid: HealpixGrid, pole_rows: str = "average") -> WindDataset:
        """Regrid to ``grid`` (:class:`~fiberconv.fields.regrid.LatLonToHealpix`): a :class:`WindDataset`."""
        plan = LatLonToHealpix(self.lat, self.lon, grid, pole_rows=pole_rows)
        wind = plan.wind(self.u, self.v).astype(np.float32)
        meta = dict(self.meta)
        meta["interpolation"] = _INTERPOLATION + f" (pole_rows={pole_rows!r})"
        return WindDataset(wind=wind, grid=grid, time=self.time, meta=meta)


_INTERPOLATION = (
    "fiberconv.fields.regrid.LatLonToHealpix: (u, v) -> ambient 3-D vectors, pole rows -> one vector "
    "(arc-weighted mean), bilinear in (lat, lon) per Cartesian component (periodic in lon), projected on "
    "the pixel's section frame (e_theta, e_phi)"
)


# ------------------------------------------------------------------------------------------------
# the committed default
# ------------------------------------------------------------------------------------------------
_NPZ_KEYS = ("wind", "time", "nside", "nest", "units", "components", "source", "interpolation")


def load_default(path: str | Path | None = None) -> WindDataset:
    r"""The committed Navy winds, HEALPix nside 32 NESTED, ``wind`` float32 ``(132, 2, 12288)`` in m/s.

    Parameters
    ----------
    path : str or Path, optional
        An ``.npz`` written by ``examples/wind/make_data.py`` (default :data:`DEFAULT_PATH`).
    """
    path = Path(DEFAULT_PATH if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(
            f"wind data file {path} not found; regenerate it with `python examples/wind/make_data.py` "
            "(needs the Debian package ferret-datasets)"
        )
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in _NPZ_KEYS if k not in z.files]
        if missing:
            raise WindDataError(f"{path}: not a wind data file of make_data.py, missing entries {missing}")
        data = {k: z[k] for k in z.files}
    grid = HealpixGrid(int(data["nside"]), nest=bool(data["nest"]))
    wind = data["wind"].astype(np.float32)
    if wind.ndim != 3 or wind.shape[1:] != (2, grid.npix):
        raise WindDataError(f"{path}: wind has shape {wind.shape}, expected (T, 2, {grid.npix}) for {grid!r}")
    if not np.all(np.isfinite(wind)):
        raise WindDataError(f"{path}: wind has {int((~np.isfinite(wind)).sum())} non-finite values")
    meta = {k: str(v) for k, v in data.items() if k not in ("wind", "time", "nside", "nest") and v.ndim == 0}
    meta["components"] = ",".join(str(c) for c in data["components"])
    meta["path"] = str(path)
    return WindDataset(wind=wind, grid=grid, time=data["time"], meta=meta)


# ------------------------------------------------------------------------------------------------
# NetCDF reading (NetCDF-3 with scipy, NetCDF-4/HDF5 with h5py)
# ------------------------------------------------------------------------------------------------
def _text(a) -> str:
    if isinstance(a, bytes):
        return a.decode("utf-8", "replace")
    if isinstance(a, np.ndarray) and a.dtype.kind in "SU":
        return "".join(_text(x) for x in a.ravel())
    return a if isinstance(a, str) else str(a)


class _Var:
    """A NetCDF variable: name, dimension names, attributes, and the raw (unpacked) values on demand."""

    def __init__(self, name: str, dims: tuple[str, ...], attrs: dict, shape: tuple[int, ...], getter, path: str):
        self.name, self.dims, self.attrs, self.shape, self._get, self.path = name, dims, attrs, shape, getter, path

    def attr(self, key: str, default: str = "") -> str:
        return _text(self.attrs.get(key, default)).strip()

    def raw(self) -> np.ndarray:
        return np.asarray(self._get())

    def describe(self) -> str:
        return f"{self.name}{self.dims}"


def _read_nc3(path: str) -> dict[str, _Var]:
    from scipy.io import netcdf_file

    f = netcdf_file(path, "r", mmap=False, maskandscale=False)
    out = {}
    for name, v in f.variables.items():
        data = v.data
        out[name] = _Var(name, tuple(v.dimensions), dict(v._attributes), tuple(data.shape),
                         (lambda d=data: d), path)
    f.close()
    return out


def _read_hdf5(path: str) -> dict[str, _Var]:
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{path} is a NetCDF-4 (HDF5) file: reading it needs h5py (`pip install h5py`)"
        ) from e
    out = {}
    with h5py.File(path, "r") as f:
        for name, ds in f.items():
            if not isinstance(ds, h5py.Dataset):
                continue  # groups: only the root group is read
            dims = []
            for i, d in enumerate(ds.dims):
                if len(d):
                    dims.append(d[0].name.rsplit("/", 1)[-1])
                elif ds.is_scale and ds.ndim == 1:  # a coordinate variable is its own dimension scale
                    dims.append(name)
                else:
                    dims.append(f"phony_dim_{i}")
            skip = ("DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME")  # HDF5 dimension-scale bookkeeping
            attrs = {k: v for k, v in ds.attrs.items() if k not in skip}
            out[name] = _Var(name, tuple(dims), attrs, tuple(ds.shape), None, path)
    for name, var in out.items():  # values read lazily, from a fresh handle

        def getter(name=name):
            with h5py.File(path, "r") as f:
                return f[name][()]

        var._get = getter
    return out


def _open(path) -> dict[str, _Var]:
    path = str(path)
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"wind file not found: {path}")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if magic[:3] == b"CDF":
        if magic[3:4] not in (b"\x01", b"\x02"):
            raise WindDataError(f"{path}: NetCDF-3 variant {magic[3]} (CDF-5?) is not supported by scipy; convert it "
                                "to NetCDF-4 or classic")
        return _read_nc3(path)
    if magic == b"\x89HDF\r\n\x1a\n":
        return _read_hdf5(path)
    raise WindDataError(
        f"{path}: not a NetCDF file (neither NetCDF-3 classic nor NetCDF-4/HDF5; first bytes {magic!r})"
    )


def _unpack(var: _Var) -> np.ndarray:
    """Raw values -> float64 with CF missing values as NaN and ``scale_factor``/``add_offset`` applied."""
    raw = var.raw()
    if raw.dtype.kind not in "iuf":
        raise WindDataError(f"{var.path}: variable {var.name} has non-numeric dtype {raw.dtype}")
    bad = ~np.isfinite(raw) if raw.dtype.kind == "f" else np.zeros(raw.shape, dtype=bool)
    for key in ("_FillValue", "missing_value"):
        if key in var.attrs:
            for fv in np.atleast_1d(np.asarray(var.attrs[key])):
                if np.asarray(fv).dtype.kind in "iuf":
                    # compare in the stored dtype, so that e.g. float32 -99.9 matches itself
                    bad |= raw == np.asarray(fv).astype(raw.dtype)
    if "valid_range" in var.attrs:
        lo, hi = np.asarray(var.attrs["valid_range"], dtype=np.float64).ravel()[:2]
        bad |= (raw < lo) | (raw > hi)
    if "valid_min" in var.attrs:
        bad |= raw < float(np.asarray(var.attrs["valid_min"]).ravel()[0])
    if "valid_max" in var.attrs:
        bad |= raw > float(np.asarray(var.attrs["valid_max"]).ravel()[0])
    out = raw.astype(np.float64)
    if "scale_factor" in var.attrs:
        out = out * float(np.asarray(var.attrs["scale_factor"]).ravel()[0])
    if "add_offset" in var.attrs:
        out = out + float(np.asarray(var.attrs["add_offset"]).ravel()[0])
    out[bad] = np.nan
    return out


def _is_lat(v: _Var) -> bool:
    units = v.attr("units").lower().replace(" ", "")
    return (v.name.lower() in LAT_NAMES or units in LAT_UNITS or v.attr("standard_name").lower() == "latitude"
            or v.attr("axis").upper() == "Y")


def _is_lon(v: _Var) -> bool:
    units = v.attr("units").lower().replace(" ", "")
    return (v.name.lower() in LON_NAMES or units in LON_UNITS or v.attr("standard_name").lower() == "longitude"
            or v.attr("axis").upper() == "X")


def _candidates(variables: dict[str, _Var], names, standard) -> list[_Var]:
    hits = []
    for v in variables.values():
        if len(v.shape) < 2:
            continue
        if v.name.lower() in names or v.attr("standard_name").lower() in standard:
            hits.append(v)
    return hits


def _summary(files: dict[str, dict[str, _Var]]) -> str:
    parts = []
    for path, variables in files.items():
        desc = ", ".join(v.describe() for v in variables.values() if len(v.shape) >= 2) or "none"
        parts.append(f"{path}: {desc}")
    return "; ".join(parts)


def _find(files: dict[str, dict[str, _Var]], name: str | None, names, standard, what: str, arg: str) -> _Var:
    if name is not None:
        hits = [vs[name] for vs in files.values() if name in vs]
        if not hits:
            raise WindDataError(
                f"variable {name!r} ({what}) not found; data variables with 2+ dimensions: {_summary(files)}"
            )
        return hits[0]
    hits = [h for vs in files.values() for h in _candidates(vs, names, standard)]
    if not hits:
        raise WindDataError(
            f"no {what} variable found (looked for names {', '.join(names[:6])}, ... and standard_name "
            f"{standard[0]!r}); data variables with 2+ dimensions: {_summary(files)}. Pass {arg}='NAME'."
        )
    if len(hits) > 1:
        desc = ", ".join(f"{h.name} in {h.path}" for h in hits)
        raise WindDataError(f"several {what} variables found ({desc}); choose one with {arg}='NAME'")
    return hits[0]


def _coord(variables: dict[str, _Var], var: _Var, dim: str) -> _Var | None:
    c = variables.get(dim)
    return c if c is not None and len(c.shape) == 1 and c.dims == (dim,) else None


_TIME_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "min": 60, "minute": 60, "minutes": 60,
               "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}


_SINCE = re.compile(
    r"\s*(\w+)\s+since\s+(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?)?"
)


def decode_time(values: np.ndarray, units: str, calendar: str = "standard") -> np.ndarray:
    """CF time ``"<unit> since <date>"`` (standard/gregorian calendar) -> ``datetime64[s]``; else the values."""
    m = _SINCE.match(units or "")
    if not m or m.group(1).lower() not in _TIME_UNITS or calendar.lower() not in ("standard", "gregorian",
                                                                                     "proleptic_gregorian", ""):
        return np.asarray(values)
    y, mo, d = int(m.group(2)), int(m.group(3)), int(m.group(4))
    hh, mm, ss = int(m.group(5) or 0), int(m.group(6) or 0), float(m.group(7) or 0)
    try:
        origin = np.datetime64(_dt.datetime(y, mo, d, hh, mm, int(ss)), "s")
    except ValueError:
        return np.asarray(values)
    seconds = np.round(np.asarray(values, dtype=np.float64) * _TIME_UNITS[m.group(1).lower()]).astype(np.int64)
    return origin + seconds.astype("timedelta64[s]")


def _grid_of(variables: dict[str, _Var], var: _Var, lat_name: str | None, lon_name: str | None):
    """(lat_axis, lon_axis, lat values, lon values) of ``var``, or a WindDataError naming what is missing."""
    lat_ax = lon_ax = None
    for ax, dim in enumerate(var.dims):
        c = _coord(variables, var, dim)
        if lat_name is not None:
            if dim == lat_name or (c is not None and c.name == lat_name):
                lat_ax = ax
        elif c is not None and _is_lat(c):
            lat_ax = ax
        if lon_name is not None:
            if dim == lon_name or (c is not None and c.name == lon_name):
                lon_ax = ax
        elif c is not None and _is_lon(c) and not (lat_ax == ax):
            lon_ax = ax
    if lat_ax is None or lon_ax is None or lat_ax == lon_ax:
        missing = " and ".join(w for w, a in (("latitude", lat_ax), ("longitude", lon_ax)) if a is None) or \
            "distinct latitude/longitude"
        raise WindDataError(
            f"{var.path}: could not find the {missing} coordinate of {var.name} (dimensions {var.dims}; coordinate "
            f"variables: {[variables[d].describe() for d in var.dims if d in variables] or 'none'}). A global "
            "lat-lon grid with 1-D latitude/longitude coordinate variables is needed; pass lat_name=/lon_name= if "
            "they have unusual names"
        )
    lat_c, lon_c = _coord(variables, var, var.dims[lat_ax]), _coord(variables, var, var.dims[lon_ax])
    if lat_c is None or lon_c is None:
        raise WindDataError(f"{var.path}: {var.name}: no 1-D coordinate variable for dimension "
                            f"{var.dims[lat_ax] if lat_c is None else var.dims[lon_ax]}")
    return lat_ax, lon_ax, _unpack(lat_c), _unpack(lon_c)


def _field(variables, var: _Var, lat_name, lon_name, select: dict[str, int]):
    """Values ``(T, nlat, nlon)``, lat, lon, time values, time units/calendar of one wind variable."""
    lat_ax, lon_ax, lat, lon = _grid_of(variables, var, lat_name, lon_name)
    values = _unpack(var)
    dims = list(var.dims)
    # move lat, lon last (handles (..., lon, lat) files too)
    others = [a for a in range(len(dims)) if a not in (lat_ax, lon_ax)]
    values = np.transpose(values, others + [lat_ax, lon_ax])
    odims = [dims[a] for a in others]
    # apply select={dim: index}, squeeze length-1 dimensions
    for d, i in select.items():
        if d in odims:
            ax = odims.index(d)
            n = values.shape[ax]
            if not -n <= int(i) < n:
                raise WindDataError(f"{var.path}: select[{d!r}]={i} out of range for {var.name} (size {n})")
            values = np.take(values, int(i), axis=ax)
            odims.pop(ax)
    keep = [k for k, d in enumerate(odims) if values.shape[k] != 1]
    values = values.reshape([values.shape[k] for k in keep] + list(values.shape[-2:]))
    odims = [odims[k] for k in keep]
    if len(odims) > 1:
        sizes = {d: values.shape[k] for k, d in enumerate(odims)}
        raise WindDataError(
            f"{var.path}: {var.name} has more than one non-latitude/longitude dimension {sizes}; keep one (time) "
            f"and choose the others with select={{'{odims[-1]}': 0}}"
        )
    if not odims:
        values = values[None]
        time, tunits, cal = np.zeros(1), "", ""
    else:
        tc = _coord(variables, var, odims[0])
        if tc is None:
            time, tunits, cal = np.arange(values.shape[0], dtype=np.float64), f"index along {odims[0]}", ""
        else:
            time, tunits, cal = tc.raw().astype(np.float64), tc.attr("units"), tc.attr("calendar")
    bad = ~np.isfinite(values)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        fill = [f"{k}={_text(var.attrs[k])}" for k in ("_FillValue", "missing_value") if k in var.attrs]
        raise WindDataError(
            f"{var.path}: {var.name} has {int(bad.sum())} missing or non-finite values "
            f"({', '.join(fill) or 'NaN/inf'}), first at (time, lat, lon) index {first}; regridding needs complete "
            "global fields: fill them first"
        )
    return values, lat, lon, time, tunits, cal


def read_latlon_wind(
    paths: str | Path | Sequence[str | Path],
    u_name: str | None = None,
    v_name: str | None = None,
    lat_name: str | None = None,
    lon_name: str | None = None,
    select: dict[str, int] | None = None,
) -> LatLonWind:
    r"""Read eastward and northward wind from one or more lat-lon NetCDF files.

    Parameters
    ----------
    paths : path or sequence of paths
        NetCDF-3 classic / 64-bit offset (scipy) or NetCDF-4 / HDF5 (h5py) files; u and v may be in
        different files (e.g. ``uwnd.nc``, ``vwnd.nc``).
    u_name, v_name : str, optional
        Variable names; found automatically (module docstring) when omitted.
    lat_name, lon_name : str, optional
        Coordinate (dimension) names; found by name, units, standard_name or axis when omitted.
    select : dict, optional
        ``{dimension: index}`` for extra dimensions (e.g. ``{"level": 0}``). Length-1 dimensions are
        dropped; one dimension (time) may remain.

    Returns
    -------
    LatLonWind with ``u``, ``v`` ``(T, nlat, nlon)`` float64.

    Raises
    ------
    WindDataError
        No / several u or v variables, no latitude / longitude coordinates, missing or non-finite
        values, u and v on different grids or times.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [str(p) for p in paths]
    if not paths:
        raise WindDataError("read_latlon_wind: no file given")
    files = {p: _open(p) for p in paths}
    select = dict(select or {})
    uvar = _find(files, u_name, U_NAMES, U_STANDARD, "eastward wind (u)", "u_name")
    vvar = _find(files, v_name, V_NAMES, V_STANDARD, "northward wind (v)", "v_name")
    u, ulat, ulon, ut, utu, ucal = _field(files[uvar.path], uvar, lat_name, lon_name, select)
    v, vlat, vlon, vt, vtu, _ = _field(files[vvar.path], vvar, lat_name, lon_name, select)
    where = f"u ({uvar.name} in {uvar.path}) and v ({vvar.name} in {vvar.path})"
    if u.shape != v.shape:
        raise WindDataError(f"{where} have different shapes (time, lat, lon) {u.shape} and {v.shape}")
    if not (np.allclose(ulat, vlat, atol=1e-6) and np.allclose(ulon, vlon, atol=1e-6)):
        dlat = np.abs(ulat - vlat).max()
        dlon = np.abs(ulon - vlon).max()
        raise WindDataError(f"{where} are on different grids (max difference {dlat:g} degrees in latitude, "
                            f"{dlon:g} in longitude); regrid one onto the other first")
    if not np.array_equal(ut, vt) or utu != vtu:
        raise WindDataError(f"{where} have different times ({ut[:3]}... [{utu}] vs {vt[:3]}... [{vtu}])")
    units = uvar.attr("units")
    time = decode_time(ut, utu, ucal)
    meta = {
        "source": ", ".join(sorted({uvar.path, vvar.path})),
        "u_variable": uvar.name,
        "v_variable": vvar.name,
        "units": units or "?",
        "time_units": utu,
        "long_name": uvar.attr("long_name"),
    }
    return LatLonWind(u=u, v=v, lat=ulat, lon=ulon, time=time, meta=meta)


def load(*paths: str | Path, **kwargs) -> WindDataset:
    r"""One entry point: no path -> :func:`load_default`; an ``.npz`` -> :func:`load_default` of it;
    NetCDF file(s) -> :func:`load_netcdf` with ``kwargs`` (``nside``, ``nest``, ``u_name``, ...)."""
    if not paths:
        if kwargs:
            raise TypeError(f"load(): options {sorted(kwargs)} need NetCDF paths; the default data set takes none")
        return load_default()
    if len(paths) == 1 and str(paths[0]).endswith(".npz"):
        if kwargs:
            raise TypeError(f"load(): options {sorted(kwargs)} do not apply to an .npz data set")
        return load_default(paths[0])
    return load_netcdf(*paths, **kwargs)


def load_netcdf(
    *paths: str | Path,
    nside: int = 32,
    nest: bool = True,
    pole_rows: str = "average",
    u_name: str | None = None,
    v_name: str | None = None,
    lat_name: str | None = None,
    lon_name: str | None = None,
    select: dict[str, int] | None = None,
) -> WindDataset:
    r"""Read lat-lon wind from NetCDF (:func:`read_latlon_wind`) and regrid it to HEALPix.

    Returns a :class:`WindDataset` on ``HealpixGrid(nside, nest)`` with ``wind`` float32
    ``(T, 2, N_pix)`` (``(v_theta, v_phi) = (-v, u)``, the file's units). ``pole_rows`` as in
    :class:`~fiberconv.fields.regrid.LatLonToHealpix`.
    """
    data = read_latlon_wind(list(paths), u_name=u_name, v_name=v_name, lat_name=lat_name, lon_name=lon_name,
                            select=select)
    try:
        return data.regrid(HealpixGrid(nside, nest=nest), pole_rows=pole_rows)
    except ValueError as e:
        raise WindDataError(f"{data.meta['source']}: {e}") from e

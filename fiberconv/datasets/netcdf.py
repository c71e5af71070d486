r"""Reading global lat-lon fields from NetCDF files, following the CF conventions.

NetCDF-3 classic / 64-bit offset files are read with :mod:`scipy.io`; NetCDF-4 / HDF5 files with ``h5py``
(an optional dependency: ``pip install "fiberconv[examples]"``), imported only when such a file is opened.
Latitude and longitude coordinates are found by name, units (``degrees_north`` / ``degrees_east``),
``standard_name`` or ``axis``; fill values (``_FillValue``, ``missing_value``, ``valid_range``) and packing
(``scale_factor``, ``add_offset``) follow the CF conventions. :mod:`fiberconv.datasets.wind` builds the wind
loader on these helpers.
"""
from __future__ import annotations

import datetime as _dt
import re
import warnings
from pathlib import Path

import numpy as np

__all__ = ["WindDataError", "RawTimeWarning", "decode_time", "LAT_NAMES", "LON_NAMES", "LAT_UNITS", "LON_UNITS"]

# names are compared case-insensitively

LAT_NAMES = ("lat", "latitude", "lats", "nav_lat", "xlat", "rlat")
LON_NAMES = ("lon", "longitude", "lons", "nav_lon", "xlon", "rlon")
LAT_UNITS = ("degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn")
LON_UNITS = ("degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese")


class WindDataError(ValueError):
    """A wind file that cannot be read as global lat-lon (u, v): the message says what was found."""


class RawTimeWarning(UserWarning):
    """The times of a file could not be decoded to dates: they are returned as the raw numbers of the file."""


def _reason(e: BaseException) -> str:
    """``"ExceptionType: first line of the message"``, for a message that wraps a reader's error."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _unreadable(path: str, what: str, e: BaseException) -> WindDataError:
    return WindDataError(f"could not read {path} as {what} (truncated or corrupt?): {_reason(e)}")



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
        try:
            return np.asarray(self._get())
        except Exception as e:  # h5py reads lazily: a damaged file fails here, not when it is opened
            raise _unreadable(self.path, f"NetCDF (variable {self.name})", e) from e

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
    try:  # netCDF4's wheels ship the HDF5 filter plugins (zstd, bzip2, blosc) and register them on import
        import netCDF4  # noqa: F401
    except ImportError:  # pragma: no cover - then zlib/szip-compressed files only
        pass
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{path} is a NetCDF-4 (HDF5) file: reading it needs h5py, an optional dependency of fiberconv: "
            '`pip install "fiberconv[examples]"` (or `pip install h5py`)'
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
        try:
            return _read_nc3(path)
        except (WindDataError, MemoryError):
            raise
        except Exception as e:  # scipy's errors on damaged files: ValueError, TypeError, IndexError, OSError, ...
            raise _unreadable(path, "NetCDF-3 (classic)", e) from e
    if magic == b"\x89HDF\r\n\x1a\n":
        try:
            return _read_hdf5(path)
        except (ImportError, WindDataError, MemoryError):
            raise
        except Exception as e:  # h5py: OSError "bad superblock", KeyError, RuntimeError, ...
            raise _unreadable(path, "NetCDF-4 (HDF5)", e) from e
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


def _coord(variables: dict[str, _Var], var: _Var, dim: str) -> _Var | None:
    c = variables.get(dim)
    return c if c is not None and len(c.shape) == 1 and c.dims == (dim,) else None


_TIME_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "min": 60, "minute": 60, "minutes": 60,
               "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}


_SINCE = re.compile(
    r"\s*(\w+)\s+since\s+(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?)?"
)


_STANDARD_CALENDARS = ("standard", "gregorian", "proleptic_gregorian", "")


def _raw_times(values, units: str, calendar: str, source: str, why: str) -> np.ndarray:
    where = f"{source}: " if source else ""
    warnings.warn(
        f"{where}times are returned as the raw numbers of the file, in units {units!r} (calendar {calendar or 'standard'!r}): "
        f"{why}", RawTimeWarning, stacklevel=3)
    return np.asarray(values)


def _decode_cftime(values, units: str, calendar: str, source: str) -> np.ndarray:
    """Non-standard CF calendars (``noleap``, ``360_day``, ``julian``, ...) with ``cftime``: ``datetime64[s]`` of
    the dates' labels (year, month, day, time) when every one is a valid proleptic Gregorian date (always so for
    ``noleap`` / ``365_day``), else the ``cftime`` dates themselves (an object array; ``.year`` etc. work)."""
    try:
        import cftime
    except ImportError:
        return _raw_times(values, units, calendar, source,
                          "decoding this calendar needs the optional package cftime (`pip install cftime`)")
    try:
        dates = np.atleast_1d(cftime.num2date(np.asarray(values, dtype=np.float64), units, calendar=calendar))
    except Exception as e:  # unknown calendar, malformed units
        return _raw_times(values, units, calendar, source, f"cftime could not decode them ({_reason(e)})")
    try:
        return np.array([np.datetime64(_dt.datetime(d.year, d.month, d.day, d.hour, d.minute, d.second), "s")
                         for d in dates], dtype="datetime64[s]").reshape(np.shape(values))
    except ValueError:  # e.g. 30 February of a 360_day calendar: keep the calendar's own dates
        return dates.reshape(np.shape(values))


def decode_time(values: np.ndarray, units: str, calendar: str = "standard", source: str = "") -> np.ndarray:
    """CF time ``"<unit> since <date>"`` -> ``datetime64[s]``.

    The standard / Gregorian calendars are decoded here. Other CF calendars (``noleap``, ``365_day``,
    ``360_day``, ``all_leap``, ``julian``, ...) are decoded with ``cftime`` when it is installed
    (:func:`_decode_cftime`). Times that cannot be decoded (no ``cftime``, units such as ``"months since"``,
    a malformed reference date) are returned as the raw values with a :class:`RawTimeWarning` that says in
    which units and calendar they are (``source``, e.g. the file name, starts the message). Empty ``units``
    (no time coordinate) return the values silently."""
    calendar = (calendar or "").strip()
    if not (units or "").strip():
        return np.asarray(values)
    m = _SINCE.match(units or "")
    if not m or m.group(1).lower() not in _TIME_UNITS:
        if calendar.lower() not in _STANDARD_CALENDARS or (m and m.group(1).lower() in ("month", "months", "year",
                                                                                         "years")):
            return _decode_cftime(values, units, calendar or "standard", source)
        return _raw_times(values, units, calendar, source,
                          'the units are not "<seconds|minutes|hours|days> since <date>"')
    if calendar.lower() not in _STANDARD_CALENDARS:
        return _decode_cftime(values, units, calendar, source)
    y, mo, d = int(m.group(2)), int(m.group(3)), int(m.group(4))
    hh, mm, ss = int(m.group(5) or 0), int(m.group(6) or 0), float(m.group(7) or 0)
    try:
        origin = np.datetime64(_dt.datetime(y, mo, d, hh, mm, int(ss)), "s")
    except ValueError as e:
        return _raw_times(values, units, calendar, source, f"the reference date is not a date ({e})")
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

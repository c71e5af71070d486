"""Issue 15: the NetCDF loader reads zstd-compressed NetCDF-4 (h5py finds the filter that netCDF4's wheel ships),
also in a fresh process where nothing imported netCDF4 before."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("netCDF4")
pytest.importorskip("h5py")


def test_zstd_netcdf4_reads_in_a_fresh_process(tmp_path):
    from fiberconv.io.synthetic import era5_like, packed_encoding

    ds = era5_like(d=10.0, n_times=2)
    path = tmp_path / "era5_zstd.nc"
    ds.to_netcdf(path, encoding=packed_encoding(ds, compression="zstd"))
    assert xr.open_dataset(path).u10.encoding.get("zstd")
    code = ("import sys, numpy as np\nfrom fiberconv.datasets.wind import read_latlon_wind\n"
            f"w = read_latlon_wind({str(path)!r})\nnp.save(sys.argv[1], w.u)\n")
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}  # importing netCDF4 here set it
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "u.npy")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    expected = xr.open_dataset(path).u10.values  # xarray's CF decoding of the packed int16
    assert np.allclose(np.load(tmp_path / "u.npy"), expected, atol=1e-6)

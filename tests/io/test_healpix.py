"""HEALPix-native xarray in and out with the xdggs conventions (issue 15): the ordering travels as metadata,
a RING / NESTED mismatch raises, and what fiberconv writes reads back in healpy's terms."""
from __future__ import annotations

import healpy as hp
import numpy as np
import pytest
import torch

xr = pytest.importorskip("xarray")
pytest.importorskip("netCDF4")

import fiberconv.io as fio  # noqa: E402
from fiberconv.io.synthetic import rotation_wind  # noqa: E402
from fiberconv.spaces import HealpixGrid  # noqa: E402


@pytest.mark.parametrize("nest", [True, False])
def test_written_dataset_reads_back_in_xdggs_and_healpy_terms(tmp_path, nest):
    grid = HealpixGrid(4, nest=nest)
    wind = rotation_wind(grid, (0.6, -0.3, 0.5), steps=range(3)).float()
    times = np.arange("2020-01-01", "2020-01-04", dtype="datetime64[D]").astype("datetime64[ns]")
    ds = fio.wind_to_dataset(wind, grid, time=times)
    ds["z"] = fio.to_dataarray(grid.xyz()[:, 2], grid)  # cos(theta) at each pixel
    ds.to_netcdf(tmp_path / "hp.nc")
    back = xr.open_dataset(tmp_path / "hp.nc")
    attrs = back.cell_ids.attrs
    assert (attrs["grid_name"], attrs["level"], attrs["indexing_scheme"]) == ("healpix", 2, "nested" if nest else "ring")
    # xdggs / healpy terms: nside = 2**level, cell_ids are healpy pixel indices in that scheme
    theta, _ = hp.pix2ang(2 ** int(attrs["level"]), back.cell_ids.values, nest=attrs["indexing_scheme"] == "nested")
    assert np.allclose(back.z.values, np.cos(theta))
    assert back.u.attrs["standard_name"] == "eastward_wind"
    assert np.array_equal(back.u.values, wind[:, 1].numpy()) and np.array_equal(back.v.values, -wind[:, 0].numpy())
    assert torch.equal(fio.wind_tensor(back, grid), wind)
    g = fio.grid_of(back)
    assert (g.nside, g.nest) == (4, nest)


def test_ordering_mismatch_raises_and_reorder_permutes():
    ring, nested = HealpixGrid(4, nest=False), HealpixGrid(4, nest=True)
    values = np.random.default_rng(0).standard_normal(ring.npix)
    da = fio.to_dataarray(values, ring)
    with pytest.raises(fio.HealpixMetadataError, match="RING.*grid is NESTED.*reorder=True"):
        fio.to_tensor(da, nested)
    got = fio.to_tensor(da, nested, reorder=True, dtype=torch.float64).numpy()
    assert np.array_equal(got, hp.reorder(values, r2n=True))
    back = fio.to_tensor(fio.to_dataarray(got, nested), ring, reorder=True, dtype=torch.float64).numpy()
    assert np.array_equal(back, values)
    wind = fio.wind_to_dataset(rotation_wind(ring), ring)
    with pytest.raises(fio.HealpixMetadataError, match="RING"):
        fio.wind_tensor(wind, nested)
    with pytest.raises(fio.HealpixMetadataError, match="nside 4, the grid asked for has nside 8"):
        fio.to_tensor(da, HealpixGrid(8, nest=False))


def test_big_endian_maps_shuffled_cells_and_bad_metadata():
    grid = HealpixGrid(2, nest=True)
    values = np.arange(grid.npix, dtype=">f8")  # what healpy.read_map returns for FITS files
    da = fio.to_dataarray(values, grid)
    assert torch.equal(fio.to_tensor(da, dtype=torch.float64), torch.arange(grid.npix, dtype=torch.float64))
    perm = np.random.default_rng(1).permutation(grid.npix)
    shuffled = da.isel(cells=perm)  # cells in any order: sorted back by cell id
    assert torch.equal(fio.to_tensor(shuffled, grid, dtype=torch.float64), torch.arange(grid.npix, dtype=torch.float64))
    with pytest.raises(fio.HealpixMetadataError, match="every pixel of nside 2 once"):
        fio.to_tensor(da.isel(cells=slice(0, 10)))
    with pytest.raises(fio.HealpixMetadataError, match="no 'cell_ids' coordinate"):
        fio.to_tensor(xr.DataArray(values, dims=["cells"]))
    bad = da.copy()
    bad.cell_ids.attrs["grid_name"] = "h3"
    with pytest.raises(fio.HealpixMetadataError, match="grid_name 'h3'"):
        fio.grid_of(bad)
    old = da.copy()
    old.cell_ids.attrs = {"grid_name": "healpix", "resolution": 1, "indexing_scheme": "ring"}  # older xdggs
    assert (fio.grid_of(old).nside, fio.grid_of(old).nest) == (2, False)
    with pytest.raises(ValueError, match=r"\(\.\.\., 48\)"):
        fio.to_dataarray(np.zeros(47), grid)


def test_argument_errors_name_what_was_expected():
    import fiberconv.io as fio
    from fiberconv.io.synthetic import era5_like

    grid = HealpixGrid(4, nest=True)
    wind = torch.zeros(2, 2, grid.npix)
    with pytest.raises(ValueError, match=r"one label per step, shape \(2,\)"):
        fio.wind_to_dataset(wind, grid, time=np.arange(3))
    with pytest.raises(TypeError, match="grid must be a HealpixGrid"):
        fio.wind_to_dataset(wind, 4)
    with pytest.raises(TypeError, match="grid must be a HealpixGrid"):
        fio.wind_tensor(fio.wind_to_dataset(wind, grid), 4)
    with pytest.raises(ValueError, match="chunk"):
        fio.open_wind(era5_like(d=30.0, n_times=2), nside=4, chunk=0)

"""Issue 14: inconsistent (ERA5-style) pole rows warn with their spread; big-endian numpy arrays (what
``healpy.read_map`` returns for FITS files) are accepted at the numpy entry points."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from fiberconv.fields.regrid import LatLonToHealpix, regrid_wind
from fiberconv.spaces.healpix import HealpixGrid
from fiberconv.validation import as_native_array

from ..fields.latlon_helpers import GRIDS, TILT, rotation_wind_latlon


def test_inconsistent_pole_rows_warn_with_the_spread():
    lat, lon = GRIDS["poles-descending-lon20..377.5"](2.5)
    u, v = rotation_wind_latlon(lat, lon, TILT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        regrid_wind(u, v, lat, lon, HealpixGrid(4))  # consistent pole rows: no warning
    u2, v2 = u.copy(), v.copy()
    u2[0], v2[0] = 3.0, 4.0  # one (u, v) repeated along the north pole row: not a vector
    with pytest.warns(UserWarning, match=r"north pole row spread 5,.*pole_rows='drop'"):
        regrid_wind(u2, v2, lat, lon, HealpixGrid(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        regrid_wind(u2, v2, lat, lon, HealpixGrid(4), pole_rows="drop")


def test_big_endian_arrays_are_accepted():
    lat, lon = GRIDS["poles-ascending"](5.0)
    u, v = rotation_wind_latlon(lat, lon, TILT)
    ref = regrid_wind(u, v, lat, lon, HealpixGrid(4))
    big = [a.astype(a.dtype.newbyteorder(">")) for a in (u, v, lat, lon)]
    assert not big[0].dtype.isnative
    assert np.array_equal(regrid_wind(*big, HealpixGrid(4)), ref)
    m = np.ma.masked_array(np.arange(4.0, dtype=">f4"), mask=[0, 1, 0, 0])
    arr = as_native_array(m)
    assert arr.dtype.isnative and np.isnan(arr[1]) and torch.from_numpy(arr).shape == (4,)
    grid = HealpixGrid(2)
    R = HealpixGrid.symmetries().numpy()[3].astype(">f8")
    assert torch.equal(grid.symmetry_permutation(R), grid.symmetry_permutation(HealpixGrid.symmetries()[3]))


def test_project_to_sphere_accepts_big_endian_rotations_and_checks_them():
    from fiberconv.datasets.spherical_mnist import project_to_sphere

    images = torch.rand(1, 28, 28)
    points = HealpixGrid(2).xyz()
    same = project_to_sphere(images, points, rotations=np.eye(3, dtype=">f8"))
    assert torch.equal(same, project_to_sphere(images, points, rotations=torch.eye(3, dtype=torch.float64)))
    with pytest.raises(ValueError, match="project_to_sphere: rotations must hold SO"):
        project_to_sphere(images, points, rotations=-np.eye(3))


def test_field_type_entries_get_clear_errors():
    from fiberconv.fields import sphere_field_type
    from fiberconv.nn import r3_field_type

    with pytest.raises(ValueError, match=r"total multiplicity 0 .*did you mean \(0, 3\)\?"):
        sphere_field_type((3, 0))
    with pytest.raises(TypeError, match=r"each entry must be a pair \(frequency m, multiplicity\).* got int 3"):
        sphere_field_type(3)
    with pytest.raises(TypeError, match=r"pair \(degree l, multiplicity\)"):
        r3_field_type(2)
    with pytest.raises(ValueError, match="multiplicity must be a non-negative int, got -1"):
        r3_field_type((0, -1))
    assert sphere_field_type((0, 2), (1, 0), (1, 1)).dim == 4


@pytest.mark.parametrize("layout", sorted(GRIDS))
@pytest.mark.parametrize("pole_rows", ["average", "drop"])
def test_sparse_gather_equals_interpolating_the_whole_extended_grid(layout, pole_rows):
    """Issue 15: regridding reads only the cell corners and the outermost rows; the result equals bilinear
    interpolation of the whole sorted, pole-extended grid (the plan's ``ambient`` output), any layout."""
    from fiberconv.fields.tangent import ambient_to_tangent

    lat, lon = GRIDS[layout](7.5)
    rng = np.random.default_rng(1)
    u, v = rotation_wind_latlon(lat, lon, TILT)
    u = u[None] + 0.1 * np.stack([np.zeros_like(u), rng.standard_normal(u.shape)])  # a batch of 2
    v = v[None] + np.zeros((2, 1, 1))
    if layout.startswith("cyclic"):
        u[..., -1] = u[..., 0]
    grid = HealpixGrid(4, nest=False)
    plan = LatLonToHealpix(lat, lon, grid, pole_rows=pole_rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the noisy pole rows are not one vector
        got = plan.wind(u, v)
    ext = torch.from_numpy(plan.ambient(u, v)).flatten(-2)  # (2, 3, nlat_ext * n_u)
    vec = (ext[..., plan._idx] * plan._w).sum(-1).movedim(-2, -1)  # (2, N_pix, 3)
    ref = ambient_to_tangent(vec, grid.frames()).movedim(-1, -2).numpy()
    assert np.abs(got - ref).max() < 1e-13
    # scalars: cos(lat) is sin(theta) at the pixels, to the bilinear error bound (the poles' mean is exact)
    s = plan.scalar(np.cos(np.deg2rad(lat))[:, None] * np.ones_like(lon)[None])
    theta = grid.angles()[0].numpy()
    assert np.abs(s - np.sin(theta)).max() < 2 * (np.deg2rad(7.5) ** 2) / 8 + 1e-12

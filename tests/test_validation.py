"""fiberconv.validation: the checks themselves, every public layer's input errors, and the NaN policy."""
import math

import numpy as np
import pytest
import torch

from fiberconv.bundles import sphere_bundle
from fiberconv.fields import sphere_field_type
from fiberconv.nn import FieldBatchNorm, GatedNonlinearity, NormNonlinearity, SphereConv
from fiberconv.nn.lieconv import HamiltonianLieConv, LieConv, LieResNet, lift_cloud
from fiberconv.nn.r3 import CrossProduct, R3Conv, r3_field_type
from fiberconv.nn.sphere import SpherePool
from fiberconv.spaces import HealpixGrid, SO2Irrep
from fiberconv.spaces.lie_groups import SE2Action, lie_action
from fiberconv.validation import (
    ArgumentTypeError,
    check_finite,
    check_float,
    check_int,
    check_matches,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    check_tensor,
)


# -- the checks ---------------------------------------------------------------------------------------
def test_int_checks():
    assert check_positive_int(3, "n") == 3 and check_nonnegative_int(np.int64(0), "n") == 0
    assert check_int(5, "k", 5) == 5
    for bad in (True, 2.0, "2", None):
        with pytest.raises(TypeError, match=r"W: n must be a positive int, got"):
            check_positive_int(bad, "n", who="W")
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        check_positive_int(0, "n")
    with pytest.raises(ValueError, match="m must be a non-negative int, got -1"):
        check_nonnegative_int(-1, "m")
    with pytest.raises(ValueError, match="k must be an int >= 2, got 1"):
        check_int(1, "k", 2)
    assert issubclass(ArgumentTypeError, ValueError)  # old `except ValueError` callers keep working


def test_float_checks():
    assert check_positive_float(2, "r") == 2.0 and check_positive_float(torch.tensor(0.5), "r") == 0.5
    assert check_positive_float(math.inf, "r", allow_inf=True) == math.inf
    assert check_float(-1.0, "x") == -1.0
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="W: r must be a positive finite number, got"):
            check_positive_float(bad, "r", who="W")
    with pytest.raises(ValueError, match="positive number"):
        check_positive_float(math.nan, "r", allow_inf=True)
    for bad in (True, "1", None):
        with pytest.raises(TypeError, match="r must be a positive finite number"):
            check_positive_float(bad, "r")
    with pytest.raises(ValueError, match=r"x must be a finite number >= 1, got 0.5"):
        check_float(0.5, "x", minimum=1)


def test_tensor_checks():
    x = torch.zeros(2, 7, 12)
    assert check_tensor(x, "input", ("batch", 7, 12)) is x
    assert check_tensor(x, "input", ("batch", 7, ...)) is x
    with pytest.raises(ValueError, match=r"L: expected input of shape \(batch, 7, 12\) for T, got \(2, 5, 12\)"):
        check_tensor(torch.zeros(2, 5, 12), "input", ("batch", 7, 12), context=" for T", who="L")
    with pytest.raises(ValueError, match=r"shape \(batch, 7, \.\.\.\)"):
        check_tensor(torch.zeros(2), "input", ("batch", 7, ...))
    with pytest.raises(TypeError, match=r"floating-point tensor .* got dtype torch.int64"):
        check_tensor(torch.zeros(2, 7, 12, dtype=torch.long), "input", ("batch", 7, 12))
    with pytest.raises(TypeError, match="expected input to be a torch.Tensor, got list"):
        check_tensor([1.0], "input")
    with pytest.raises(TypeError, match="of dtype torch.bool"):
        check_tensor(x, "mask", dtype=torch.bool)
    layer = torch.nn.Linear(2, 2)
    assert check_matches(torch.zeros(2), layer) is not None
    with pytest.raises(TypeError, match=r"input is torch.float64 on cpu but the layer is torch.float32"):
        check_matches(torch.zeros(2, dtype=torch.float64), layer)
    check_matches(torch.zeros(2, dtype=torch.float64), layer, dtype=False)


def test_check_finite():
    assert check_finite(torch.ones(3), "x") is not None
    check_finite(np.ones(3), "x")
    for bad in (torch.tensor([1.0, math.nan]), np.array([math.inf, 0.0])):
        with pytest.raises(ValueError, match=r"data contains NaN or infinite values \(1 of 2\)"):
            check_finite(bad, "data")


# -- every public layer: a wrong shape and an integer dtype ------------------------------------------
def _sphere_layers():
    grid = HealpixGrid(2)
    t = sphere_field_type((0, 2), (1, 1))
    gated = GatedNonlinearity(sphere_bundle(), 1, [SO2Irrep(1)], SO2Irrep(0))
    return [("SphereConv", SphereConv(t, t, grid), (2, 4, 48), r"\(batch, 4, 48\)"),
            ("NormNonlinearity", NormNonlinearity(t), (2, 4, 48), r"\(batch, 4, \.\.\.\)"),
            ("GatedNonlinearity", gated, (2, 4, 48), r"\(batch, 4, \.\.\.\)"),
            ("FieldBatchNorm", FieldBatchNorm(t), (2, 4, 48), r"\(batch, 4, \.\.\.\)"),
            ("SpherePool", SpherePool(t, grid), (2, 4, 48), r"\(batch, 4, 48\)")]


def _r3_layers():
    t = r3_field_type((0, 1), (1, 2))
    return [("R3Conv", R3Conv(t, t, 3, padding=1), (1, 7, 5, 5, 5), r"\(batch, 7, X, Y, Z\)"),
            ("CrossProduct", CrossProduct(t, 1), (1, 7, 5, 5, 5), r"\(batch, 7, X, Y, Z\)")]


LAYERS = {name: (layer, shape, expected) for name, layer, shape, expected in _sphere_layers() + _r3_layers()}


@pytest.mark.parametrize("name", list(LAYERS))
def test_field_layer_input_errors(name):
    layer, shape, expected = LAYERS[name]
    layer(torch.randn(shape))  # the right input passes
    wrong = (shape[0], shape[1] + 1) + shape[2:]
    with pytest.raises(ValueError, match=f"{name}: expected .*of shape {expected}"):
        layer(torch.randn(wrong))
    with pytest.raises(TypeError, match=f"{name}: .*floating-point tensor.*torch.int64"):
        layer(torch.zeros(shape, dtype=torch.long))


def _cloud(B=2, N=6, C=3, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return torch.randn(B, N, 2, generator=g, dtype=dtype), torch.randn(B, N, C, generator=g, dtype=dtype)


def test_lieconv_input_errors():
    action = SE2Action()
    x, f = _cloud()
    conv = LieConv(action, 3, 4).double()
    cloud = lift_cloud(action, x, f)
    conv(cloud)
    with pytest.raises(ValueError, match=r"LieConv: expected features of shape \(B, M, 3\)"):
        conv(lift_cloud(action, x, f[..., :2]))
    with pytest.raises(TypeError, match="LieConv: features is torch.float32 on cpu but the layer is torch.float64"):
        conv(cloud._replace(f=cloud.f.float()))
    with pytest.raises(TypeError, match=r"lift: expected points x to be a floating-point tensor.*torch.int64"):
        lift_cloud(action, x.long(), f)
    net = LieResNet(action, 3, 2, channels=8, num_layers=1).double()
    net(x, f)
    with pytest.raises(ValueError, match=r"LieResNet: expected features f of shape \(batch, n_points, 3\)"):
        net(x, f[..., :2])
    with pytest.raises(TypeError, match=r"LieResNet: expected features f to be a floating-point tensor.*int64"):
        net(x, f.long())


def test_hamiltonian_input_errors():
    H = HamiltonianLieConv(lie_action("T2"), 2, channels=8, num_layers=1).double()
    z = torch.randn(2, 2, 4, 2, dtype=torch.float64)
    m, feats = torch.ones(2, 4, dtype=torch.float64), torch.ones(2, 4, 2, dtype=torch.float64)
    H(z, m, feats)
    with pytest.raises(ValueError, match=r"HamiltonianLieConv: expected a state z of shape \(batch, 2, n_particles, dim\)"):
        H(z[:, :1], m, feats)
    with pytest.raises(TypeError, match="HamiltonianLieConv: expected a state z to be a floating-point tensor.*int64"):
        H(z.long(), m, feats)
    with pytest.raises(TypeError, match="the state z is torch.float32 on cpu but the layer is torch.float64"):
        H(z.float(), m.float(), feats.float())


# -- the NaN policy ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize("nbhd", [None, 3])
def test_lieconv_value_at_a_masked_point_never_leaks(bad, nbhd):
    """NaN/Inf features (and coordinates) at padding leave every output finite and unchanged."""
    action = SE2Action()
    x, f = _cloud()
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, -2:] = False
    torch.manual_seed(0)
    net = LieResNet(action, 3, 2, channels=8, num_layers=2, nbhd=nbhd).double()
    conv = LieConv(action, 3, 4, nbhd=nbhd).double()
    clean_net, clean_conv = net(x, f, mask, seed=0), conv(lift_cloud(action, x, f, mask, seed=0)).f
    xb, fb = x.clone(), f.clone()
    fb[1, -1] = bad
    xb[1, -2] = bad
    out_net, out_conv = net(xb, fb, mask, seed=0), conv(lift_cloud(action, xb, fb, mask, seed=0)).f
    assert torch.isfinite(out_net).all() and torch.isfinite(out_conv).all()
    assert torch.equal(out_net, clean_net) and torch.equal(out_conv, clean_conv)


def test_lieconv_nan_at_a_valid_point_propagates_to_its_cloud_only():
    action = SE2Action()
    x, f = _cloud()
    net = LieResNet(action, 3, 2, channels=8, num_layers=1, nbhd=None).double()
    f[0, 2] = math.nan
    out = net(x, f, seed=0)
    assert torch.isnan(out[0]).all() and torch.isfinite(out[1]).all()

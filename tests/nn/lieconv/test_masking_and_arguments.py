"""Issue 14: NaN/Inf at masked (padding) points never reach an output; bad arguments get clear errors."""
from __future__ import annotations

import math

import pytest
import torch

from fiberconv.nn import LieConv, LieResNet, lift_cloud
from fiberconv.spaces.lie_groups import SE2Action, SO2Action

F64 = torch.float64


def _data(action, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 10, action.dim, dtype=F64, generator=g)
    f = torch.randn(2, 10, 3, dtype=F64, generator=g)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 7:] = False
    return x, f, mask


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("where", ["features", "points"])
def test_nonfinite_values_at_masked_points_do_not_reach_outputs(bad, where):
    action = SE2Action()
    net = LieResNet(action, 3, 2, channels=8, num_layers=2, nbhd=4).double()
    x, f, mask = _data(action)
    clean = net(x, f, mask, seed=0)
    x2, f2 = x.clone(), f.clone()
    (f2 if where == "features" else x2)[1, 8] = bad
    out = net(x2, f2, mask, seed=0)
    assert torch.isfinite(out).all()
    assert torch.equal(out, clean)
    conv = LieConv(action, 3, 4, nbhd=4).double()
    y = conv(lift_cloud(action, x2, f2, mask, seed=0)).f
    y_clean = conv(lift_cloud(action, x, f, mask, seed=0)).f
    assert torch.equal(y[mask], y_clean[mask]) and torch.isfinite(y[mask]).all()


@pytest.mark.parametrize("radius", [math.nan, -1.0, 0.0])
def test_lieconv_radius(radius):
    with pytest.raises(ValueError, match="LieConv: radius must be a positive number"):
        LieConv(SE2Action(), 3, 2, radius=radius)


def test_lieconv_channels_and_dtype_errors():
    with pytest.raises(ValueError, match="LieConv: c_in must be a positive int, got -1"):
        LieConv(SE2Action(), -1, 2)
    net = LieResNet(SO2Action(), 3, 2, channels=8, num_layers=1, nbhd=4).double()
    x, f, mask = _data(SO2Action())
    with pytest.raises(TypeError, match=r"torch.float32 .* torch.float64"):
        net(x.float(), f.float(), mask)

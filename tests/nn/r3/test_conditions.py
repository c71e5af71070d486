"""Issue 14: R^3 layers check their documented exactness conditions from shapes (warn at forward time) and
give clear errors for bad arguments."""
from __future__ import annotations

import warnings

import pytest
import torch

from fiberconv.nn import FieldAvgPool3d, NormMaxPool3d, R3Conv, r3_classifier, r3_field_type
from fiberconv.spaces.voxels import VoxelGrid
from fiberconv.testing import VoxelAction, equivariance_errors, invariant
from fiberconv.validation import EquivarianceWarning

FT = r3_field_type((0, 1), (1, 1))


def test_strided_conv_warns_where_not_equivariant():
    conv = R3Conv(FT, FT, 5, padding=2, stride=2).double()
    with pytest.warns(EquivarianceWarning, match=r"R3Conv: spatial size \(12, 12, 12\).*NOT equivariant.*\(11, 11, 11\)"):
        conv(torch.randn(1, FT.dim, 12, 12, 12, dtype=torch.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", EquivarianceWarning)
        f = torch.randn(1, FT.dim, 13, 13, 13, dtype=torch.float64)
        grid = VoxelGrid((13, 13, 13))
        errs = equivariance_errors(conv, f, grid.symmetries()[1:6], VoxelAction(grid, FT),
                                   lambda R, y: VoxelGrid(tuple(y.shape[2:])).rotate(y, FT, R))
        assert max(errs) < 1e-12


@pytest.mark.parametrize("pool", [FieldAvgPool3d, NormMaxPool3d])
def test_pools_warn_on_odd_sizes(pool):
    with pytest.warns(EquivarianceWarning, match=f"{pool.__name__}: spatial size \\(13, 13, 13\\)"):
        pool(FT, 2)(torch.randn(1, FT.dim, 13, 13, 13))
    with warnings.catch_warnings():
        warnings.simplefilter("error", EquivarianceWarning)
        pool(FT, 2)(torch.randn(1, FT.dim, 12, 12, 12))


def test_classifier_warns_on_13_cube():
    net = r3_classifier(r3_field_type((0, 1)), 3, kernel_size=3).double().eval()
    with pytest.warns(EquivarianceWarning, match="FieldAvgPool3d"):
        net(torch.randn(1, 1, 13, 13, 13, dtype=torch.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", EquivarianceWarning)
        x = torch.randn(1, 1, 12, 12, 12, dtype=torch.float64)
        grid = VoxelGrid((12, 12, 12))
        errs = equivariance_errors(net, x, grid.symmetries()[1:4], VoxelAction(grid, r3_field_type((0, 1))), invariant)
        assert max(errs) < 1e-10


def test_kernel_size_one_and_dtype():
    conv = R3Conv(FT, FT, 1)  # a pointwise equivariant map: scalar -> scalar and vector -> vector
    assert conv.basis.num_weights == 2
    assert conv(torch.randn(1, FT.dim, 3, 3, 3)).shape == (1, FT.dim, 3, 3, 3)
    with pytest.raises(TypeError, match=r"R3Conv: dtype must be a floating-point dtype .*got torch.int64"):
        R3Conv(FT, FT, 3, dtype=torch.int64)

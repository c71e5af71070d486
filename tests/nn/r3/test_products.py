"""CrossProduct: the closed-form cross product in (x, y, z) coordinates, exact SO(3) equivariance (pointwise
under any rotation, and under the cube rotations of the grid), parity (a pseudovector), errors."""
import pytest
import torch

from fiberconv.nn import CrossProduct, r3_field_type
from fiberconv.spaces.groups import SO3
from fiberconv.spaces.voxels import VoxelGrid, cube_rotations
from fiberconv.testing import FibreAction, VoxelAction, assert_equivariant

F64 = torch.float64
FT = r3_field_type((0, 1), (1, 2), (2, 1), (1, 3))  # vectors at channels 1, 4 and 12, 15, 18


def test_values_match_the_cross_product_in_xyz():
    layer = CrossProduct(FT, 2)
    x = torch.randn(2, FT.dim, 3, 2, 4, dtype=F64)
    y = layer(x)
    assert layer.out_type == FT + r3_field_type((1, 2)) and y.shape == (2, FT.dim + 6, 3, 2, 4)
    assert torch.equal(y[:, : FT.dim], x)
    to_xyz = [2, 0, 1]  # the real l = 1 basis is (y, z, x)
    vec = lambda c: x[:, c : c + 3][:, to_xyz]  # noqa: E731
    for i, (c1, c2) in enumerate([(1, 4), (12, 15)]):
        ref = torch.linalg.cross(vec(c1), vec(c2), dim=1)  # (x, y, z)
        got = y[:, FT.dim + 3 * i : FT.dim + 3 * i + 3][:, to_xyz]
        assert torch.allclose(got, ref, atol=1e-14)


def test_pointwise_equivariance_under_random_rotations():
    """Pointwise, so no resampling: CrossProduct(rho_in(R) x) = rho_out(R) CrossProduct(x) for every R."""
    layer = CrossProduct(FT, 2)
    x = torch.randn(3, FT.dim, 2, 2, 2, dtype=F64)
    # relative 1e-14: with |layer(x)| < 100 here, every component is within 1e-12
    assert layer(x).norm() < 100
    assert_equivariant(layer, x, SO3.sample((5,), seed=0, dtype=F64), FibreAction(FT.rho), FibreAction(layer.out_type.rho),
                       tol=1e-14)


def test_exact_under_the_cube_rotations_of_the_grid():
    layer, grid = CrossProduct(FT, 1), VoxelGrid(5)
    x = torch.randn(2, FT.dim, 5, 5, 5, dtype=F64)
    assert_equivariant(layer, x, cube_rotations(), VoxelAction(grid, FT), VoxelAction(grid, layer.out_type), tol=1e-14)


def test_is_a_pseudovector():
    """Under the inversion -I every l = 1 input flips sign; the product does not, so the layer is not
    O(3)-equivariant (l = 1 outputs would have to flip)."""
    layer = CrossProduct(r3_field_type((1, 2)), 1)
    x = torch.randn(1, 6, 2, 2, 2, dtype=F64)
    assert torch.equal(layer(-x)[:, 6:], layer(x)[:, 6:]) and layer(x)[:, 6:].abs().max() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"2 pairs need 4 vector \(l = 1\) fields"):
        CrossProduct(r3_field_type((1, 3)), 2)
    with pytest.raises(ValueError, match="n_pairs must be an int >= 1"):
        CrossProduct(FT, 0)
    with pytest.raises(TypeError, match="FieldType on R\\^3"):
        CrossProduct("vectors", 1)
    layer = CrossProduct(FT, 1)
    with pytest.raises(ValueError, match=r"shape \(batch, 21, X, Y, Z\)"):
        layer(torch.zeros(1, 20, 2, 2, 2))

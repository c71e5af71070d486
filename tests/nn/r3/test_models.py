"""Nonlinearities, batch norm and pooling on (B, C, X, Y, Z) voxel fields, and whole models: exact
equivariance under the 24 cube rotations (float64)."""
import pytest
import torch

from fiberconv.nn.nonlinear import FieldBatchNorm, GatedNonlinearity, InvariantPooling, NormNonlinearity
from fiberconv.nn.r3.kernels import r3_field_type
from fiberconv.nn.r3.models import R3GatedBlock, r3_classifier, r3_segmenter
from fiberconv.nn.r3.pool import FieldAvgPool3d, NormMaxPool3d
from fiberconv.spaces.representations import SO3Irrep
from fiberconv.spaces.voxels import VoxelGrid, cube_rotations
from fiberconv.testing import VoxelAction, assert_equivariant, invariant

F64 = torch.float64
FT = r3_field_type((0, 2), (1, 2), (2, 1), (0, 1))
ROTS = cube_rotations()


def field(ft, n=6):
    return torch.randn(2, ft.dim, n, n, n, dtype=F64)


def on(ft, n=6):
    """The action on ``ft``-fields over the ``n^3`` grid (exact for the cube rotations)."""
    return VoxelAction(VoxelGrid(n), ft)


def test_nonlinearities_and_batch_norm_on_voxels():
    nl = NormNonlinearity(FT).double()
    with torch.no_grad():
        nl.bias.normal_()
    assert_equivariant(nl, field(FT), ROTS, on(FT), on(FT), tol=1e-10)
    gate = GatedNonlinearity(FT.bundle, 2, [SO3Irrep(1), SO3Irrep(2), SO3Irrep(1)], SO3Irrep(0))
    assert_equivariant(gate, field(gate.in_type), ROTS, on(gate.in_type), on(gate.out_type), tol=1e-10)
    bn = FieldBatchNorm(FT).double()
    assert_equivariant(bn, field(FT), ROTS, on(FT), on(FT), tol=1e-10)  # training mode: batch statistics are invariant
    bn.eval()
    assert_equivariant(bn, field(FT), ROTS, on(FT), on(FT), tol=1e-10)


@pytest.mark.parametrize("pool_cls", [FieldAvgPool3d, NormMaxPool3d])
def test_pooling(pool_cls):
    pool, x = pool_cls(FT, 2), field(FT)
    assert pool(x).shape == (2, FT.dim, 3, 3, 3)
    assert_equivariant(pool, x, ROTS, on(FT), on(FT, 3), tol=1e-10)
    assert_equivariant(pool_cls(FT, 3, stride=2, padding=1), field(FT, 7), ROTS, on(FT, 7), on(FT, 4), tol=1e-10)
    assert_equivariant(InvariantPooling(FT), field(FT), ROTS, on(FT), invariant, tol=1e-10)


def test_norm_max_pool_selects_largest_norm():
    ft = r3_field_type((1, 1))
    x = torch.zeros(1, 3, 2, 2, 2, dtype=F64)
    x[0, :, 1, 0, 1] = torch.tensor([0.0, 3.0, 4.0], dtype=F64)  # norm 5
    x[0, :, 0, 0, 0] = torch.tensor([4.0, 0.0, 0.0], dtype=F64)  # largest component, smaller norm
    out = NormMaxPool3d(ft, 2)(x)
    assert out.flatten().tolist() == [0.0, 3.0, 4.0]


def test_gated_block_and_segmenter_equivariant():
    ft_in = r3_field_type((0, 1), (1, 1))
    block = R3GatedBlock(ft_in, 2, [(1, 1), (2, 1)], 3, dtype=F64).double()
    assert_equivariant(block, field(ft_in), ROTS[::2], on(ft_in), on(block.out_type), tol=1e-10)
    seg = r3_segmenter(ft_in, 3, widths=[(2, [(1, 1)])], kernel_size=3, dtype=F64).double().eval()
    assert_equivariant(seg, field(ft_in, 5), ROTS[::2], on(ft_in, 5), on(r3_field_type((0, 3)), 5), tol=1e-10)


@pytest.mark.parametrize("pool", ["avg", "norm"])
def test_classifier_exactly_invariant_under_cube_rotations(pool):
    ft_in = r3_field_type((0, 1))
    model = r3_classifier(ft_in, 4, widths=[(2, [(1, 1), (2, 1)]), (2, [(1, 1)])], kernel_size=3, pool=pool,
                          n_head=4, dtype=F64).double()
    model.train()  # batch statistics: still exactly invariant
    assert_equivariant(model, field(ft_in, 8), ROTS[::3], on(ft_in, 8), invariant, tol=1e-10)
    model.eval()
    assert_equivariant(model, field(ft_in, 8), ROTS[::3], on(ft_in, 8), invariant, tol=1e-10)


def test_classifier_backward_and_errors():
    ft_in = r3_field_type((0, 1))
    model = r3_classifier(ft_in, 3, widths=[(2, [(1, 1)])], kernel_size=3, n_head=2)
    model(torch.randn(2, 1, 6, 6, 6)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match=r"\(batch, 1, X, Y, Z\)"):
        model(torch.randn(2, 2, 6, 6, 6))
    with pytest.raises(ValueError, match="pool"):
        r3_classifier(ft_in, 3, pool="max")
    with pytest.raises(ValueError, match="l >= 1"):
        R3GatedBlock(ft_in, 1, [(0, 1)], 3)
    with pytest.raises(ValueError, match=r"kernel_size"):
        FieldAvgPool3d(ft_in, 0)
    with pytest.raises(ValueError, match=r"\(batch, 1, X, Y, Z\)"):
        NormMaxPool3d(ft_in, 2)(torch.randn(1, 1, 4, 4))

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

F64 = torch.float64
FT = r3_field_type((0, 2), (1, 2), (2, 1), (0, 1))
ROTS = cube_rotations()


def rel(a, b):
    return float((a - b).detach().norm() / b.detach().norm())


def check_equivariant(module, ft_in, ft_out, n=6, n_out=None, invariant=False, rots=ROTS):
    gin, gout = VoxelGrid(n), VoxelGrid(n_out or n)
    x = torch.randn(2, ft_in.dim, n, n, n, dtype=F64)
    y = module(x)
    worst = 0.0
    for R in rots:
        yr = module(gin.rotate_exact(x, ft_in, R))
        worst = max(worst, rel(yr, y if invariant else gout.rotate_exact(y, ft_out, R)))
    assert worst < 1e-10, worst
    return y


def test_nonlinearities_and_batch_norm_on_voxels():
    nl = NormNonlinearity(FT).double()
    with torch.no_grad():
        nl.bias.normal_()
    check_equivariant(nl, FT, FT)
    gate = GatedNonlinearity(FT.bundle, 2, [SO3Irrep(1), SO3Irrep(2), SO3Irrep(1)], SO3Irrep(0))
    check_equivariant(gate, gate.in_type, gate.out_type)
    bn = FieldBatchNorm(FT).double()
    check_equivariant(bn, FT, FT)  # training mode: batch statistics are invariant
    bn.eval()
    check_equivariant(bn, FT, FT)


@pytest.mark.parametrize("pool_cls", [FieldAvgPool3d, NormMaxPool3d])
def test_pooling(pool_cls):
    pool = pool_cls(FT, 2)
    y = check_equivariant(pool, FT, FT, n=6, n_out=3)
    assert y.shape == (2, FT.dim, 3, 3, 3)
    check_equivariant(pool_cls(FT, 3, stride=2, padding=1), FT, FT, n=7, n_out=4)
    check_equivariant(InvariantPooling(FT), FT, None, invariant=True)


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
    check_equivariant(block, ft_in, block.out_type, rots=ROTS[::2])
    seg = r3_segmenter(ft_in, 3, widths=[(2, [(1, 1)])], kernel_size=3, dtype=F64).double().eval()
    check_equivariant(seg, ft_in, r3_field_type((0, 3)), n=5, rots=ROTS[::2])


@pytest.mark.parametrize("pool", ["avg", "norm"])
def test_classifier_exactly_invariant_under_cube_rotations(pool):
    ft_in = r3_field_type((0, 1))
    model = r3_classifier(ft_in, 4, widths=[(2, [(1, 1), (2, 1)]), (2, [(1, 1)])], kernel_size=3, pool=pool,
                          n_head=4, dtype=F64).double()
    model.train()  # batch statistics: still exactly invariant
    check_equivariant(model, ft_in, None, n=8, invariant=True, rots=ROTS[::3])
    model.eval()
    check_equivariant(model, ft_in, None, n=8, invariant=True, rots=ROTS[::3])


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

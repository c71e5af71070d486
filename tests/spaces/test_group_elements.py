"""Issue 14: group elements are validated where they are assumed (one rule, one tolerance per dtype), the
exp/log series are accurate in every dtype, dtype and shape arguments are checked."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fiberconv.fields import FibredSampling, InducedRepresentation, sphere_field_type
from fiberconv.spaces.groups import SE3, SO2, SO3
from fiberconv.spaces.healpix import HealpixGrid
from fiberconv.spaces.lie_groups import SE2
from fiberconv.spaces.voxels import VoxelGrid, cube_rotations
from fiberconv.spaces.wigner import WignerD, wigner_D, wigner_D_euler
from fiberconv.testing import EquivarianceChecker
from fiberconv.validation import element_tolerance

F64 = torch.float64
A = torch.tensor([[1.0, 2, 3], [4, 5, 6], [7, 8, 10]], dtype=F64)
NOT_ROTATIONS = {
    "arbitrary": A,
    "reflection -I": -torch.eye(3, dtype=F64),
    "|RR^T - I| = 0.1": 1.05 * torch.eye(3, dtype=F64),
    "NaN": torch.full((3, 3), float("nan"), dtype=F64),
}


@pytest.mark.parametrize("name", list(NOT_ROTATIONS))
def test_rotation_entry_points_refuse_non_rotations(name):
    R = NOT_ROTATIONS[name]
    for call in (lambda: SO3.log(R), lambda: wigner_D(1, R), lambda: WignerD(2).blocks(R),
                 lambda: WignerD(2).rotate_coefficients(R, torch.zeros(9, dtype=F64)), lambda: SO3.to_euler(R),
                 lambda: SO3.log(R.float())):
        with pytest.raises(ValueError, match=r"SO\(3\) rotation matrices \(orthogonal, det = \+1"):
            call()


def test_rigid_motion_log_refuses_non_elements():
    g = torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    with pytest.raises(ValueError, match=r"SE\(3\)\.log: .*rotation blocks"):
        SE3.log(g)
    bad_row = SE3.identity(dtype=F64)
    bad_row[3, 0] = 0.5
    with pytest.raises(ValueError, match="bottom row"):
        SE3.log(bad_row)
    with pytest.raises(ValueError, match=r"SE\(2\)\.log"):
        SE2.log(2 * SE2.identity(dtype=F64))
    with pytest.raises(ValueError, match=r"SO\(2\)\.log"):
        SO2.log(-SO2.identity(dtype=F64)[..., [1, 0], :])  # det -1


def test_elements_within_rounding_are_accepted():
    for dtype in (torch.float32, F64):
        R = SO3.sample(50, seed=1, dtype=dtype)
        assert torch.isfinite(SO3.log(R)).all() and torch.isfinite(wigner_D(2, R)).all()
        g = SE3.sample(20, seed=2, dtype=dtype)
        assert torch.allclose(SE3.exp(SE3.log(g)), g, atol=50 * element_tolerance(dtype))
    # a float32 rotation cast to float64 carries float32 rounding: refused at the float64 tolerance
    R32 = SO3.from_euler(torch.tensor(0.3), torch.tensor(1.1), torch.tensor(-0.4))
    assert element_tolerance(F64) == 1e-10 and element_tolerance(torch.float32) == 1e-5
    SO3.check_element(R32)


def test_equivariance_checker_refuses_reflection():
    grid = HealpixGrid(2)
    ft = sphere_field_type((0, 1))
    f = torch.randn(1, 1, grid.npix, dtype=F64)
    with pytest.raises(ValueError, match="InducedRepresentation: g must hold SO"):
        EquivarianceChecker(ft, grid, ft)(lambda x: x, f, -torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match="VoxelGrid.rotate"):
        VoxelGrid((3, 3, 3)).rotate(torch.zeros(1, 1, 3, 3, 3), None, -torch.eye(3))


def test_float32_grid_symmetry_up_to_rounding():
    """SO3.from_euler(pi/2, 0, 0) in float32 has entries -4.4e-8: still the grid symmetry Z(pi/2)."""
    grid = HealpixGrid(4)
    ft = sphere_field_type((0, 1), (1, 1))
    g = SO3.from_euler(torch.tensor(math.pi / 2), torch.tensor(0.0), torch.tensor(0.0))
    assert g.dtype == torch.float32 and g[0, 0] != 0
    assert HealpixGrid.symmetry_index(g) == 1
    pi = InducedRepresentation(ft, grid)
    f = torch.randn(2, ft.dim, grid.npix, generator=torch.Generator().manual_seed(0))
    exact = pi(HealpixGrid.symmetries(dtype=torch.float32)[1], f)
    assert torch.equal(pi(g, f), exact)
    F = torch.randn(2, ft.dim, grid.npix, 4)
    pi.mackey(g, F, FibredSampling(grid, ft.bundle, 4))
    assert EquivarianceChecker(ft, grid, ft)(lambda x: x, f, g) == 0.0
    grid.symmetry_permutation(g)
    # the same rotation off by more than float32 rounding is not a symmetry
    assert HealpixGrid.symmetry_index(SO3.from_euler(torch.tensor(math.pi / 2 + 1e-3), torch.tensor(0.0),
                                                     torch.tensor(0.0))) is None


@pytest.mark.parametrize("group,dim", [(SO3, 3), (SE3, 6), (SE2, 3)])
def test_exp_log_float32_accuracy_at_many_angles(group, dim):
    """float32 exp/log against float64 at angles around every series cutoff (SE3.exp lost two digits
    just above its cutoff: 3.1e-5 at angle 1.1e-3)."""
    gen = torch.Generator().manual_seed(3)
    angles = torch.cat([torch.logspace(-8, 0, 200, dtype=F64), torch.linspace(1, 3.1, 50, dtype=F64)])
    v = torch.randn(angles.numel(), dim, generator=gen, dtype=F64)
    rot = slice(dim - 3, dim) if group is not SE2 else slice(2, 3)
    v[:, rot] = v[:, rot] / torch.linalg.vector_norm(v[:, rot], dim=-1, keepdim=True) * angles[:, None]
    v32 = v.float()
    ref = group.exp(v32.double())
    err = (group.exp(v32).double() - ref).abs().amax()
    assert err < 1e-6, err
    log_err = (group.log(ref.float(), check=False).double() - v32.double()).abs().amax()
    assert log_err < 2e-6, log_err
    # the Jacobian coefficients have finite gradients at 0
    z = torch.zeros(1, dim, dtype=F64, requires_grad=True)
    group.exp(z).sum().backward()
    assert torch.isfinite(z.grad).all()


def test_dtype_arguments_must_be_floating():
    grid = HealpixGrid(2)
    for call in (lambda: grid.xyz(dtype=torch.long), lambda: grid.angles(dtype=torch.int32),
                 lambda: grid.weights(dtype=torch.long), lambda: HealpixGrid.symmetries(dtype=torch.int64),
                 lambda: VoxelGrid((3, 3, 3)).coordinates(dtype=torch.long), lambda: cube_rotations(torch.long),
                 lambda: SO3.sample(2, dtype=torch.long), lambda: SE3.identity(dtype=torch.int32)):
        with pytest.raises(TypeError, match="floating-point dtype .*got torch.int"):
            call()


def test_shape_and_broadcast_arguments():
    with pytest.raises(ValueError, match=r"batch_shape must be an int or a sequence of non-negative ints, got \(-1,\)"):
        SO3.sample((-1,))
    with pytest.raises(ValueError, match=r"alpha, beta, gamma must have shapes that broadcast together, got "
                                         r"alpha \(2,\), beta \(3,\)"):
        wigner_D_euler(2, torch.zeros(2), torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="broadcast together"):
        SO3.from_euler(torch.zeros(2), torch.zeros(3), torch.zeros(3))
    assert np.asarray(SO3.sample(0).shape).tolist() == [0, 3, 3]

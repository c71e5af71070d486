"""fiberconv.testing's equivariance check on every base space: it passes on equivariant modules, and it can fail
(it raises on modules that break the symmetry)."""
import pytest
import torch

from fiberconv.fields import InducedRepresentation, sphere_field_type
from fiberconv.nn import InvariantPooling, NormNonlinearity, R3Conv, SphereConv, r3_field_type
from fiberconv.nn.lieconv import LieConv, LieResNet
from fiberconv.nn.lieconv.lift import lift_cloud
from fiberconv.spaces import SO3, HealpixGrid
from fiberconv.spaces.lie_groups import SE2Action, TrivialAction
from fiberconv.spaces.voxels import VoxelGrid, cube_rotations
from fiberconv.testing import (
    CloudAction,
    EquivarianceChecker,
    FibreAction,
    PointAction,
    VoxelAction,
    assert_equivariant,
    equivariance_error,
    equivariance_errors,
    invariant,
)

F64 = torch.float64
VEC = r3_field_type((1, 1))


class AddHeight(torch.nn.Module):
    """``f(x) + z(x)``: the output depends on where ``x`` is, not only on ``f``; invariant only under the
    rotations about the polar axis."""

    def __init__(self, module, grid):
        super().__init__()
        self.module, self.z = module, grid.xyz(dtype=F64)[:, 2]

    def forward(self, f):
        return self.module(f) + self.z


def test_sphere_passes_on_a_conv_and_fails_on_absolute_position():
    grid = HealpixGrid(4, nest=True)
    s, v = sphere_field_type((0, 2)), sphere_field_type((0, 1), (1, 1))
    torch.manual_seed(0)
    conv = SphereConv(v, s, grid, dtype=F64)
    f = torch.randn(2, v.dim, grid.npix, dtype=F64)
    pi_in, pi_out = InducedRepresentation(v, grid), InducedRepresentation(s, grid)
    rots = grid.symmetries(dtype=F64)  # z-rotations first, then X(pi) composed with them
    errs = assert_equivariant(conv, f, rots, pi_in, pi_out, tol=1e-12)
    assert len(errs) == 8 and max(errs) < 1e-12
    assert EquivarianceChecker(v, grid, s).errors(conv, f, rots) == errs
    broken = AddHeight(conv, grid)
    assert_equivariant(broken, f, rots[:4], pi_in, pi_out, tol=1e-12)  # z is invariant under Z(gamma)
    with pytest.raises(AssertionError, match=r"equivariance error .* > 1\.0e-12 at element #[4-7]"):
        assert_equivariant(broken, f, rots, pi_in, pi_out, tol=1e-12)
    assert min(equivariance_errors(broken, f, rots[4:], pi_in, pi_out)) > 0.1


def test_sphere_invariant_outputs():
    grid = HealpixGrid(4)
    ft = sphere_field_type((0, 1), (1, 2))
    f = torch.randn(2, ft.dim, grid.npix, dtype=F64)
    pi = InducedRepresentation(ft, grid)
    assert_equivariant(InvariantPooling(ft), f, grid.symmetries(dtype=F64), pi, invariant, tol=1e-12)
    first_vector = lambda f: f[:, 1:3].mean(-1)  # noqa: E731  frame components are not invariant
    with pytest.raises(AssertionError):
        assert_equivariant(first_vector, f, grid.symmetries(dtype=F64), pi, invariant, tol=1e-3)


def test_r3_passes_on_r3conv_and_fails_on_a_plain_conv3d():
    grid = VoxelGrid(7)
    act = VoxelAction(grid, VEC)
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 7, 7, dtype=F64)
    assert_equivariant(R3Conv(VEC, VEC, 3, padding=1, dtype=F64), x, cube_rotations(), act, act, tol=1e-12)
    plain = torch.nn.Conv3d(3, 3, 3, padding=1, dtype=F64)  # treats (x, y, z) components as 3 scalars
    with pytest.raises(AssertionError, match="equivariance error"):
        assert_equivariant(plain, x, cube_rotations(), act, act, tol=1e-3)
    errs = equivariance_errors(plain, x, cube_rotations(), act, act)
    assert errs[0] < 1e-15 and min(errs[1:]) > 0.1  # the identity first, then every other rotation fails


def test_fibre_action_passes_on_a_norm_nonlinearity_and_fails_on_componentwise_relu():
    ft = r3_field_type((0, 1), (1, 2), (2, 1))
    layer = NormNonlinearity(ft).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(3, ft.dim, 4, 4, 4, dtype=F64)
    rots = SO3.sample((4,), seed=0, dtype=F64)  # any rotation: nothing is resampled
    act = FibreAction(ft.rho)
    assert_equivariant(layer, x, rots, act, act, tol=1e-13)
    with pytest.raises(AssertionError):
        assert_equivariant(torch.relu, x, rots, act, act, tol=1e-3)


def test_lieconv_passes_on_relative_and_fails_on_absolute_coordinates():
    """Feeding absolute coordinates instead of log(u_i^-1 u_j) breaks the symmetry; the check sees it."""
    action = SE2Action()
    gen = torch.Generator().manual_seed(3)
    x, f = torch.randn(2, 12, 2, dtype=F64, generator=gen), torch.randn(2, 12, 3, dtype=F64, generator=gen)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[-1, 9:] = False
    torch.manual_seed(0)
    conv = LieConv(action, 3, 4, nbhd=5).double()
    cloud = lift_cloud(action, x, f, mask, seed=1)
    w = [action.group.sample((2,), seed=2, dtype=F64)]  # one element per cloud
    move = CloudAction(action)
    assert_equivariant(conv, cloud, w, move, move, tol=1e-13, output="f")

    class Broken(LieConv):  # a_ij := [absolute position of u_j, 0]: not invariant
        def relative_logs(self, ui, uj):
            t = uj[..., :2, 2].expand(torch.broadcast_shapes(ui.shape, uj.shape)[:-2] + (2,))
            return torch.cat([t, torch.zeros_like(t[..., :1])], -1)

    broken = Broken(action, 3, 4, nbhd=5).double()
    broken.load_state_dict(conv.state_dict())
    assert_equivariant(broken, cloud, [torch.eye(3, dtype=F64).expand(2, 3, 3)], move, move, tol=1e-13, output="f")

    with pytest.raises(AssertionError, match="equivariance error"):
        assert_equivariant(broken, cloud, w, move, move, tol=1e-3, output="f")


def test_point_action_on_raw_points():
    action = SE2Action()
    gen = torch.Generator().manual_seed(5)
    x, f = torch.randn(2, 10, 2, dtype=F64, generator=gen), torch.randn(2, 10, 3, dtype=F64, generator=gen)
    g = action.group.sample((2,), seed=6, dtype=F64)
    move = PointAction(action)
    per_cloud = torch.stack([x[b] @ g[b, :2, :2].T + g[b, :2, 2] for b in range(2)])
    assert torch.allclose(move(g, x), per_cloud, atol=1e-14)
    assert torch.allclose(move(g[0], x), x @ g[0, :2, :2].T + g[0, :2, 2], atol=1e-14)
    torch.manual_seed(0)
    net = LieResNet(action, 3, 2, channels=8, num_layers=1, nbhd=6, lift_kwargs={"n_samples": 3, "stabilizer": "frame"})
    assert_equivariant(lambda x: net.double()(x, f), x, g, move, invariant, tol=1e-12)
    no_symmetry = LieResNet(TrivialAction(2), 3, 2, channels=8, num_layers=1, nbhd=6).double()
    with pytest.raises(AssertionError):
        assert_equivariant(lambda x: no_symmetry(x, f), x, g, move, invariant, tol=1e-8)


def test_errors_are_relative_and_per_element():
    grid = VoxelGrid(5)
    act = VoxelAction(grid, VEC)
    x = torch.randn(1, 3, 5, 5, 5, dtype=F64)
    double = lambda x: 2 * x  # noqa: E731
    assert equivariance_errors(double, x, cube_rotations()[:5], act, act) == [0.0] * 5
    shift = lambda x: x + 1.0  # noqa: E731  not equivariant: a constant vector field is not rotation invariant
    R = cube_rotations()[1]
    expected = act(R, x + 1.0)
    ref = float((shift(act(R, x)) - expected).norm() / expected.norm())
    assert equivariance_error(shift, x, R, act, act) == pytest.approx(ref, rel=1e-14)

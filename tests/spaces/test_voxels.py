"""VoxelGrid: centred coordinates, the 24 cube rotations, exact rotation by index permutation and
resampling for continuous rotations."""
import pytest
import torch

from fiberconv.nn.r3.kernels import r3_field_type
from fiberconv.spaces.groups import SO3
from fiberconv.spaces.voxels import VoxelGrid, cube_rotations, is_cube_rotation

FT = r3_field_type((0, 1), (1, 1), (2, 1))

def test_coordinates_are_centred():
    g = VoxelGrid((4, 5, 6), spacing=0.5)
    c = g.coordinates(torch.float64)
    assert c.shape == (4, 5, 6, 3)
    assert torch.allclose(c.mean((0, 1, 2)), torch.zeros(3, dtype=torch.float64))
    assert c[0, 0, 0].tolist() == [-0.75, -1.0, -1.25]
    assert g.points().shape == (120, 3)


def test_cube_rotations_form_a_group():
    r = cube_rotations()
    assert r.shape == (24, 3, 3)
    assert torch.allclose(r @ r.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(24, 3, 3))
    prod = (r[:, None] @ r[None]).reshape(-1, 3, 3)
    # closure: every product is one of the 24
    assert ((prod[:, None] - r[None]).abs().amax((-1, -2)) < 1e-12).any(1).all()
    assert all(is_cube_rotation(m) for m in r)
    assert not is_cube_rotation(SO3.sample((), seed=0, dtype=torch.float64))


@pytest.mark.parametrize("shape", [(5, 5, 5), (6, 6, 6)])
def test_rotate_exact_matches_gather_and_is_a_representation(shape):
    g = VoxelGrid(shape)
    f = torch.randn(2, FT.dim, *shape, dtype=torch.float64)
    rots = cube_rotations()
    co = g.coordinates(torch.float64)
    n = torch.tensor(shape, dtype=torch.float64)
    for R in rots[::5]:
        idx = ((co @ R) + (n - 1) / 2).round().long()  # index of R^{-1} x
        ref = torch.einsum("oc,bc...->bo...", FT.rho(R), f[:, :, idx[..., 0], idx[..., 1], idx[..., 2]])
        assert torch.allclose(g.rotate_exact(f, FT, R), ref, atol=1e-14)
    a, b = rots[3], rots[17]
    lhs = g.rotate_exact(g.rotate_exact(f, FT, b), FT, a)
    assert torch.allclose(lhs, g.rotate_exact(f, FT, a @ b), atol=1e-13)


def test_resample_agrees_with_exact_on_cube_rotations_and_smooth_fields():
    g = VoxelGrid(9)
    x = g.coordinates(torch.float64)
    f = torch.exp(-(x**2).sum(-1) / 8)[None, None].expand(1, FT.dim, 9, 9, 9).contiguous()
    for R in cube_rotations()[::7]:
        assert torch.allclose(g.rotate_resample(f, FT, R), g.rotate_exact(f, FT, R), atol=1e-12)
    # a field linear in x (times rho) is resampled exactly away from the boundary
    lin = (x @ torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64))[None, None]
    ft0 = r3_field_type((0, 1))
    R = SO3.sample((), seed=1, dtype=torch.float64)
    out = g.rotate(lin, ft0, R)
    inner = x.norm(dim=-1) < 3
    ref = (x @ R) @ torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    assert torch.allclose(out[0, 0][inner], ref[inner], atol=1e-12)


def test_non_cubic_grid_symmetries_and_errors():
    g = VoxelGrid((4, 4, 6))
    assert g.symmetries().shape[0] == 8  # rotations fixing the z-axis up to sign: D4
    f = torch.randn(1, FT.dim, 4, 4, 6)
    swap_xz = torch.tensor([[0.0, 0, 1], [0, -1, 0], [1, 0, 0]])
    with pytest.raises(ValueError, match="onto itself"):
        g.rotate_exact(f, FT, swap_xz)
    with pytest.raises(ValueError, match=r"\(batch, 9, 4, 4, 6\)"):
        g.rotate_exact(torch.randn(1, 8, 4, 4, 6), FT, torch.eye(3))
    with pytest.raises(ValueError, match="not one of the 24"):
        g.rotate_exact(f, FT, SO3.sample((), seed=0))
    with pytest.raises(ValueError, match="shape"):
        VoxelGrid((4, 4))
    with pytest.raises(ValueError, match="spacing"):
        VoxelGrid(4, spacing=0)

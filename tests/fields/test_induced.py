"""The induced representation on both encodings (eqs. 3-4): against rotating ambient tensors,
homomorphism, intertwining with Lambda, and exactness under the grid's own symmetries."""
import pytest
import torch

from fiberconv.fields import FibredSampling, InducedRepresentation, lift, sphere_field_type
from fiberconv.fields.tangent import from_ambient, to_ambient
from fiberconv.spaces.groups import SO3
from fiberconv.spaces.healpix import HealpixGrid

from .helpers import ambient_field, frames_of

MIXED = ((0, 2), (1, 2), (2, 1))


def rotate_ambient(field_type, t, g):
    """Apply g to every tensor index of the ambient blocks: (g (x) ... (x) g) T."""
    out, i = [], 0
    for _, r in field_type.irrep_blocks():
        n = 1 if r.m == 0 else 3**r.m
        block = t[:, i : i + n]
        i += n
        if r.m:
            shape = block.shape
            block = block.reshape(shape[:1] + (3,) * r.m + shape[2:])
            for axis in range(r.m):
                block = torch.movedim(torch.tensordot(g, block, dims=([1], [axis + 1])), 0, axis + 1)
            block = block.reshape(shape)
        out.append(block)
    return torch.cat(out, 1)


def section_field(ft, grid, seeds=(0, 1), dtype=torch.float64):
    x = grid.xyz(dtype=dtype)
    fr = frames_of(ft.bundle.section(x))
    return torch.cat([from_ambient(ft, ambient_field(ft, x, s).unsqueeze(0), fr) for s in seeds])


@pytest.fixture(scope="module")
def setup():
    ft = sphere_field_type(*MIXED)
    grid = HealpixGrid(8, nest=True)
    return ft, grid, InducedRepresentation(ft, grid, lmax=16)


def test_pi_C_equals_rotating_the_ambient_tensors(setup):
    """[pi_C(g) f](x) read against (g (x)...(x) g) T(g^-1 x) in the frame at x, T analytic."""
    ft, grid, pi = setup
    x = grid.xyz(dtype=torch.float64)
    fr = frames_of(ft.bundle.section(x))
    f = section_field(ft, grid, seeds=(0,))
    for g in SO3.sample(3, seed=11, dtype=torch.float64):
        y = SO3.act(SO3.inverse(g), x)
        expected = from_ambient(ft, rotate_ambient(ft, ambient_field(ft, y, 0).unsqueeze(0), g), fr)
        got = pi(g, f)
        assert (got - expected).abs().max() / expected.abs().max() < 1e-9


def test_homomorphism_on_local_sections(setup):
    ft, grid, pi = setup
    f = section_field(ft, grid)
    g1, g2 = SO3.sample(2, seed=3, dtype=torch.float64)
    lhs, rhs = pi(g1, pi(g2, f)), pi(g1 @ g2, f)
    assert (lhs - rhs).abs().max() / rhs.abs().max() < 1e-9


@pytest.mark.parametrize("n_fibre", [1, 5, 8])
def test_lift_intertwines_pi_G_and_pi_C(setup, n_fibre):
    """pi_G(g) Lambda f = Lambda pi_C(g) f."""
    ft, grid, pi = setup
    sampling = FibredSampling(grid, ft.bundle, n_fibre)
    f = section_field(ft, grid)
    for g in SO3.sample(2, seed=5, dtype=torch.float64):
        lhs = pi.mackey(g, lift(ft, f, sampling), sampling)
        rhs = lift(ft, pi(g, f), sampling)
        assert (lhs - rhs).abs().max() / rhs.abs().max() < 1e-9


def test_homomorphism_on_mackey_functions(setup):
    ft, grid, pi = setup
    sampling = FibredSampling(grid, ft.bundle, 6)
    F = lift(ft, section_field(ft, grid), sampling)
    g1, g2 = SO3.sample(2, seed=8, dtype=torch.float64)
    lhs, rhs = pi.mackey(g1, pi.mackey(g2, F, sampling), sampling), pi.mackey(g1 @ g2, F, sampling)
    assert (lhs - rhs).abs().max() / rhs.abs().max() < 1e-9


@pytest.mark.parametrize("nest", [False, True])
def test_exact_under_grid_symmetries_for_any_field(nest):
    """For the 8 grid symmetries, random (not band-limited) fields rotate exactly: against the permuted,
    rotated ambient tensors; as a homomorphism on the dihedral group; and intertwined with Lambda."""
    ft = sphere_field_type(*MIXED)
    grid = HealpixGrid(4, nest=nest)
    pi = InducedRepresentation(ft, grid, lmax=4)
    gen = torch.Generator().manual_seed(0)
    f = torch.randn(2, ft.dim, grid.npix, dtype=torch.float64, generator=gen)
    x = grid.xyz(dtype=torch.float64)
    fr = frames_of(ft.bundle.section(x))
    sampling = FibredSampling(grid, ft.bundle, 4)
    syms = grid.symmetries(dtype=torch.float64)
    for g in syms:
        perm = grid.symmetry_permutation(g.T)  # g^-1 x_i = x_perm[i]
        expected = from_ambient(ft, rotate_ambient(ft, to_ambient(ft, f, fr)[..., perm], g), fr)
        assert (pi(g, f) - expected).abs().max() < 1e-12
        assert (pi.mackey(g, lift(ft, f, sampling), sampling) - lift(ft, pi(g, f), sampling)).abs().max() < 1e-12
    for g1 in syms:
        for g2 in syms:
            assert (pi(g1, pi(g2, f)) - pi(g1 @ g2, f)).abs().max() < 1e-12


def test_float32_follows_input():
    ft = sphere_field_type((0, 1), (1, 1))
    grid = HealpixGrid(4)
    pi = InducedRepresentation(ft, grid, lmax=8)
    f = section_field(ft, grid, dtype=torch.float64)
    g = SO3.sample((), seed=2, dtype=torch.float64)
    out32 = pi(g.float(), f.float())
    assert out32.dtype == torch.float32
    assert (out32.double() - pi(g, f)).abs().max() / f.abs().max() < 1e-5


def test_bad_input(setup):
    ft, grid, pi = setup
    f = section_field(ft, grid, seeds=(0,))
    with pytest.raises(ValueError, match=r"one rotation matrix of shape \(3, 3\)"):
        pi(SO3.sample(2, seed=0, dtype=torch.float64), f)
    with pytest.raises(ValueError, match=r"shape \(batch, 8, 768\)"):
        pi(torch.eye(3, dtype=torch.float64), f[:, :4])
    other = FibredSampling(HealpixGrid(4), ft.bundle, 2)
    with pytest.raises(ValueError, match="sampling lies over"):
        pi.mackey(torch.eye(3, dtype=torch.float64), torch.zeros(1, 8, 192, 2, dtype=torch.float64), other)

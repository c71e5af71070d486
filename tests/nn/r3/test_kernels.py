"""The analytic R^3 kernel basis against the generic kernel-space machinery (K_C, K_D, kd_to_kc and
the numerical null-space solvers)."""

import pytest
import torch

from fiberconv.nn.kernel_spaces import kc_residual, kd_residual, kd_to_kc, solve_kc_on_orbit, solve_kd, span_rank
from fiberconv.nn.r3.kernels import IrrepPairBasis, R3KernelBasis, kernel_offsets, r3_field_type
from fiberconv.spaces.groups import SO3
from fiberconv.spaces.harmonics import real_sph_harm_xyz

PAIRS = [(li, lo) for li in range(3) for lo in range(3)]
FULL = [0, 4, 4]  # J_max per shell: every J allowed off the origin

def one(l):
    return r3_field_type((l, 1))


@pytest.mark.parametrize("li,lo", PAIRS)
def test_kernel_constraint_at_continuous_points(li, lo):
    """kappa(r x) = rho2(r) kappa(x) rho1(r)^-1 (eq. 9 with h1(x, r) = r) before any discretization."""
    pb = IrrepPairBasis(li, lo, [0.0, 1.0, 2.0], 0.6, FULL, window=(1.5, 2.5))
    gen = torch.Generator().manual_seed(li + 3 * lo)
    x = 2.2 * torch.randn(40, 3, generator=gen, dtype=torch.float64)
    R = SO3.sample(40, seed=gen, dtype=torch.float64)
    for i in range(pb.size):
        kappa = lambda p, i=i: pb(p)[..., i, :, :]
        assert float(kc_residual(kappa, one(li), one(lo), x, R)) < 1e-12


@pytest.mark.parametrize("li,lo", PAIRS)
def test_kd_lifts_to_the_closed_form(li, lo):
    """The closed form CG x SH equals kd_to_kc of the K_D basis, which satisfies eq. (12)."""
    pb = IrrepPairBasis(li, lo, [0.0, 1.0, 2.0], 0.6, FULL)
    x = torch.randn(30, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    x[0] = 0.0  # the origin: only J = 0 survives
    x[1] = torch.tensor([0.0, 0.0, -1.3], dtype=torch.float64)  # the south axis
    lifted = kd_to_kc(lambda r: pb.kd(r).movedim(-3, 0), one(li), one(lo))(x).movedim(0, -3)
    assert torch.allclose(lifted, pb(x), atol=1e-13)
    h = SO3.sample(8, seed=1, dtype=torch.float64)
    rz = torch.zeros(8, 3, 3, dtype=torch.float64)
    t = torch.rand(8, dtype=torch.float64) * 6
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = t.cos(), -t.sin(), t.sin(), t.cos(), 1
    for i in range(pb.size):
        kd_i = lambda r, i=i: pb.kd(r)[..., i, :, :]
        assert float(kd_residual(kd_i, one(li), one(lo), torch.tensor(1.3, dtype=torch.float64), rz)) < 1e-12
        assert float(kd_residual(kd_i, one(li), one(lo), torch.tensor(0.0, dtype=torch.float64), h)) < 1e-12


@pytest.mark.parametrize("li,lo", PAIRS)
def test_per_radius_dimension_matches_solve_kd(li, lo):
    """Off the origin K_D has dimension 2 min(l_in, l_out) + 1 (stabilizer SO(2)); at 0 it is delta."""
    pb = IrrepPairBasis(li, lo, [0.0, 1.0], 0.6, [0, 4])
    for r, expected in [(1.0, 2 * min(li, lo) + 1), (0.0, int(li == lo))]:
        num = solve_kd(one(li), one(lo), r)
        assert num.shape[0] == expected
        ours = pb.kd(torch.tensor(r, dtype=torch.float64))
        if expected == 0:
            assert ours.abs().max() == 0
            continue
        assert span_rank(ours) == expected
        assert span_rank(ours, num) == expected  # same span


@pytest.mark.parametrize("li,lo", PAIRS)
@pytest.mark.parametrize("L", [2, 4])
def test_angular_basis_spans_solve_kc_on_orbit(li, lo, L):
    """On a sphere of radius r, with real SH of degree <= L as orbit functions, the numerical null space
    of eq. (9) is spanned by our kernels with J <= L (one per allowed J)."""
    r = 1.7
    coeffs, num_kernel = solve_kc_on_orbit(one(li), one(lo), torch.tensor([0.0, 0.0, r], dtype=torch.float64),
                                           lambda p: real_sph_harm_xyz(L, p), n_samples=48)
    expected = len([J for J in range(abs(li - lo), li + lo + 1) if J <= L])
    assert coeffs.shape[0] == expected
    pb = IrrepPairBasis(li, lo, [r], 0.6, [L])
    assert pb.size == expected
    pts = r * torch.nn.functional.normalize(torch.randn(60, 3, dtype=torch.float64), dim=-1)
    ours = pb(pts).movedim(-3, 0)  # (n, P, C2, C1)
    theirs = num_kernel(pts).movedim(-3, 0)
    assert span_rank(ours) == expected
    assert span_rank(ours, theirs) == expected


def test_sampled_basis_is_exactly_cube_symmetric_and_matches_closed_form():
    ft_in, ft_out = r3_field_type((0, 1), (1, 2), (2, 1)), r3_field_type((2, 1), (0, 2), (1, 1))
    basis = R3KernelBasis(ft_in, ft_out, 5, dtype=torch.float64)
    off = kernel_offsets(5)
    for (lo, li, pb), samp in zip(basis.pairs, basis.samples):
        assert torch.allclose(samp, pb(off).permute(3, 4, 5, 0, 1, 2), atol=1e-14)
        norms = samp.flatten(1).norm(dim=1)
        assert torch.allclose(norms, torch.ones_like(norms))
    w = torch.randn(basis.num_weights, dtype=torch.float64)
    k = basis.expand(w, basis.samples, basis.out_perm, basis.in_perm)
    assert k.shape == (ft_out.dim, ft_in.dim, 5, 5, 5)
    # expanded kernel == continuous kernel at the grid points (channel permutations included)
    cont = basis(w, off).permute(3, 4, 0, 1, 2)
    assert torch.allclose(k, cont, atol=1e-13)


def test_counts_and_band_limit():
    basis = R3KernelBasis(r3_field_type((0, 1), (1, 1), (2, 1)), r3_field_type((0, 1), (1, 1), (2, 1)), 5,
                          frequencies_per_radius=2.0)
    assert basis.max_frequencies == [0, 2, 4]
    sizes = {(lo, li): pb.size for lo, li, pb in basis.pairs}
    # shell 0: J = 0 iff l_in == l_out; shells 1 (J <= 2) and 2 (J <= 4)
    assert sizes[(0, 0)] == 3 and sizes[(1, 1)] == 1 + 3 + 3 and sizes[(2, 2)] == 1 + 3 + 5
    assert sizes[(0, 2)] == 2 and sizes[(1, 2)] == 2 + 3
    default = R3KernelBasis(r3_field_type((2, 1)), r3_field_type((0, 1)), 5)
    assert default.max_frequencies == [0, 1, 2] and default.pairs[0][2].size == 1
    assert R3KernelBasis(r3_field_type((2, 1)), r3_field_type((0, 1)), 3).pairs[0][2].size == 0


def test_errors():
    from fiberconv.fields import sphere_field_type

    ft = r3_field_type((0, 1))
    with pytest.raises(ValueError, match="odd"):
        R3KernelBasis(ft, ft, 4)
    with pytest.raises(ValueError, match="R\\^3"):
        R3KernelBasis(sphere_field_type((0, 1)), ft, 3)
    with pytest.raises(TypeError, match="FieldType"):
        R3KernelBasis("scalar", ft, 3)
    with pytest.raises(ValueError, match="sigma"):
        R3KernelBasis(ft, ft, 3, sigma=-1.0)

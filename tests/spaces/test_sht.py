import math

import healpy as hp
import numpy as np
import pytest
import torch

from fiberconv.spaces.groups import SO3, rot_x, rot_y, rot_z
from fiberconv.spaces.harmonics import real_sph_harm
from fiberconv.spaces.healpix import HealpixGrid
from fiberconv.spaces.sht import HealpixSHT, healpy_to_real_alm, real_to_healpy_alm

NEST = [False, True]
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 1e-4, torch.float64: 1e-10}


def _coeffs(lmax, batch=(), seed=0, dtype=torch.float64, device=None):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(batch) + ((lmax + 1) ** 2,), generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)


def _rotated_points(grid, R):
    """``(theta, phi)`` of ``R^-1 x`` for every pixel centre ``x``."""
    y = grid.xyz() @ R  # rows (R^T x)^T
    return torch.acos(y[:, 2].clamp(-1, 1)), torch.atan2(y[:, 1], y[:, 0])


def _to_ring_np(grid, f):
    return f if not grid.nest else hp.reorder(f, n2r=True)


def _from_ring_np(grid, f):
    return f if not grid.nest else hp.reorder(f, r2n=True)


# -- construction and validation ---------------------------------------------------------------------
def test_construction_and_repr():
    g = HealpixGrid(4)
    s = HealpixSHT(g)
    assert s.lmax == 8 and s.num_coefficients == 81 and s.grid is g
    assert repr(s) == "HealpixSHT(HealpixGrid(nside=4, nest=False), lmax=8)"
    assert s.dtype == torch.float64 and s.device.type == "cpu"
    assert HealpixSHT(g, 0).num_coefficients == 1


@pytest.mark.parametrize("bad", [-1, 2.0, True])
def test_bad_lmax(bad):
    with pytest.raises((ValueError, TypeError), match="lmax"):
        HealpixSHT(HealpixGrid(2), bad)


def test_bad_inputs():
    s = HealpixSHT(HealpixGrid(2), 3)
    with pytest.raises(TypeError, match="HealpixGrid"):
        HealpixSHT("grid", 3)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 16\)"):
        s.synthesis(torch.zeros(2, 17, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 48\)"):
        s.analysis(torch.zeros(47, dtype=torch.float64))
    with pytest.raises(TypeError, match="float32 or float64"):
        s.synthesis(torch.zeros(16, dtype=torch.int64))
    with pytest.raises(ValueError, match="method"):
        s.analysis(torch.zeros(48, dtype=torch.float64), method="newton")
    with pytest.raises(ValueError, match="tol"):
        s.analysis(torch.zeros(48, dtype=torch.float64), tol=-1.0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        s.rotate(torch.zeros(48, dtype=torch.float64), torch.eye(2))
    with pytest.raises(TypeError, match="dtype"):
        HealpixSHT(HealpixGrid(2), 3, dtype=torch.float16)


# -- synthesis -------------------------------------------------------------------------------------
@pytest.mark.parametrize("nside,lmax", [(1, 0), (1, 2), (2, 5), (4, 8), (8, 20), (16, 24)])
@pytest.mark.parametrize("nest", NEST)
@pytest.mark.parametrize("dtype", DTYPES)
def test_synthesis_matches_direct_evaluation(nside, lmax, nest, dtype):
    g = HealpixGrid(nside, nest)
    s = HealpixSHT(g, lmax)
    c = _coeffs(lmax, (2,), dtype=dtype)
    f = s.synthesis(c)
    assert f.shape == (2, g.npix) and f.dtype == dtype
    t, p = g.angles()
    direct = c.double() @ real_sph_harm(lmax, t, p).T
    scale = direct.abs().max()
    assert (f.double() - direct).abs().max() <= (1e-12 if dtype == torch.float64 else 1e-5) * scale
    atol = (1e-12 if dtype == torch.float64 else 1e-4) * scale
    assert torch.allclose(s.evaluate(c, g.theta, g.phi).double(), direct, atol=atol)


@pytest.mark.parametrize("nside,lmax", [(1, 2), (4, 8), (8, 16), (16, 40)])
@pytest.mark.parametrize("nest", NEST)
def test_synthesis_matches_healpy(nside, lmax, nest):
    g = HealpixGrid(nside, nest)
    s = HealpixSHT(g, lmax)
    c = _coeffs(lmax, seed=1)
    expected = hp.alm2map(real_to_healpy_alm(c.numpy(), lmax), nside, lmax=lmax, pol=False)
    np.testing.assert_allclose(s.synthesis(c).numpy(), _from_ring_np(g, expected), atol=1e-12)


def test_healpy_alm_conversion():
    lmax = 6
    c = _coeffs(lmax, (3, 2), seed=2).numpy()
    alm = real_to_healpy_alm(c, lmax)
    assert alm.shape == (3, 2, hp.Alm.getsize(lmax)) and alm.dtype == np.complex128
    np.testing.assert_allclose(healpy_to_real_alm(alm, lmax), c, atol=1e-15)
    # Y_{1,1} = sqrt(3/4pi) x is healpy's a_{11} = -1/sqrt(2) (Condon-Shortley phase)
    e = np.zeros(16)
    e[3] = 1.0
    a = real_to_healpy_alm(e, 3)
    assert abs(a[hp.Alm.getidx(3, 1, 1)] - (-1 / math.sqrt(2))) < 1e-15
    x = np.stack(hp.pix2vec(2, np.arange(48)), -1)
    np.testing.assert_allclose(hp.alm2map(a, 2, lmax=3, pol=False), math.sqrt(3 / (4 * math.pi)) * x[:, 0], atol=1e-14)
    with pytest.raises(ValueError, match="expected coeffs"):
        real_to_healpy_alm(np.zeros(15), 3)
    with pytest.raises(ValueError, match="expected alm"):
        healpy_to_real_alm(np.zeros(11, dtype=complex), 3)


def test_evaluate_chunking_and_shapes():
    s = HealpixSHT(HealpixGrid(2), 5)
    c = _coeffs(5, (2, 3))
    theta = torch.rand(50, dtype=torch.float64) * math.pi
    phi = torch.rand(50, dtype=torch.float64) * 2 * math.pi
    full = s.evaluate(c, theta, phi)
    assert full.shape == (2, 3, 50)
    assert torch.allclose(s.evaluate(c, theta, phi, chunk_size=7), full, atol=1e-14)
    assert torch.allclose(full, c @ real_sph_harm(5, theta, phi).T, atol=1e-13)


# -- adjoint and analysis ----------------------------------------------------------------------------
@pytest.mark.parametrize("nside,lmax", [(1, 3), (4, 10), (8, 12)])
@pytest.mark.parametrize("nest", NEST)
@pytest.mark.filterwarnings("ignore:HealpixSHT. lmax = 3 is above")  # synthesis and adjoint stay exact there
def test_adjoint_is_the_transpose(nside, lmax, nest):
    g = HealpixGrid(nside, nest)
    s = HealpixSHT(g, lmax)
    a = _coeffs(lmax, (3,), seed=3)
    f = torch.randn(3, g.npix, dtype=torch.float64)
    lhs = (s.synthesis(a) * f).sum(-1)
    rhs = (a * s.adjoint(f)).sum(-1)
    assert torch.allclose(lhs, rhs, rtol=1e-12, atol=1e-11)
    t, p = g.angles()
    assert torch.allclose(s.adjoint(f), f @ real_sph_harm(lmax, t, p), atol=1e-11)


@pytest.mark.parametrize("nside", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("nest", NEST)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ratio", [1.0, 2.0])
def test_analysis_round_trip(nside, nest, dtype, ratio):
    lmax = int(ratio * nside)
    g = HealpixGrid(nside, nest)
    s = HealpixSHT(g, lmax)
    c = _coeffs(lmax, (2, 2), seed=4, dtype=dtype)
    a = s.analysis(s.synthesis(c))
    assert a.shape == c.shape and a.dtype == dtype
    assert (a - c).abs().max() < TOL[dtype] * c.abs().max()


def test_analysis_near_the_limit_and_quadrature_only():
    g = HealpixGrid(16)
    s = HealpixSHT(g, 40)  # 2.5 nside
    c = _coeffs(40, seed=5)
    f = s.synthesis(c)
    assert (s.analysis(f) - c).abs().max() < 1e-10
    quad = s.analysis(f, iterations=0)
    w = 4 * math.pi / g.npix
    assert torch.allclose(quad, w * s.adjoint(f), atol=1e-15)
    assert (quad - c).abs().max() > 1e-3  # the quadrature alone is not exact on HEALPix


@pytest.mark.parametrize("nside,lmax", [(2, 5), (4, 8), (8, 20)])
@pytest.mark.parametrize("iters", [0, 1, 3])
@pytest.mark.parametrize("nest", NEST)
def test_jacobi_analysis_matches_healpy_map2alm(nside, lmax, iters, nest):
    g = HealpixGrid(nside, nest)
    s = HealpixSHT(g, lmax)
    f = torch.randn(g.npix, dtype=torch.float64, generator=torch.Generator().manual_seed(6))  # not band-limited
    alm = hp.map2alm(_to_ring_np(g, f.numpy()), lmax=lmax, iter=iters, pol=False, use_weights=False)
    ours = s.analysis(f, iterations=iters, method="jacobi")
    np.testing.assert_allclose(ours.numpy(), healpy_to_real_alm(alm, lmax), atol=1e-13)


def test_cg_is_the_least_squares_fit():
    g = HealpixGrid(4)
    s = HealpixSHT(g, 8)
    f = torch.randn(g.npix, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    a = s.analysis(f)
    t, p = g.angles()
    Y = real_sph_harm(8, t, p)
    lstsq = torch.linalg.lstsq(Y, f.unsqueeze(-1)).solution.squeeze(-1)
    assert torch.allclose(a, lstsq, atol=1e-11)
    # the residual is orthogonal to the band-limited fields
    assert s.adjoint(f - s.synthesis(a)).abs().max() < 1e-11


def test_zero_field_and_batching():
    g = HealpixGrid(4, nest=True)
    s = HealpixSHT(g, 6)
    assert torch.equal(s.analysis(torch.zeros(2, g.npix, dtype=torch.float64)), torch.zeros(2, 49, dtype=torch.float64))
    c = _coeffs(6, (2, 3, 1), seed=8)
    f = s.synthesis(c)
    assert f.shape == (2, 3, 1, g.npix)
    assert torch.allclose(f[1, 2, 0], s.synthesis(c[1, 2, 0]), atol=1e-14)
    a = s.analysis(f, iterations=4, method="jacobi")
    assert torch.allclose(a[0, 1], s.analysis(f[0, 1], iterations=4, method="jacobi"), atol=1e-14)


def test_gradients():
    g = HealpixGrid(1)
    s = HealpixSHT(g, 2)
    c = _coeffs(2, (2,), seed=9).requires_grad_()
    assert torch.autograd.gradcheck(s.synthesis, (c,))
    f = torch.randn(2, g.npix, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: s.analysis(x, iterations=3, method="jacobi"), (f,))
    assert torch.autograd.gradcheck(lambda x: s.analysis(x, iterations=5), (f,))
    # the gradient of synthesis is the adjoint
    s8 = HealpixSHT(HealpixGrid(4, nest=True), 6)
    c8 = _coeffs(6, seed=10).requires_grad_()
    v = torch.randn(192, dtype=torch.float64)
    (s8.synthesis(c8) * v).sum().backward()
    assert torch.allclose(c8.grad, s8.adjoint(v), atol=1e-13)


# -- dtype / device ---------------------------------------------------------------------------------
def test_to_and_on_the_fly_conversion(device):
    g = HealpixGrid(4, nest=True)
    s64 = HealpixSHT(g, 8)
    s32 = s64.to(torch.float32, device)
    assert s32.dtype == torch.float32 and s32.device.type == device.type
    assert s64.dtype == torch.float64 and s64.device.type == "cpu"  # the original is untouched
    c = _coeffs(8, (2,), seed=11)
    ref = s64.synthesis(c)
    for sht in (s64, s32):
        for dtype in DTYPES:
            out = sht.synthesis(c.to(dtype=dtype, device=device))
            assert out.dtype == dtype and out.device.type == device.type
            assert (out.cpu().double() - ref).abs().max() < TOL[dtype] * ref.abs().max()
    # float64 input on a float32 transform keeps float64 accuracy (constants come from the float64 master)
    a = s32.analysis(ref.to(device))
    assert a.dtype == torch.float64 and (a.cpu() - c).abs().max() < 1e-10
    R = SO3.sample(seed=0, dtype=torch.float64)
    rot = s32.rotate(ref.to(device), R)
    assert rot.device.type == device.type and torch.allclose(rot.cpu(), s64.rotate(ref, R), atol=1e-10)


# -- rotation ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("nside,lmax", [(4, 8), (8, 16)])
@pytest.mark.parametrize("nest", NEST)
def test_rotate_matches_direct_evaluation(nside, lmax, nest):
    g = HealpixGrid(nside, nest)
    s = HealpixSHT(g, lmax)
    c = _coeffs(lmax, (2,), seed=12)
    R = SO3.sample(seed=3, dtype=torch.float64)
    out = s.rotate(s.synthesis(c), R)
    t, p = _rotated_points(g, R)
    assert (out - s.evaluate(c, t, p)).abs().max() < 1e-10 * c.abs().max()


@pytest.mark.parametrize("nest", NEST)
def test_rotate_matches_healpy_rotator(nest):
    nside, lmax = 8, 16
    g = HealpixGrid(nside, nest)
    s = HealpixSHT(g, lmax)
    c = _coeffs(lmax, seed=13)
    alm = real_to_healpy_alm(c.numpy(), lmax)
    psi, theta, phi = 0.4, 1.1, -2.3
    # healpy's Rotator(rot=(a, b, c), eulertype="ZYZ") turns the map by its matrix: g(x) = f(mat^T x)
    rot = hp.Rotator(rot=(psi, theta, phi), eulertype="ZYZ", deg=False)
    expected = hp.alm2map(rot.rotate_alm(alm), nside, lmax=lmax, pol=False)
    out = s.rotate(s.synthesis(c), torch.from_numpy(rot.mat))
    np.testing.assert_allclose(out.numpy(), _from_ring_np(g, expected), atol=1e-10)
    # healpy.rotate_alm(alm, psi, theta, phi) applies the active rotation Z(phi) Y(theta) Z(psi)
    alm2 = alm.copy()
    hp.rotate_alm(alm2, psi, theta, phi)
    expected2 = hp.alm2map(alm2, nside, lmax=lmax, pol=False)
    T = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    R = SO3.from_euler(T(phi), T(theta), T(psi))
    np.testing.assert_allclose(s.rotate(s.synthesis(c), R).numpy(), _from_ring_np(g, expected2), atol=1e-10)


def test_rotate_composition_and_batching():
    g = HealpixGrid(8, nest=True)
    s = HealpixSHT(g, 12)
    c = _coeffs(12, (3,), seed=14)
    f = s.synthesis(c)
    R1, R2 = SO3.sample((2,), seed=5, dtype=torch.float64)
    two_steps = s.rotate(s.rotate(f, R1), R2)
    assert (two_steps - s.rotate(f, R2 @ R1)).abs().max() < 1e-10
    assert (two_steps - s.rotate(f, R1 @ R2)).abs().max() > 1e-3  # the order matters
    # batched rotations broadcast against the leading dims of f
    Rs = SO3.sample((3,), seed=6, dtype=torch.float64)
    batched = s.rotate(f, Rs)
    assert torch.allclose(batched[1], s.rotate(f[1], Rs[1]), atol=1e-12)
    assert s.rotate(f[None], Rs[:, None]).shape == (3, 3, g.npix)
    # the identity
    assert (s.rotate(f, torch.eye(3, dtype=torch.float64)) - f).abs().max() < 1e-10


@pytest.mark.parametrize("nside", [1, 2, 4, 8])
@pytest.mark.parametrize("nest", NEST)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rotate_by_grid_symmetries_is_a_permutation(nside, nest, dtype):
    g = HealpixGrid(nside, nest)
    lmax = 2 * nside
    s = HealpixSHT(g, lmax)
    f_band = s.synthesis(_coeffs(lmax, (2,), seed=15, dtype=dtype))
    f_rand = torch.randn(2, g.npix, dtype=torch.float64, generator=torch.Generator().manual_seed(16)).to(dtype)
    fit = s.rotate(f_rand, torch.eye(3, dtype=dtype))  # the band-limited least-squares fit
    for R in g.symmetries(dtype):
        perm = g.symmetry_permutation(R)
        out = s.rotate(f_band, R)
        # [rotate(f, R)](R x_i) = f(x_i), i.e. out[perm] = f
        assert (out[..., perm] - f_band).abs().max() < TOL[dtype] * f_band.abs().max()
        # for any field the rotated least-squares fit is the permuted fit
        assert (s.rotate(f_rand, R)[..., perm] - fit).abs().max() < TOL[dtype] * fit.abs().max()


def test_rotate_about_axes_moves_points_the_right_way():
    g = HealpixGrid(8)
    s = HealpixSHT(g, 1)
    # f = z (degree 1: sqrt(3/4pi) z is Y_{1,0}); rotating by Y(pi/2) moves the north pole to +x
    c = torch.zeros(4, dtype=torch.float64)
    c[2] = math.sqrt(4 * math.pi / 3)
    f = s.synthesis(c)
    assert torch.allclose(f, g.xyz()[:, 2], atol=1e-13)
    quarter = torch.tensor(math.pi / 2, dtype=torch.float64)
    assert torch.allclose(s.rotate(f, rot_y(quarter)), g.xyz()[:, 0], atol=1e-12)
    assert torch.allclose(s.rotate(f, rot_x(quarter)), -g.xyz()[:, 1], atol=1e-12)
    assert torch.allclose(s.rotate(f, rot_z(quarter)), f, atol=1e-12)


def test_lmax_above_healpix_limit_warns():
    """Issue 14: HealpixSHT(HealpixGrid(4), lmax=64) was accepted silently; its round trip was off by 2.6e4.
    Synthesis stays exact there (tested above at nside 1, lmax 3), so it warns with the accurate range."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HealpixSHT(HealpixGrid(4), 11)
    with pytest.warns(UserWarning, match=r"lmax = 64 is above 3 nside - 1 = 11 .*lmax <= 11.*nside >= 32"):
        HealpixSHT(HealpixGrid(4), lmax=64)

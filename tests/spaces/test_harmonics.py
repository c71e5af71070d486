"""Real spherical harmonics: orthonormality, closed forms, and scipy as an independent reference."""
import math

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from fiberconv.spaces.harmonics import legendre_normalized, lm_index, real_sph_harm, real_sph_harm_xyz


def test_orthonormal_under_exact_quadrature():
    L = 20
    x, w = np.polynomial.legendre.leggauss(L + 2)
    nphi = 2 * L + 3
    theta = torch.from_numpy(np.arccos(x))
    phi = torch.arange(nphi, dtype=torch.float64) * 2 * math.pi / nphi
    T, P = torch.meshgrid(theta, phi, indexing="ij")
    Y = real_sph_harm(L, T, P).reshape(-1, (L + 1) ** 2)
    W = (torch.from_numpy(w)[:, None] * torch.full((1, nphi), 2 * math.pi / nphi, dtype=torch.float64)).reshape(-1)
    gram = Y.T @ (W[:, None] * Y)
    assert (gram - torch.eye((L + 1) ** 2, dtype=torch.float64)).abs().max() < 1e-12


def test_matches_scipy_complex_harmonics():
    """Y_{l,m} = sqrt(2) (-1)^m Re Y_l^m, Y_{l,-m} = sqrt(2) (-1)^m Im Y_l^m (scipy includes Condon-Shortley)."""
    L = 12
    gen = torch.Generator().manual_seed(0)
    theta = torch.rand(200, generator=gen, dtype=torch.float64) * math.pi
    phi = (torch.rand(200, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
    Y = real_sph_harm(L, theta, phi).numpy()
    for l in range(L + 1):
        for m in range(0, l + 1):
            c = sph_harm_y(l, m, theta.numpy(), phi.numpy())
            if m == 0:
                np.testing.assert_allclose(Y[:, lm_index(l, 0)], c.real, atol=1e-12)
            else:
                np.testing.assert_allclose(Y[:, lm_index(l, m)], math.sqrt(2) * (-1) ** m * c.real, atol=1e-12)
                np.testing.assert_allclose(Y[:, lm_index(l, -m)], math.sqrt(2) * (-1) ** m * c.imag, atol=1e-12)


def test_degree_one_is_y_z_x():
    v = torch.nn.functional.normalize(torch.randn(30, 3, dtype=torch.float64), dim=-1)
    Y1 = real_sph_harm_xyz(1, v)[:, 1:4] / math.sqrt(3 / (4 * math.pi))
    assert (Y1 - v[:, [1, 2, 0]]).abs().max() < 1e-14


def test_legendre_high_degree_is_finite_and_normalised():
    L = 200
    x, w = np.polynomial.legendre.leggauss(L + 1)
    P = legendre_normalized(L, torch.from_numpy(x))
    assert torch.isfinite(P).all()
    norms = (torch.from_numpy(w)[:, None, None] * P**2).sum(0) * 2 * math.pi  # for m > 0 the sqrt(2) is absent
    mask = torch.tril(torch.ones(L + 1, L + 1, dtype=torch.bool))
    assert (norms[mask] - 1).abs().max() < 1e-10


def test_bad_input():
    with pytest.raises(ValueError, match="lmax"):
        real_sph_harm(-1, torch.zeros(1), torch.zeros(1))
    with pytest.raises(ValueError, match=r"\|m\| <= l"):
        lm_index(1, 2)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        real_sph_harm_xyz(2, torch.zeros(4, 2))


def test_real_sph_harm_xyz_gradients_at_the_poles():
    """Issue 14: acos/atan2 gave NaN gradients at (0, 0, +-1); the polynomial form is smooth there."""
    from fiberconv.spaces.harmonics import real_sph_harm, real_sph_harm_xyz

    p = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [0.3, -0.2, 0.9]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: real_sph_harm_xyz(5, p), (p,))
    # closed form for l = 1: Y_1 = sqrt(3 / 4 pi) (y, z, x) of u = p / |p|, du/dp = (I - u u^T) / |p|
    y1 = real_sph_harm_xyz(1, p[:2])[:, 1:]
    jac = torch.autograd.grad(y1[0, 0], p)[0][0]  # d Y_{1,-1} / dp at the north pole = c e_y
    assert torch.allclose(jac, torch.tensor([0.0, (3 / (4 * torch.pi)) ** 0.5, 0.0], dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    v = torch.randn(2, 30, 3, generator=g, dtype=torch.float64)
    u = v / v.norm(dim=-1, keepdim=True)
    ref = real_sph_harm(6, torch.acos(u[..., 2]), torch.atan2(u[..., 1], u[..., 0]))
    assert torch.allclose(real_sph_harm_xyz(6, v), ref, atol=1e-13)

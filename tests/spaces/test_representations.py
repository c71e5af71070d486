"""Homomorphism and orthogonality of the representations; the band-limited regular representation."""
import math

import pytest
import torch

from fiberconv.spaces.groups import SO2, SO3
from fiberconv.spaces.representations import DirectSum, SO2Irrep, SO2Regular, SO3Irrep, TensorProduct, Trivial

SO2_REPS = [
    SO2Irrep(0), SO2Irrep(1), SO2Irrep(3), SO2Regular(3), SO2Irrep(0) + SO2Irrep(2) * 2, TensorProduct(SO2Irrep(1), SO2Irrep(2))
]


def close(a, b, tol=1e-12):
    return (a - b).abs().max().item() < tol


@pytest.mark.parametrize("rho", SO2_REPS, ids=repr)
def test_so2_homomorphism_and_orthogonality(rho):
    a, b = SO2.sample(50, seed=1, dtype=torch.float64), SO2.sample(50, seed=2, dtype=torch.float64)
    assert rho(a).shape == (50, rho.dim, rho.dim)
    assert close(rho(a @ b), rho(a) @ rho(b))
    assert close(rho(a) @ rho(a).transpose(-1, -2), torch.eye(rho.dim, dtype=torch.float64).expand(50, -1, -1))
    assert close(rho(SO2.inverse(a)), rho(a).transpose(-1, -2))
    assert close(rho.of_angle(SO2.angle(a)), rho(a))


def test_so2_irrep_closed_form():
    t = torch.tensor(0.7, dtype=torch.float64)
    m = SO2Irrep(3).of_angle(t)
    assert close(m, torch.tensor([[math.cos(2.1), -math.sin(2.1)], [math.sin(2.1), math.cos(2.1)]], dtype=torch.float64))
    assert SO2Irrep(0).of_angle(t).item() == 1.0


def test_regular_representation_shifts_samples():
    """Sampled at N = 2M+1 angles, rho(Z(2 pi j / N)) acts as a cyclic shift: f(t - u)."""
    M = 3
    rho = SO2Regular(M)
    A = rho.sampling_matrix(dtype=torch.float64)
    n = 2 * M + 1
    c = torch.randn(rho.dim, dtype=torch.float64)
    for j in range(n):
        shifted = A @ rho.of_angle(torch.tensor(2 * math.pi * j / n, dtype=torch.float64)) @ c
        assert close(shifted, torch.roll(A @ c, j))
    with pytest.raises(ValueError, match="n >= 7"):
        rho.sampling_matrix(5)


def test_so3_irrep_homomorphism():
    a, b = SO3.sample(20, seed=1, dtype=torch.float64), SO3.sample(20, seed=2, dtype=torch.float64)
    for l in range(4):
        rho = SO3Irrep(l)
        assert close(rho(a @ b), rho(a) @ rho(b), 1e-10)


def test_direct_sum_flattens_and_checks_group():
    rho = DirectSum([SO2Irrep(1), DirectSum([SO2Irrep(0), SO2Irrep(2)])])
    assert rho.dim == 5 and [r.m for r in rho.irreps] == [1, 0, 2]
    with pytest.raises(ValueError, match="one group"):
        SO2Irrep(1) + SO3Irrep(1)
    assert Trivial(SO3, 2)(SO3.sample(3, seed=0)).shape == (3, 2, 2)


def test_bad_parameters():
    with pytest.raises(ValueError, match="non-negative int"):
        SO2Irrep(-1)
    with pytest.raises(ValueError, match="non-negative int"):
        SO3Irrep(1.5)
    with pytest.raises(ValueError, match="SO\\(2\\) elements"):
        SO2Irrep(1)(torch.eye(3))

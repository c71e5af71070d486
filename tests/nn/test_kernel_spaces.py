"""Theorems 3.2-3.4: the kernel spaces K_G, K_C, K_D on S^2, the maps between them, and the analytic
basis of K_C against the numerical null space of the constraint."""
import math

import pytest
import torch

from fiberconv.fields import sphere_field_type
from fiberconv.nn import (
    SphereKernelBasis,
    kc_residual,
    kc_to_kd,
    kc_to_kg,
    kd_residual,
    kd_to_kc,
    kg_residual,
    kg_to_kc,
    solve_kc_on_orbit,
    solve_kd,
    span_rank,
)
from fiberconv.spaces import SO2, SO3, Sphere

IN = sphere_field_type((0, 1), (1, 2), (2, 1))
OUT = sphere_field_type((1, 1), (0, 2), (2, 1), (3, 1))


def points_in_cap(n, beta_max, seed=0):
    gen = torch.Generator().manual_seed(seed)
    alpha = torch.rand(n, dtype=torch.float64, generator=gen) * 2 * math.pi
    beta = torch.rand(n, dtype=torch.float64, generator=gen) * beta_max
    return Sphere.from_angles(alpha, beta)


@pytest.fixture(scope="module")
def kernel():
    basis = SphereKernelBasis(IN, OUT, radius=0.6, n_rings=3)
    w = torch.randn(basis.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    return basis, (lambda x: basis.kappa_c(w, x)), (lambda b: basis.kappa_d(w, b))


def test_kc_constraint(kernel):
    """kappa(h2 x) = rho2(h2) kappa(x) rho1(h1(x, h2))^-1 (eq. 9)."""
    _, kc, _ = kernel
    x = points_in_cap(200, 0.7)
    h = SO2.sample(200, seed=2, dtype=torch.float64)
    assert kc_residual(kc, IN, OUT, x, h) < 1e-12
    assert kc(x).abs().max() > 0.1  # not trivially zero


def test_kg_constraint_and_roundtrip(kernel):
    """The lifted kernel (eq. 10) is bi-equivariant (eq. 8); K_G -> K_C -> K_G is the identity."""
    _, kc, _ = kernel
    kg = kc_to_kg(kc, IN, OUT)
    g = SO3.sample(100, seed=3, dtype=torch.float64)
    h1, h2 = SO2.sample(100, seed=4, dtype=torch.float64), SO2.sample(100, seed=5, dtype=torch.float64)
    assert kg_residual(kg, IN, OUT, g, h1, h2) < 1e-12
    x = points_in_cap(100, 0.7, seed=6)
    assert (kg_to_kc(kg, IN, OUT)(x) - kc(x)).abs().max() < 1e-13
    kg2 = kc_to_kg(kg_to_kc(kg, IN, OUT), IN, OUT)
    assert (kg2(g) - kg(g)).abs().max() < 1e-12


def test_kd_constraint_and_roundtrips(kernel):
    """K_C -> K_D -> K_C is the identity; K_D satisfies eq. (12) at the poles, where the stabilizer is H."""
    basis, kc, kd = kernel
    x = points_in_cap(100, 0.7, seed=7)
    assert (kd_to_kc(kc_to_kd(kc, IN, OUT), IN, OUT)(x) - kc(x)).abs().max() < 1e-12
    beta = torch.rand(50, dtype=torch.float64) * 0.7
    assert (kc_to_kd(kd_to_kc(kd, IN, OUT), IN, OUT)(beta) - kd(beta)).abs().max() < 1e-12
    h = SO2.sample(30, seed=8, dtype=torch.float64)
    zero = torch.zeros(30, dtype=torch.float64)
    assert kd_residual(kd, IN, OUT, zero, h) < 1e-12
    assert kd(zero).abs().max() > 0.1


def test_kernel_is_continuous_at_the_pole(kernel):
    """Read in a frame that does not turn with alpha, kappa(alpha, eps) -> kappa_D(0) as eps -> 0."""
    basis, kc, kd = kernel
    alpha = torch.linspace(0, 6, 13, dtype=torch.float64)
    errs = []
    for eps in (1e-2, 1e-3, 1e-4):
        k = kc(Sphere.from_angles(alpha, torch.full_like(alpha, eps))) @ IN.rho(SO2.from_angle(-alpha))
        errs.append(float((k - kd(torch.zeros((), dtype=torch.float64))).abs().max()))
    assert errs[2] < 1e-3 and errs[2] < errs[1] < errs[0]


def ring_functions(n_freq):
    def psi(x):
        a = torch.atan2(x[..., 1], x[..., 0])
        return torch.stack([torch.ones_like(a)] + [f(n * a) for n in range(1, n_freq + 1) for f in (torch.cos, torch.sin)], -1)

    return psi


@pytest.mark.parametrize("m1,m2", [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (2, 2), (0, 3), (3, 1)])
def test_analytic_basis_spans_the_numerical_null_space(m1, m2):
    """Per ring: the analytic K_C basis restricted to the orbit spans exactly the null space of the sampled
    eq. (9); at the pole, the basis values span exactly the null space of eq. (12). Dimensions: d1 d2 off
    the poles, dim Hom_H(rho1, rho2) at them."""
    fi, fo = sphere_field_type((m1, 1)), sphere_field_type((m2, 1))
    basis = SphereKernelBasis(fi, fo, radius=0.9, n_rings=3)
    for j in (1, 2):
        beta = j * basis.width
        x0 = Sphere.from_angles(torch.tensor(0.3, dtype=torch.float64), torch.tensor(beta, dtype=torch.float64))
        coeffs, numeric = solve_kc_on_orbit(fi, fo, x0, ring_functions(m1 + m2 + 2), n_samples=48, seed=j)
        assert coeffs.shape[0] == fi.dim * fo.dim
        ring = Sphere.from_angles(torch.linspace(0, 6.2, 17, dtype=torch.float64), torch.full((17,), beta, dtype=torch.float64))
        analytic = basis.basis(ring).transpose(0, 1)  # (dim, 17, C2, C1)
        num = numeric(ring).transpose(0, 1)
        r = span_rank(analytic)
        assert r == coeffs.shape[0] == span_rank(analytic, num)
    pole = basis.kappa_d(torch.eye(basis.dim, dtype=torch.float64), torch.zeros(basis.dim, dtype=torch.float64))
    null = solve_kd(fi, fo, 0.0)
    expected = {(0, 0): 1}.get((m1, m2), 2 if m1 == m2 else 0)
    assert null.shape[0] == expected == span_rank(pole)
    if expected:
        assert span_rank(pole, null) == expected
    assert solve_kd(fi, fo, 0.4).shape[0] == fi.dim * fo.dim


def test_south_pole_stabilizer():
    """At beta = pi, rho1^x(Z(t)) = rho1(Z(-t)) (eq. 13): the intertwiners of rho1(-t) and rho2(t)."""
    for (m1, m2), dim in {(1, 1): 2, (0, 0): 1, (1, 2): 0, (2, 2): 2}.items():
        assert solve_kd(sphere_field_type((m1, 1)), sphere_field_type((m2, 1)), math.pi).shape[0] == dim


def test_basis_dimension_count():
    basis = SphereKernelBasis(sphere_field_type((0, 2), (1, 3)), sphere_field_type((1, 1), (0, 1)), radius=0.5, n_rings=4)
    # pairs (out m2, in m1): (0,0): 1*2*(1 + 3) ; (0,1): 1*3*(2*3) ; (1,0): 1*2*(2*3) ; (1,1): 1*3*(2 + 4*3)
    assert basis.dim == 8 + 18 + 12 + 42


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"radius must lie in \(0, pi\)"):
        SphereKernelBasis(IN, OUT, radius=4.0)
    with pytest.raises(ValueError, match="n_rings"):
        SphereKernelBasis(IN, OUT, radius=0.3, n_rings=0)
    from fiberconv.bundles import r3_bundle
    from fiberconv.fields import FieldType
    from fiberconv.spaces import SO3Irrep

    with pytest.raises(TypeError, match="S\\^2"):
        SphereKernelBasis(FieldType(r3_bundle(), [SO3Irrep(1)]), OUT, radius=0.3)

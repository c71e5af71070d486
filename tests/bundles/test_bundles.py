"""Identities of Sec. 2.2: sections, the cocycle and the decomposition g = s(gH) h(g)."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fiberconv.bundles import AssociatedBundle, PrincipalBundle, r3_bundle, sphere_bundle
from fiberconv.spaces.groups import SE3, SO2, SO3, rot_y, rot_z
from fiberconv.spaces.homogeneous import EuclideanR3, Sphere
from fiberconv.spaces.representations import SO2Irrep, SO3Irrep

seeds = st.integers(min_value=0, max_value=2**31 - 1)
BUNDLES = {"sphere": sphere_bundle, "r3": r3_bundle}


def random_points(bundle, n, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, dtype=torch.float64, generator=gen)
    return torch.nn.functional.normalize(x, dim=-1) if isinstance(bundle.space, Sphere) else x


def close(a, b, tol=1e-10):
    return (a - b).abs().max().item() < tol


@pytest.mark.parametrize("name", BUNDLES)
@settings(max_examples=30, deadline=None)
@given(seed=seeds)
def test_cocycle_condition(name, seed):
    """h(x, g1 g2) = h(g2 x, g1) h(x, g2)."""
    B = BUNDLES[name]()
    G, H = B.group, B.stabilizer
    x = random_points(B, 32, seed)
    g1, g2 = G.sample(32, seed=seed + 1, dtype=torch.float64), G.sample(32, seed=seed + 2, dtype=torch.float64)
    lhs = B.cocycle(x, G.compose(g1, g2))
    rhs = H.compose(B.cocycle(G.act(g2, x), g1), B.cocycle(x, g2))
    assert close(lhs, rhs, 1e-9)


@pytest.mark.parametrize("name", BUNDLES)
@settings(max_examples=20, deadline=None)
@given(seed=seeds)
def test_cocycle_lies_in_H_and_defines_the_twist(name, seed):
    """g s(x) = s(gx) h(x, g), with h(x, g) fixing the origin."""
    B = BUNDLES[name]()
    G = B.group
    x = random_points(B, 32, seed)
    g = G.sample(32, seed=seed + 1, dtype=torch.float64)
    h = B.cocycle(x, g)
    B.stabilizer.check(h)
    hg = B.space.embed(h)
    assert close(G.act(hg, B.space.origin(torch.float64)), B.space.origin(torch.float64).expand(32, 3))
    assert close(G.compose(g, B.section(x)), G.compose(B.section(G.act(g, x)), hg))


@pytest.mark.parametrize("name", BUNDLES)
def test_section_and_projection(name):
    B = BUNDLES[name]()
    x = random_points(B, 64, 0)
    assert close(B.projection(B.section(x)), x)
    g = B.group.sample(64, seed=1, dtype=torch.float64)
    xs, h = B.decompose(g)
    assert close(B.compose_from(xs, h), g)  # g = s(gH) h(g)
    # h(g k) = h(g) k for k in H: h is H-equivariant on the right
    k = B.stabilizer.sample(64, seed=2, dtype=torch.float64)
    assert close(B.h(B.group.compose(g, B.space.embed(k))), B.stabilizer.compose(h, k))


def test_sphere_section_is_ZY_and_frames_point_south_east():
    B = sphere_bundle()
    alpha = torch.tensor([0.3, -2.0, 1.0], dtype=torch.float64)
    beta = torch.tensor([0.5, 2.5, 1.5], dtype=torch.float64)
    x = Sphere.from_angles(alpha, beta)
    s = B.section(x)
    assert close(s, rot_z(alpha) @ rot_y(beta))
    e_theta = torch.stack([torch.cos(beta) * torch.cos(alpha), torch.cos(beta) * torch.sin(alpha), -torch.sin(beta)], -1)
    e_phi = torch.stack([-torch.sin(alpha), torch.cos(alpha), torch.zeros_like(alpha)], -1)
    assert close(s[..., 0], e_theta) and close(s[..., 1], e_phi)


def test_sphere_cocycle_of_z_rotations_is_trivial():
    B = sphere_bundle()
    x = random_points(B, 50, 3)
    g = rot_z(torch.rand(50, dtype=torch.float64) * 6)
    assert close(B.cocycle(x, g), SO2.identity(50, dtype=torch.float64))


def test_r3_cocycle_is_the_rotation_part():
    B = r3_bundle()
    x = random_points(B, 50, 3)
    g = SE3.sample(50, seed=4, dtype=torch.float64)
    assert close(B.cocycle(x, g), SE3.rotation(g))


def test_sphere_section_undefined_at_the_poles():
    B = sphere_bundle()
    assert "poles" in B.section_map.undefined_on
    x = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]], dtype=torch.float64)
    assert B.section_map.defined(x).tolist() == [False, True, False]
    with pytest.raises(ValueError, match="undefined at the poles"):
        B.section(x)
    assert B.section(x, strict=False).shape == (3, 3, 3)


def test_associated_bundle_transport_composes():
    B = sphere_bundle()
    A = AssociatedBundle(B, SO2Irrep(2))
    x = random_points(B, 20, 5)
    g1, g2 = SO3.sample(20, seed=6, dtype=torch.float64), SO3.sample(20, seed=7, dtype=torch.float64)
    assert close(A.transport(x, g1 @ g2), A.transport(SO3.act(g2, x), g1) @ A.transport(x, g2))
    with pytest.raises(ValueError, match="fibre group"):
        AssociatedBundle(B, SO3Irrep(1))


def test_bad_input():
    B = sphere_bundle()
    with pytest.raises(ValueError, match=r"points of S\^2"):
        B.cocycle(torch.zeros(3, 2), torch.eye(3))
    with pytest.raises(ValueError, match="not in the stabilizer"):
        Sphere().to_stabilizer(rot_y(torch.tensor(0.5, dtype=torch.float64)))
    with pytest.raises(ValueError, match="not in the stabilizer"):
        EuclideanR3().to_stabilizer(SE3.exp(torch.tensor([1.0, 0, 0, 0, 0, 0], dtype=torch.float64)))
    with pytest.raises(TypeError, match="HomogeneousSpace"):
        PrincipalBundle("sphere")
    assert math.isclose(float(Sphere().stabilizer_angle(rot_z(torch.tensor(0.25, dtype=torch.float64)))), 0.25)

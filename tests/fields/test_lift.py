"""The lifting Lambda (eq. 2), its inverse, and the Mackey condition (eq. 1)."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fiberconv.bundles import sphere_bundle
from fiberconv.fields import FibredSampling, lift, lift_function, lift_inverse, mackey_defect, sphere_field_type
from fiberconv.spaces.groups import SO2, SO3
from fiberconv.spaces.healpix import HealpixGrid

from .helpers import ambient_field, frames_of, mackey_from_ambient

TYPES = {
    "scalar": ((0, 1),),
    "vector": ((1, 1),),
    "mixed": ((0, 3), (1, 2), (2, 1)),
}


def local_section(ft, grid, seed=0, dtype=torch.float64):
    """f(x_i) in the section frame, from analytic ambient tensors."""
    from fiberconv.fields.tangent import from_ambient

    x = grid.xyz(dtype=dtype)
    frames = frames_of(ft.bundle.section(x))
    t = ambient_field(ft, x, seed)
    return from_ambient(ft, t.unsqueeze(0), frames)


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("nest", [False, True])
def test_lift_is_a_mackey_function_and_inverts(kind, nest):
    ft = sphere_field_type(*TYPES[kind])
    grid = HealpixGrid(4, nest=nest)
    sampling = FibredSampling(grid, ft.bundle, 6)
    f = torch.cat([local_section(ft, grid, s) for s in range(2)])  # (2, C, N)
    F = lift(ft, f, sampling)
    assert F.shape == (2, ft.dim, grid.npix, 6)
    assert mackey_defect(ft, F, sampling) < 1e-13
    assert (lift_inverse(ft, F, sampling) - f).abs().max() < 1e-14  # Lambda^-1 Lambda = id


@pytest.mark.parametrize("kind", TYPES)
def test_lift_of_inverse_is_identity_on_mackey_functions(kind):
    """A Mackey function built from ambient tensors and group frames, with no section involved."""
    ft = sphere_field_type(*TYPES[kind])
    grid = HealpixGrid(4)
    sampling = FibredSampling(grid, ft.bundle, 5)
    g = sampling.elements(dtype=torch.float64)
    F = mackey_from_ambient(ft, lambda x: ambient_field(ft, x, 3), g).unsqueeze(0)
    assert mackey_defect(ft, F, sampling) < 1e-13
    assert (lift(ft, lift_inverse(ft, F, sampling), sampling) - F).abs().max() < 1e-13  # Lambda Lambda^-1 = id


def test_mackey_defect_detects_non_mackey_functions():
    ft = sphere_field_type((1, 1))
    sampling = FibredSampling(HealpixGrid(2), ft.bundle, 4)
    F = torch.randn(1, 2, 48, 4, dtype=torch.float64)
    assert mackey_defect(ft, F, sampling) > 0.1


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_mackey_condition_at_arbitrary_group_elements(seed):
    """F(g h) = rho(h)^-1 F(g) for F = Lambda f, any g in SO(3) and h in SO(2)."""
    ft = sphere_field_type((0, 1), (1, 1), (2, 1), (3, 1))
    B = ft.bundle

    def f(x):  # any function of the point (values in the section frame)
        return torch.cat(
            [torch.sin(3 * x[..., :1]), torch.cos(x[..., :1] * x[..., 1:2]) * x[..., :2], x[..., 1:], x[..., :2] ** 2], dim=-1
        )

    g = SO3.sample(40, seed=seed, dtype=torch.float64)
    h = SO2.sample(40, seed=seed + 1, dtype=torch.float64)
    lhs = lift_function(ft, f, g @ B.space.embed(h))
    rhs = (ft.rho(SO2.inverse(h)) @ lift_function(ft, f, g).unsqueeze(-1)).squeeze(-1)
    assert (lhs - rhs).abs().max() < 1e-12


def test_scalar_lift_is_constant_on_fibres():
    ft = sphere_field_type((0, 2))
    grid = HealpixGrid(2)
    f = torch.randn(3, 2, grid.npix, dtype=torch.float64)
    F = lift(ft, f, FibredSampling(grid, ft.bundle, 7))
    assert (F - f.unsqueeze(-1)).abs().max() == 0


def test_bad_input_is_refused():
    ft = sphere_field_type((0, 1), (1, 1))
    grid = HealpixGrid(2)
    sampling = FibredSampling(grid, ft.bundle, 3)
    with pytest.raises(ValueError, match=r"shape \(batch, 3, 48\) for FieldType\(S\^2: SO2Irrep\(0\) \+ SO2Irrep\(1\)\)"):
        lift(ft, torch.zeros(1, 2, 48), sampling)
    with pytest.raises(ValueError, match=r"\(batch, 3, 48, 3\)"):
        lift_inverse(ft, torch.zeros(1, 3, 48), sampling)
    with pytest.raises(TypeError, match="floating"):
        lift(ft, torch.zeros(1, 3, 48, dtype=torch.long), sampling)
    with pytest.raises(ValueError, match="positive int"):
        FibredSampling(grid, sphere_bundle(), 0)

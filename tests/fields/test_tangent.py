"""Frame components <-> ambient tensors, and (u, v) wind components."""
import math

import pytest
import torch

from fiberconv.bundles import sphere_bundle
from fiberconv.fields import sphere_field_type
from fiberconv.fields.tangent import (
    ambient_to_tangent,
    from_ambient,
    tangent_to_ambient,
    tangent_to_wind,
    to_ambient,
    wind_to_tangent,
)
from fiberconv.spaces.homogeneous import Sphere
from fiberconv.spaces.representations import SO2Irrep


def frames_at(x):
    return sphere_bundle().section(x)[..., :, :2].transpose(-1, -2)


def test_tangent_roundtrip_and_tangency():
    x = torch.nn.functional.normalize(torch.randn(100, 3, dtype=torch.float64), dim=-1)
    v = torch.randn(100, 2, dtype=torch.float64)
    amb = tangent_to_ambient(v, frames_at(x))
    assert (amb * x).sum(-1).abs().max() < 1e-14  # tangent to the sphere
    assert (ambient_to_tangent(amb, frames_at(x)) - v).abs().max() < 1e-14


@pytest.mark.parametrize("m", [0, 1, 2, 3])
def test_ambient_tensor_is_frame_independent(m):
    """Components (a, b) in the frame turned by t are rho_m(-t)(a, b); both give the same tensor."""
    ft = sphere_field_type((m, 1))
    x = torch.nn.functional.normalize(torch.randn(30, 3, dtype=torch.float64), dim=-1)
    s = sphere_bundle().section(x)
    t = torch.rand(30, dtype=torch.float64) * 6
    turned = s @ Sphere().embed_angle(t)
    f = torch.randn(1, ft.dim, 30, dtype=torch.float64)
    f_turned = torch.einsum("ncd,bdn->bcn", SO2Irrep(m).of_angle(-t), f)
    T1 = to_ambient(ft, f, s[..., :2].transpose(-1, -2))
    T2 = to_ambient(ft, f_turned, turned[..., :2].transpose(-1, -2))
    assert (T1 - T2).abs().max() < 1e-13
    assert (from_ambient(ft, T1, s[..., :2].transpose(-1, -2)) - f).abs().max() < 1e-13


def test_wind_components():
    """At (lon 0, lat 0): a northward wind is +e_z, an eastward wind is +e_y."""
    x = Sphere.from_angles(torch.tensor([0.0], dtype=torch.float64), torch.tensor([math.pi / 2], dtype=torch.float64))
    fr = frames_at(x)
    north = tangent_to_ambient(wind_to_tangent(torch.tensor([0.0]).double(), torch.tensor([1.0]).double()), fr)
    east = tangent_to_ambient(wind_to_tangent(torch.tensor([1.0]).double(), torch.tensor([0.0]).double()), fr)
    assert torch.allclose(north, torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64), atol=1e-15)
    assert torch.allclose(east, torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), atol=1e-15)
    u, v = torch.randn(10, dtype=torch.float64), torch.randn(10, dtype=torch.float64)
    u2, v2 = tangent_to_wind(wind_to_tangent(u, v))
    assert torch.equal(u, u2) and torch.equal(v, v2)


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        tangent_to_ambient(torch.zeros(3, 3), torch.zeros(3, 2, 3))
    from fiberconv.bundles import r3_bundle
    from fiberconv.fields import FieldType
    from fiberconv.spaces.representations import SO3Irrep

    with pytest.raises(TypeError, match="SO\\(2\\) irreps"):
        to_ambient(FieldType(r3_bundle(), [SO3Irrep(1)]), torch.zeros(1, 3, 4), torch.zeros(4, 2, 3))

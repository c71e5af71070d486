"""Group axioms, exp/log, Euler angles and Haar sampling for SO(2), SO(3), T(3), SE(3)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.transform import Rotation

from fiberconv.spaces.groups import SE3, SO2, SO3, T3, rot_x, rot_y, rot_z

GROUPS = [SO2, SO3, T3, SE3]
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def close(a, b, tol=1e-10):
    return (a - b).abs().max().item() < tol


@pytest.mark.parametrize("G", GROUPS, ids=lambda G: G.name)
@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_group_axioms(G, seed):
    a, b, c = (G.sample((4, 3), seed=seed + i, dtype=torch.float64) for i in range(3))
    e = G.identity((4, 3), dtype=torch.float64)
    assert close(G.compose(G.compose(a, b), c), G.compose(a, G.compose(b, c)))
    assert close(G.compose(a, e), a) and close(G.compose(e, a), a)
    assert close(G.compose(a, G.inverse(a)), e)


@pytest.mark.parametrize("G", GROUPS, ids=lambda G: G.name)
@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_action_is_a_left_action(G, seed):
    a, b = G.sample(5, seed=seed, dtype=torch.float64), G.sample(5, seed=seed + 1, dtype=torch.float64)
    x = torch.randn(5, G.space_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    assert close(G.act(G.compose(a, b), x), G.act(a, G.act(b, x)))


@pytest.mark.parametrize("G", GROUPS, ids=lambda G: G.name)
@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_exp_log_roundtrip(G, seed):
    g = G.sample(16, seed=seed, dtype=torch.float64)
    assert close(G.exp(G.log(g)), g, 1e-9)


def test_so3_exp_matches_scipy():
    w = torch.randn(100, 3, dtype=torch.float64) * 2
    ref = torch.from_numpy(Rotation.from_rotvec(w.numpy()).as_matrix())
    assert close(SO3.exp(w), ref, 1e-12)


@pytest.mark.parametrize("angle", [0.0, 1e-12, 1e-8, 1e-5, 1e-3, math.pi - 1e-3, math.pi - 1e-6, math.pi - 1e-9, math.pi])
def test_so3_log_stable_near_0_and_pi(angle):
    axis = torch.randn(64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    axis = axis / axis.norm(dim=-1, keepdim=True)
    g = SO3.from_axis_angle(axis, torch.full((64,), angle, dtype=torch.float64))
    w = SO3.log(g)
    assert torch.isfinite(w).all()
    assert close(SO3.exp(w), g, 1e-12)
    assert close(w.norm(dim=-1), torch.full((64,), angle, dtype=torch.float64), 1e-7)
    if angle < 3.0:  # away from pi the rotation vector itself is unique
        assert close(w, axis * angle, 1e-9)


def test_so3_log_gradient_finite_near_identity():
    w = (torch.randn(8, 3, dtype=torch.float64) * 1e-7).requires_grad_()
    SO3.log(SO3.exp(w)).sum().backward()
    assert torch.isfinite(w.grad).all()
    assert close(w.grad, torch.ones_like(w), 1e-6)


def test_euler_convention_and_roundtrip():
    a, b, c = (torch.tensor(t, dtype=torch.float64) for t in (0.3, 1.1, -2.0))
    assert close(SO3.from_euler(a, b, c), rot_z(a) @ rot_y(b) @ rot_z(c))
    # scipy's intrinsic 'ZYZ' is the same product Z(a) Y(b) Z(c)
    ref = torch.from_numpy(Rotation.from_euler("ZYZ", [0.3, 1.1, -2.0]).as_matrix())
    assert close(SO3.from_euler(a, b, c), ref, 1e-12)
    g = SO3.sample(1000, seed=1, dtype=torch.float64)
    assert close(SO3.from_euler(*SO3.to_euler(g)), g, 1e-9)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-14), (torch.float32, 2e-6)])
@pytest.mark.parametrize("beta", [0.0, 1e-12, 1e-9, 1e-6, 1e-3, math.pi - 1e-3, math.pi - 1e-9, math.pi])
def test_euler_roundtrip_at_and_near_gimbal_lock(beta, dtype, tol):
    alpha = torch.linspace(-3, 3, 7, dtype=dtype)
    g = SO3.from_euler(alpha, torch.full_like(alpha, beta), 0.4 * torch.ones_like(alpha))
    assert (SO3.from_euler(*SO3.to_euler(g)) - g).abs().max().item() < tol


def test_axis_rotations_are_right_handed():
    t = torch.tensor(math.pi / 2, dtype=torch.float64)
    ex, ey, ez = torch.eye(3, dtype=torch.float64)
    assert close(rot_z(t) @ ex, ey) and close(rot_x(t) @ ey, ez) and close(rot_y(t) @ ez, ex)


def test_se3_exp_is_matrix_exponential():
    v = torch.randn(20, 6, dtype=torch.float64)
    xi = torch.zeros(20, 4, 4, dtype=torch.float64)
    w = v[:, 3:]
    zero = torch.zeros(20)
    xi[:, :3, :3] = torch.stack(
        [zero, -w[:, 2], w[:, 1], w[:, 2], zero, -w[:, 0], -w[:, 1], w[:, 0], zero], -1
    ).reshape(20, 3, 3).double()
    xi[:, :3, 3] = v[:, :3]
    assert close(SE3.exp(v), torch.linalg.matrix_exp(xi), 1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_follow_dtype_and_device(dtype, device):
    g = SO3.sample((2, 3), seed=0, dtype=dtype, device=device)
    assert g.dtype == dtype and g.device.type == device.type and g.shape == (2, 3, 3, 3)
    w = SO3.log(g)
    assert w.dtype == dtype and w.device.type == device.type
    assert SE3.sample(4, seed=0, dtype=dtype, device=device).dtype == dtype


def test_sampling_is_reproducible():
    assert torch.equal(SO3.sample(10, seed=7), SO3.sample(10, seed=7))
    assert not torch.equal(SO3.sample(10, seed=7), SO3.sample(10, seed=8))


# -- Haar measure --------------------------------------------------------------------------------
def _so3_uniformity_pvalues(g: torch.Tensor):
    """KS p-values: z of g e_z ~ U(-1, 1) (Archimedes), its longitude ~ U(-pi, pi), the rotation angle
    has density (1 - cos t) / pi, and the stabilizer angle of g = s(g e_z) Z(gamma) ~ U(-pi, pi)."""
    x = g[:, :, 2].numpy()
    angle = SO3.log(g).norm(dim=-1).numpy()
    _, _, gamma = SO3.to_euler(g)
    return [
        stats.kstest(x[:, 2], stats.uniform(-1, 2).cdf).pvalue,
        stats.kstest(np.arctan2(x[:, 1], x[:, 0]), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue,
        stats.kstest(angle, lambda t: (t - np.sin(t)) / np.pi).pvalue,
        stats.kstest(gamma.numpy(), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue,
    ]


def test_so3_haar_sampling_is_uniform():
    g = SO3.sample(20000, seed=123, dtype=torch.float64)
    assert min(_so3_uniformity_pvalues(g)) > 1e-3


def test_so3_uniformity_test_has_power():
    """Uniform Euler angles are *not* Haar; the same statistics must reject them."""
    gen = torch.Generator().manual_seed(5)
    a, b, c = (torch.rand(20000, generator=gen, dtype=torch.float64) * s for s in (2 * math.pi, math.pi, 2 * math.pi))
    assert min(_so3_uniformity_pvalues(SO3.from_euler(a, b, c))) < 1e-6


def test_so2_haar_sampling_is_uniform():
    t = SO2.angle(SO2.sample(20000, seed=3, dtype=torch.float64)).numpy()
    assert stats.kstest(t, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"SO\(3\) elements of shape \(\.\.\., 3, 3\)"):
        SO3.log(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="floating"):
        SO3.compose(torch.zeros(3, 3, dtype=torch.long), torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"points of R\^3"):
        SO3.act(torch.eye(3), torch.zeros(2))
    with pytest.raises(TypeError, match="seed"):
        SO3.sample(3, seed="x")


def test_distance_checks_batch_shapes_and_dtypes():
    """Non-broadcasting batches and mixed dtypes get errors naming the group and both shapes / dtypes (before:
    torch's size-mismatch message, and float32 x float64 silently promoted)."""
    from fiberconv.spaces.lie_groups import lie_action

    G = lie_action("SE2").group
    with pytest.raises(ValueError, match=r"SE\(2\).distance: the batch shapes of a \(4, 3, 3\) and b \(3, 3, 3\)"):
        G.distance(G.sample((4,)), G.sample((3,)))
    with pytest.raises(TypeError, match="same dtype"):
        G.distance(G.sample((2,), dtype=torch.float32), G.sample((2,), dtype=torch.float64))
    assert G.distance(G.sample((4, 1)), G.sample((3,))).shape == (4, 3)

"""LieConv's groups and actions: axioms, exp/log near 0 and the cut locus, invariant distance,
orbits, sections, stabilizers and Haar sampling of the stabilizers (with a sampler that must fail)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from fiberconv.spaces.groups import SE3, SO2, SO3, T3
from fiberconv.spaces.lie_groups import (
    SE2,
    RxSO2,
    RxSO2Action,
    SE2Action,
    SE3Action,
    SO2Action,
    SO3Action,
    T,
    TranslationAction,
    TrivialAction,
    TrivialGroup,
    lie_action,
)

GROUPS = [T(1), T(2), T3, SO2, SO3, SE2, SE3, RxSO2, TrivialGroup(2)]
ACTIONS = [TranslationAction(2), TranslationAction(1, 3), SO2Action(), SO3Action(), SE2Action(), SE3Action(),
           RxSO2Action(), TrivialAction(2)]
seeds = st.integers(min_value=0, max_value=2**31 - 1)
F64 = torch.float64


def err(a, b):
    return (a - b).abs().max().item() if a.numel() else 0.0


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("G", GROUPS, ids=repr)
@settings(max_examples=15, deadline=None)
@given(seed=seeds)
def test_group_axioms_and_exp_log(G, seed):
    a, b, c = (G.sample((3, 4), seed=seed + i, dtype=F64) for i in range(3))
    e = G.identity((3, 4), dtype=F64)
    assert err(G.compose(G.compose(a, b), c), G.compose(a, G.compose(b, c))) < 1e-10
    assert err(G.compose(a, e), a) < 1e-12 and err(G.compose(e, a), a) < 1e-12
    assert err(G.compose(a, G.inverse(a)), e) < 1e-12
    assert err(G.exp(G.log(a)), a) < 1e-10
    x = torch.randn(3, 4, G.space_dim, dtype=F64, generator=gen(seed))
    assert err(G.act(G.compose(a, b), x), G.act(a, G.act(b, x))) < 1e-10


@pytest.mark.parametrize("G", GROUPS, ids=repr)
@settings(max_examples=15, deadline=None)
@given(seed=seeds)
def test_distance_left_invariant(G, seed):
    u, v, w = (G.sample(8, seed=seed + i, dtype=F64) for i in range(3))
    d = G.distance(u, v)
    assert err(G.distance(G.compose(w, u), G.compose(w, v)), d) < 1e-9
    assert err(G.distance(u, u), torch.zeros_like(d)) < 1e-6


@pytest.mark.parametrize("G", GROUPS, ids=repr)
def test_relative_log_is_log_of_inverse_times_element(G):
    """``relative_log`` (SE(2): a closed form from the entries, the others: the generic route) broadcasts like
    ``log(a^-1 b)`` and agrees with it, also for relative angles next to the cut locus."""
    a, b = G.sample((5, 1), seed=3, dtype=F64), G.sample((1, 7), seed=4, dtype=F64)
    if G is SE2:  # relative angles just inside +-pi and near 0
        a = G.compose(a, G.exp(torch.tensor([0.1, 0.2, math.pi - 1e-7], dtype=F64)))
        b = torch.cat([b, G.compose(a[:1, :, ...], G.exp(torch.tensor([[[0.3, -0.2, 1e-9]]], dtype=F64)))], 1)
    shape = torch.broadcast_shapes(a.shape, b.shape)
    ref = G.log(G.compose(G.inverse(a.expand(shape)), b.expand(shape)))
    got = G.relative_log(a, b)
    assert got.shape == ref.shape
    assert err(G.exp(got), G.exp(ref)) < 1e-10
    far = ref[..., -1].abs() < math.pi - 1e-5 if G is SE2 else torch.ones(ref.shape[:-1], dtype=torch.bool)
    assert err(got[far], ref[far]) < 1e-9


ANGLES = [0.0, 1e-12, 1e-8, 1e-4, 1e-3, 2e-3, 1.0, math.pi - 1e-3, math.pi - 1e-9, math.pi, -math.pi + 1e-9]


@pytest.mark.parametrize("angle", ANGLES)
def test_se2_and_rxso2_exp_log_near_identity_and_cut_locus(angle):
    g = torch.Generator().manual_seed(1)
    v = torch.randn(16, 3, dtype=F64, generator=g)
    v[:, 2] = angle
    el = SE2.exp(v)
    assert err(SE2.exp(SE2.log(el)), el) < 1e-12
    if abs(angle) < math.pi - 1e-6:  # log is the inverse of exp inside the cut locus
        assert err(SE2.log(el), v) < 1e-10
    s = torch.stack([torch.randn(16, dtype=F64, generator=g), torch.full((16,), angle, dtype=F64)], -1)
    r = RxSO2.exp(s)
    assert err(RxSO2.exp(RxSO2.log(r)), r) < 1e-12
    if abs(angle) < math.pi - 1e-6:
        assert err(RxSO2.log(r), s) < 1e-12
    # gradients of log stay finite at the identity and next to the cut locus
    el = el.detach().requires_grad_(True)
    SE2.log(el).sum().backward()
    assert torch.isfinite(el.grad).all()


def test_se2_exp_matches_matrix_exponential():
    v = torch.randn(50, 3, dtype=F64, generator=gen(2)) * 2
    alg = torch.zeros(50, 3, 3, dtype=F64)
    alg[:, 0, 1], alg[:, 1, 0] = -v[:, 2], v[:, 2]
    alg[:, :2, 2] = v[:, :2]
    assert err(SE2.exp(v), torch.linalg.matrix_exp(alg)) < 1e-12


@pytest.mark.parametrize("action", ACTIONS, ids=repr)
@settings(max_examples=10, deadline=None)
@given(seed=seeds)
def test_lift_section_orbit_and_stabilizer(action, seed):
    x = torch.randn(7, action.dim, dtype=F64, generator=gen(seed)) * 2
    G = action.group
    g, q = action.lift(x, 3, seed=seed)
    o = action.origin(q).unsqueeze(-2).expand(7, 3, action.dim)
    assert err(action.act(g, o), x.unsqueeze(-2).expand(7, 3, action.dim)) < 1e-10  # u h_k o_q = x
    h = action.sample_stabilizer(x, 4, seed=seed)
    o1 = action.origin(q).unsqueeze(-2).expand(7, 4, action.dim)
    assert err(action.act(h, o1), o1) < 1e-10  # stabilizer fixes o_q
    w = G.sample(7, seed=seed + 1, dtype=F64)
    assert err(action.orbit(action.act(w, x)), q) < 1e-10  # q is invariant


def test_orbit_embeddings_are_the_papers():
    x = torch.randn(5, 3, dtype=F64, generator=gen(3))
    assert err(SO3Action().orbit(x)[:, 0], x.norm(dim=-1)) == 0
    assert err(TranslationAction(1, 3).orbit(x), x[:, 1:]) == 0
    assert SE3Action().orbit(x).shape == (5, 0)
    assert err(TrivialAction(3).orbit(x), x) == 0


def test_so3_section_agrees_with_the_sphere_section_off_the_poles():
    from fiberconv.bundles import SphereSection

    x = torch.randn(20, 3, dtype=F64, generator=gen(4))
    xs = x / x.norm(dim=-1, keepdim=True)
    assert err(SO3Action().section(x), SphereSection()(xs)) < 1e-12


# -- Haar sampling of stabilizers -----------------------------------------------------------------
def _ks_uniform_angle(angles):
    a = np.asarray(angles, dtype=float)
    return stats.kstest(a, stats.uniform(loc=-math.pi, scale=2 * math.pi).cdf).pvalue


def _so3_stabilizer_angles(h_embedded, u):
    """Angle ``t`` of ``u^-1 (u h) = Z(t)``."""
    k = u.transpose(-1, -2).unsqueeze(-3) @ h_embedded
    return torch.atan2(k[..., 1, 0], k[..., 0, 0])


def reference_style_so3_stabilizer(n, seed):
    """A wrong sampler: the rotation angle of a Haar-random rotation, with a random sign. Its density
    is (1 - cos t) / 2 pi: it peaks at pi, like the reference implementation's SO(3) lift."""
    r = SO3.sample(n, seed=seed, dtype=F64)
    w = SO3.log(r).norm(dim=-1)
    sign = torch.where(torch.rand(n, generator=gen(seed + 1), dtype=F64) < 0.5, -1.0, 1.0)
    return (sign * w).numpy()


def test_so3_lift_stabilizer_is_haar_and_a_wrong_sampler_is_rejected():
    x = torch.randn(40, 3, dtype=F64, generator=gen(5))
    g, _ = SO3Action().lift(x, 100, seed=6)  # (40, 100, 3, 3)
    t = _so3_stabilizer_angles(g, SO3Action().section(x))
    assert _ks_uniform_angle(t.flatten().numpy()) > 1e-3
    assert _ks_uniform_angle(reference_style_so3_stabilizer(4000, 7)) < 1e-8


@pytest.mark.parametrize("action", [SE2Action(), SO2Action()], ids=repr)
def test_planar_stabilizer_angles_are_uniform(action):
    x = torch.randn(50, 2, dtype=F64, generator=gen(8))
    if isinstance(action, SO2Action):
        x = torch.zeros_like(x)  # the only point with a non-trivial stabilizer
    h = action.sample_stabilizer(x, 80, seed=9)
    rot = h[..., :2, :2]
    t = torch.atan2(rot[..., 1, 0], rot[..., 0, 0])
    assert _ks_uniform_angle(t.flatten().numpy()) > 1e-3
    if isinstance(action, SE2Action):
        assert err(h[..., :2, 2], torch.zeros_like(h[..., :2, 2])) == 0


def test_se3_stabilizer_rotation_angle_has_the_haar_density():
    h = SE3Action().sample_stabilizer(torch.randn(20, 3, dtype=F64, generator=gen(10)), 200, seed=11)
    theta = SO3.log(h[..., :3, :3]).norm(dim=-1).flatten().numpy()
    haar_cdf = lambda t: (t - np.sin(t)) / math.pi  # density (1 - cos t) / pi on [0, pi]
    assert stats.kstest(theta, haar_cdf).pvalue > 1e-3
    assert stats.kstest(np.abs(reference_style_so3_stabilizer(4000, 12)), lambda t: t / math.pi).pvalue < 1e-8


def test_samples_follow_device_dtype_and_seed():
    a = SE2Action().sample_stabilizer(torch.zeros(3, 2, dtype=torch.float32), 5, seed=1)
    b = SE2Action().sample_stabilizer(torch.zeros(3, 2, dtype=torch.float32), 5, seed=1)
    assert a.dtype == torch.float32 and torch.equal(a, b)


def test_frame_stabilizer_is_equivariant():
    act = SE2Action()
    x = torch.randn(6, 2, dtype=F64, generator=gen(13))
    c = x.mean(0)
    w = SE2.sample((), seed=14, dtype=F64)
    u = SE2.compose(act.section(x).unsqueeze(-3), act.frame_stabilizer(x, c, 3))
    wx = act.act(w, x)
    u2 = SE2.compose(act.section(wx).unsqueeze(-3), act.frame_stabilizer(wx, act.act(w, c), 3))
    assert err(u2, SE2.compose(w, u)) < 1e-12


def test_so2_smooth_pair_input_is_a_function_of_the_points():
    """From the lifted pair: ``(y_i . y_j, y_i x y_j, rho_i - s, rho_j - s)``, ``rho = sqrt(|x|^2 + s^2)``,
    ``y = x / rho`` -- also for a point at the origin, where the section's angle is arbitrary."""
    action, s = SO2Action(), 0.5
    x = torch.randn(6, 2, dtype=F64, generator=gen(0))
    x[2] = 0.0
    u, q = action.lift(x, 1, seed=1)
    u = u[:, 0]
    ui, uj = SO2.inverse(u).unsqueeze(1).expand(6, 6, 2, 2), u.unsqueeze(0).expand(6, 6, 2, 2)
    a = SO2.log(SO2.compose(ui, uj))
    got = action.smooth_pair_input(a, q.unsqueeze(1).expand(6, 6, 1), q.unsqueeze(0).expand(6, 6, 1), scale=s)
    rho = torch.sqrt((x * x).sum(-1, keepdim=True) + s * s)
    y = x / rho
    yi, yj = y.unsqueeze(1), y.unsqueeze(0)
    want = torch.stack([(yi * yj).sum(-1), yi[..., 0] * yj[..., 1] - yi[..., 1] * yj[..., 0],
                        (rho[:, 0] - s).unsqueeze(1).expand(6, 6), (rho[:, 0] - s).unsqueeze(0).expand(6, 6)], dim=-1)
    assert got.shape == (6, 6, action.smooth_pair_dim)
    assert err(got, want) < 1e-12
    # far from the origin (|x| >> s) it is the lifted (cos w, sin w, r_i - s, r_j - s)
    far = action.smooth_pair_input(a, 1e6 * q.unsqueeze(1).expand(6, 6, 1), 1e6 * q.unsqueeze(0).expand(6, 6, 1), s)
    keep = (q[:, 0] > 0).unsqueeze(1) & (q[:, 0] > 0).unsqueeze(0)
    assert err(far[..., :2][keep], torch.cat([torch.cos(a), torch.sin(a)], -1)[keep]) < 1e-9


# -- bad input ---------------------------------------------------------------------------------------
def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="no smooth pair input"):
        SE2Action().smooth_pair_input(torch.zeros(3, 3), torch.zeros(3, 0), torch.zeros(3, 0))
    with pytest.raises(ValueError, match="so\\(2\\) pair logarithms"):
        SO2Action().smooth_pair_input(torch.zeros(3, 2), torch.zeros(3, 1), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="scale must be a positive"):
        SO2Action().smooth_pair_input(torch.zeros(3, 1), torch.zeros(3, 1), torch.zeros(3, 1), scale=0.0)
    with pytest.raises(ValueError, match=r"points of R\^2"):
        SE2Action().lift(torch.zeros(4, 3, dtype=F64))
    # the NaN policy (fiberconv.validation): NaN points propagate, they are not checked per call
    assert torch.isnan(SO2Action().orbit(torch.tensor([[float("nan"), 0.0], [3.0, 4.0]]))[0]).all()
    with pytest.raises(ValueError, match="the point 0"):
        RxSO2Action().section(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="positive int"):
        SE2Action().sample_stabilizer(torch.zeros(2, 2), 0)
    with pytest.raises(ValueError, match="unknown group"):
        lie_action("SU3")
    with pytest.raises(ValueError, match=r"SE\(2\) elements of shape \(\.\.\., 3, 3\)"):
        SE2.log(torch.eye(2))

"""Hamiltonian LieConv: Noether conservation along RK4 rollouts of untrained networks, RK4 order, errors."""
import math

import pytest
import torch

from fiberconv.nn.lieconv import (
    FCHamiltonian,
    HamiltonianLieConv,
    angular_momentum_2d,
    hamiltonian_vector_field,
    kinetic_energy,
    rk4_rollout,
    total_momentum,
)
from fiberconv.spaces.lie_groups import lie_action

F64 = torch.float64


def spring_state(B=2, N=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = 0.4 * torch.randn(B, N, 2, dtype=F64, generator=g)
    p = 0.6 * torch.randn(B, N, 2, dtype=F64, generator=g)
    m = 0.1 + 3 * torch.rand(B, N, dtype=F64, generator=g)
    k = 5 * torch.rand(B, N, dtype=F64, generator=g)
    return torch.stack([q, p], 1), m, torch.stack([m, k], -1)


def drifts(name, steps=40, dt=0.02):
    torch.manual_seed(0)
    z0, m, feats = spring_state()
    H = HamiltonianLieConv(lie_action(name), 2, channels=16, num_layers=2, nbhd=5).double()
    f = lambda z: hamiltonian_vector_field(lambda zz: H(zz, m, feats), z)
    zs = rk4_rollout(f, z0, torch.arange(steps + 1, dtype=F64) * dt)
    P, L = total_momentum(zs), angular_momentum_2d(zs)
    scale_p = zs[:, :, 1].norm(dim=-1).sum(-1).mean()
    scale_l = (zs[:, :, 0].norm(dim=-1) * zs[:, :, 1].norm(dim=-1)).sum(-1).mean()
    dP = ((P - P[0]).norm(dim=-1).max() / scale_p).item()
    dL = ((L - L[0]).abs().max() / scale_l).item()
    assert (zs[-1] - zs[0]).abs().max() > 1e-2  # the system actually moved
    return dP, dL


def test_se2_hamiltonian_conserves_linear_and_angular_momentum():
    dP, dL = drifts("SE2")
    assert dP < 1e-12 and dL < 1e-6


@pytest.mark.parametrize("name, conserves_p, conserves_l", [("T2", True, False), ("SO2", False, True), ("Trivial", False, False)])
def test_each_symmetry_conserves_its_noether_charge_only(name, conserves_p, conserves_l):
    dP, dL = drifts(name)
    assert (dP < 1e-12) == conserves_p, dP
    assert (dL < 1e-6) == conserves_l, dL


@pytest.mark.parametrize("pair_input", [None, "embed"])
def test_so2_potential_is_smooth_at_the_fixed_point(pair_input):
    """SO(2)'s lift is singular at x = 0. With the default (smooth) pair input, V_theta is smooth
    there: V(eps e1) - V(-eps e1) shrinks like eps and the force stays bounded. With the lifted
    (cos w, sin w, |x_i|, |x_j|) input, V jumps across the origin and the force grows like 1 / eps,
    which is what made RK4 lose angular momentum on the spring benchmark."""
    torch.manual_seed(0)
    z0, _, feats = spring_state(B=1, N=5)
    H = HamiltonianLieConv(lie_action("SO2"), 2, channels=16, num_layers=2, pair_input=pair_input).double()
    jump, force = [], []
    for eps in (1e-2, 1e-4):
        q = z0[:, 0].clone()
        q[0, 0] = torch.tensor([eps, 0.0], dtype=F64)
        mirrored = q.clone()
        mirrored[0, 0] = -q[0, 0]
        q.requires_grad_(True)
        V = H.potential(q, feats).sum()
        (g,) = torch.autograd.grad(V, q)
        jump.append((V - H.potential(mirrored, feats).sum()).abs().item())
        force.append(g[0, 0].norm().item())
    if pair_input is None:
        assert jump[1] < 0.02 * jump[0] and force[1] < 1.5 * force[0], (jump, force)
    else:
        assert jump[1] > 0.5 * jump[0] > 0 and force[1] > 50 * force[0], (jump, force)


def spring_vector_field(m, k):
    """The spring benchmark's true dynamics (``fiberconv/datasets/springs.py``), ``V = 1/2 sum k_i k_j |q_i - q_j|^2``."""
    def H(z):
        q = z[:, 0]
        d2 = ((q.unsqueeze(-2) - q.unsqueeze(-3)) ** 2).sum(-1)
        return kinetic_energy(z[:, 1], m) + 0.5 * (k.unsqueeze(-1) * k.unsqueeze(-2) * d2).sum((-1, -2))
    return lambda z: hamiltonian_vector_field(H, z)


@pytest.fixture(scope="module")
def spring_trajectories():
    """10 six-body spring systems, 200 RK4 steps of dt = 0.01 (states to train on, starts to roll out from)."""
    z0, m, feats = spring_state(B=10, N=6, seed=7)
    z0[:, 1] -= z0[:, 1].mean(1, keepdim=True)
    zs = rk4_rollout(spring_vector_field(m, feats[..., 1]), z0, torch.arange(201, dtype=F64) * 0.01)
    return zs.transpose(0, 1), m, feats  # (S, T, 2, N, 2)


def train_on_springs(name, data, iters=200):
    """A few hundred Adam steps regressing the learned dynamics on the true ones (the rollout loss
    for one infinitesimal step; much cheaper than the example's 5-step chunks)."""
    zs, m, feats = data
    torch.manual_seed(0)
    H = HamiltonianLieConv(lie_action(name), 2, channels=16, num_layers=1).double()
    opt = torch.optim.Adam(H.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters)
    g = torch.Generator().manual_seed(1)
    for _ in range(iters):
        s, t = torch.randint(0, 8, (16,), generator=g), torch.randint(0, zs.shape[1], (16,), generator=g)
        z, mb, fb = zs[s, t], m[s], feats[s]
        target = spring_vector_field(mb, fb[..., 1])(z)[:, 1]
        pred = hamiltonian_vector_field(lambda zz, mb=mb, fb=fb: H(zz, mb, fb), z, create_graph=True)[:, 1]
        loss = ((pred - target) ** 2).mean() / (target**2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return H, loss.item()


def test_trained_se2_hamiltonian_conserves_momenta_across_the_cut_locus(spring_trajectories):
    """A *trained* SE(2) HLieConv: along a 150-step RK4 rollout (dt = 0.005) the relative frame angles
    cross +-pi hundreds of times; the kernel sees (t, cos w, sin w), so the force stays continuous and
    P is conserved to rounding, L to the integrator's truncation error (<= 1e-6). A trained {e} model
    conserves neither."""
    zs, m, feats = spring_trajectories
    z0, mt, ft = zs[8:, 0], m[8:], feats[8:]
    ts = torch.arange(76, dtype=F64) * 0.01  # 75 intervals x 2 RK4 substeps = 150 steps of 0.005
    out = {}
    for name in ("SE2", "Trivial"):
        H, loss = train_on_springs(name, spring_trajectories)
        assert loss < 0.3, (name, loss)  # it learned the forces (relative squared error)
        f = lambda z, H=H: hamiltonian_vector_field(lambda zz: H(zz, mt, ft), z)
        pred = rk4_rollout(f, z0, ts, substeps=2)
        P, L = total_momentum(pred), angular_momentum_2d(pred)
        scale_p = pred[:, :, 1].norm(dim=-1).sum(-1).mean(0)
        scale_l = (pred[:, :, 0].norm(dim=-1) * pred[:, :, 1].norm(dim=-1)).sum(-1).mean(0)
        out[name] = ((P - P[0]).norm(dim=-1).amax(0) / scale_p).max().item(), ((L - L[0]).abs().amax(0) / scale_l).max().item()
        if name == "SE2":
            q = pred[:, :, 0]
            rel = q - q.mean(2, keepdim=True)
            th = torch.atan2(rel[..., 1], rel[..., 0])
            w = torch.remainder(th.unsqueeze(-1) - th.unsqueeze(-2) + math.pi, 2 * math.pi) - math.pi
            crossings = ((w[1:] * w[:-1] < 0) & (w[1:].abs() > 2)).sum().item()
            assert crossings > 10, crossings  # the rollout does exercise the cut locus of log
    assert out["SE2"][0] < 1e-12 and out["SE2"][1] < 1e-6, out
    assert out["Trivial"][0] > 1e-4 and out["Trivial"][1] > 1e-4, out


def test_rk4_is_fourth_order_and_conserves_a_harmonic_energy():
    m = torch.ones(1, 1, dtype=F64)
    H = lambda z: kinetic_energy(z[:, 1], m) + 0.5 * (z[:, 0] ** 2).sum((-1, -2))
    f = lambda z: hamiltonian_vector_field(H, z)
    z0 = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]], dtype=F64)
    exact = torch.tensor([[math.cos(1.0), math.sin(1.0)], [-math.sin(1.0), math.cos(1.0)]], dtype=F64)  # (q, p)
    errs = []
    for n in (10, 20):
        zs = rk4_rollout(f, z0, torch.linspace(0, 1, n + 1, dtype=F64))
        errs.append((zs[-1, 0, :, 0] - exact).abs().max().item())
    assert 14 < errs[0] / errs[1] < 18


def test_training_step_through_the_rollout_has_finite_gradients():
    z0, m, feats = spring_state(B=2, N=4)
    H = HamiltonianLieConv(lie_action("SE2"), 2, channels=8, num_layers=1, nbhd=4).double()
    f = lambda z: hamiltonian_vector_field(lambda zz: H(zz, m, feats), z, create_graph=True)
    zs = rk4_rollout(f, z0, torch.linspace(0, 0.04, 3, dtype=F64))
    loss = ((zs - z0) ** 2).mean()
    loss.backward()
    # the head's bias shifts V by a constant, which the dynamics never see: its grad stays None
    grads = [p.grad for p in H.parameters() if p.grad is not None]
    assert len(grads) == len(list(H.parameters())) - 1
    assert all(torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def test_bad_input_gets_clear_errors():
    z0, m, feats = spring_state()
    H = HamiltonianLieConv(lie_action("T2"), 2, channels=8, num_layers=1)
    with pytest.raises(ValueError, match=r"state z of shape \(batch, 2, n_particles, dim\)"):
        H(z0[:, 0], m, feats)
    with pytest.raises(ValueError, match=r"masses of shape \(2, 5\)"):
        H(z0, m[:, :3], feats)
    # the NaN policy (fiberconv.validation): no value checks in a forward pass; a non-positive mass or a
    # NaN in one sample's state gives NaN for that sample only
    neg = m.clone()
    neg[0, 0] = -1.0
    bad = z0.clone()
    bad[0, 0, 0, 0] = math.nan
    for args in ((z0, neg, feats), (bad, m, feats)):
        h = H.double()(*args)
        assert torch.isnan(h[0]) and torch.isfinite(h[1:]).all()
    with pytest.raises(TypeError, match="floating-point"):
        H(z0.long(), m, feats)
    with pytest.raises(ValueError, match="built for 3 particles"):
        FCHamiltonian(3, 2).double()(z0, m, feats)
    with pytest.raises(ValueError, match="1-D time grid"):
        rk4_rollout(lambda z: z, z0, torch.zeros(2, 2))

r"""Hamiltonian dynamics for the LieConv physics experiments (Finzi et al. 2020, Sec. 6): states, energies,
momenta, ``J grad H`` by autograd and fixed-step RK4.

A state is ``z = (q, p)`` stored as ``(B, 2, N, d)``: positions ``z[:, 0]`` and momenta ``z[:, 1]`` of
``N`` particles in ``R^d``. ``dz/dt = J grad H`` (``dq/dt = dH/dp``, ``dp/dt = -dH/dq``). If the potential is
invariant under a group, Noether's theorem gives a conserved quantity: translations -> total momentum
``sum_i p_i``; rotations about 0 -> total angular momentum ``sum_i q_i x p_i``. RK4 preserves linear
invariants (momentum) exactly and quadratic ones (angular momentum) to its truncation error.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ...validation import check_matches, check_positive_int, check_tensor

__all__ = [
    "hamiltonian_vector_field", "rk4_step", "rk4_rollout", "kinetic_energy", "total_momentum",
    "angular_momentum_2d", "check_state",
]


def check_state(z: torch.Tensor, masses: torch.Tensor, who: str = "Hamiltonian") -> None:
    """Raise a clear error unless ``z`` is a floating ``(B, 2, N, d)`` and ``masses`` a ``(B, N)`` tensor of
    the same dtype and device.

    Metadata only (it runs in every forward pass): NaN/Inf in ``z`` propagate to ``H`` of that sample,
    and :func:`kinetic_energy` is NaN for a non-positive mass (see :mod:`fiberconv.validation`)."""
    check_tensor(z, "a state z", ("batch", 2, "n_particles", "dim"), who=who)
    B, _, N, _ = z.shape
    if B == 0 or N == 0:
        raise ValueError(f"{who}: empty state of shape {tuple(z.shape)}")
    check_tensor(masses, "masses", (B, N), who=who)
    check_matches(masses, z, "masses", against="the state z", who=who)


def kinetic_energy(p: torch.Tensor, masses: torch.Tensor) -> torch.Tensor:
    """``sum_i |p_i|^2 / 2 m_i``: ``p (B, N, d)``, ``masses (B, N)`` -> ``(B,)``; NaN for a sample with a
    mass ``<= 0`` (no finite wrong energy, and no device synchronisation to raise)."""
    masses = torch.where(masses > 0, masses, torch.full((), math.nan, dtype=masses.dtype, device=masses.device))
    return ((p * p).sum(-1) / (2 * masses)).sum(-1)


def total_momentum(z: torch.Tensor) -> torch.Tensor:
    """``sum_i p_i``: ``(..., 2, N, d) -> (..., d)``."""
    return z[..., 1, :, :].sum(-2)


def angular_momentum_2d(z: torch.Tensor) -> torch.Tensor:
    """``sum_i q_i x p_i`` in the plane: ``(..., 2, N, 2) -> (...,)``."""
    q, p = z[..., 0, :, :], z[..., 1, :, :]
    return (q[..., 0] * p[..., 1] - q[..., 1] * p[..., 0]).sum(-1)


def hamiltonian_vector_field(H: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                             create_graph: bool = False) -> torch.Tensor:
    r"""``J grad H(z)``: ``(dH/dp, -dH/dq)`` for a Hamiltonian ``H: (B, 2, N, d) -> (B,)`` by autograd.

    ``create_graph=True`` keeps the graph (to train through the dynamics).
    """
    with torch.enable_grad():
        if not z.requires_grad:
            z = z.detach().requires_grad_(True)
        (dH,) = torch.autograd.grad(H(z).sum(), z, create_graph=create_graph)
    return torch.stack([dH[:, 1], -dH[:, 0]], dim=1)


def rk4_step(f: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, dt: float) -> torch.Tensor:
    """One classical Runge-Kutta step of ``dz/dt = f(z)``."""
    k1 = f(z)
    k2 = f(z + 0.5 * dt * k1)
    k3 = f(z + 0.5 * dt * k2)
    k4 = f(z + dt * k3)
    return z + (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


def rk4_rollout(f: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, ts: torch.Tensor,
                substeps: int = 1) -> torch.Tensor:
    """Integrate ``dz/dt = f(z)`` with fixed-step RK4 from ``z0`` at ``ts[0]``; returns ``(T, *z0.shape)``.

    Each interval ``[ts[n], ts[n+1]]`` is split into ``substeps`` equal steps.
    """
    if ts.dim() != 1 or ts.numel() < 1:
        raise ValueError(f"rk4_rollout: expected a 1-D time grid, got shape {tuple(ts.shape)}")
    check_positive_int(substeps, "substeps", who="rk4_rollout")
    out = [z0]
    z = z0
    for n in range(ts.numel() - 1):
        dt = float(ts[n + 1] - ts[n]) / substeps
        for _ in range(substeps):
            z = rk4_step(f, z, dt)
        out.append(z)
    return torch.stack(out)

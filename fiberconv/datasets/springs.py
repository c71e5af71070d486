r"""The spring benchmark (Sanchez-Gonzalez et al. 2019; Finzi et al. 2020, Sec. 6.2), regenerated from its definition.

``n`` bodies in the plane (float64), masses ``m_i ~ U(0.1, 3.1)``, spring constants ``k_i ~ U(0, 5)``,

.. math:: H(q, p) = \sum_i \frac{\|p_i\|^2}{2 m_i} + \frac12 \sum_{i,j} k_i k_j \|q_i - q_j\|^2,

initial state ``q0 ~ 0.4 N(0, I)``, ``p0 ~ 0.6 N(0, I)`` with *each system's* total momentum removed
(``p0 -= mean_i p0_i``; the reference code removed the mean over systems instead), time grid
``linspace(0, 5, 500)``, ground truth by fixed-step RK4 with ``substeps`` steps per interval.
Used by :mod:`fiberconv.examples.springs`.
"""
from __future__ import annotations

import torch

from fiberconv.nn.lieconv import hamiltonian_vector_field, kinetic_energy, rk4_rollout
from fiberconv.validation import check_int, check_positive_float, check_positive_int

__all__ = ["generate", "spring_energy", "spring_potential"]


def spring_potential(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``1/2 sum_{i,j} k_i k_j |q_i - q_j|^2``: ``q (B, N, 2)``, ``k (B, N)`` -> ``(B,)``."""
    diff2 = ((q.unsqueeze(-2) - q.unsqueeze(-3)) ** 2).sum(-1)  # (..., N, N)
    return 0.5 * (k.unsqueeze(-1) * k.unsqueeze(-2) * diff2).sum((-1, -2))


def spring_energy(z: torch.Tensor, m: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """True Hamiltonian ``H(z)`` for ``z (..., B, 2, N, 2)``."""
    return kinetic_energy(z[..., 1, :, :], m) + spring_potential(z[..., 0, :, :], k)


def generate(n_systems: int, n_bodies: int = 6, n_times: int = 500, t_end: float = 5.0, substeps: int = 10,
             seed: int = 0):
    """Returns ``zs (n_systems, T, 2, N, 2)``, ``ts (T,)``, ``m (n_systems, N)``, ``k (n_systems, N)``.

    ``n_systems >= 1``, ``n_bodies >= 2`` (a spring needs two ends), ``n_times >= 2``, ``t_end > 0`` and
    ``substeps >= 1``, checked before anything is integrated."""
    check_positive_int(n_systems, "n_systems", who="generate")
    check_int(n_bodies, "n_bodies", 2, who="generate")
    check_int(n_times, "n_times", 2, who="generate")
    check_positive_float(t_end, "t_end", who="generate")
    check_positive_int(substeps, "substeps", who="generate")
    check_int(seed, "seed", who="generate")
    g = torch.Generator().manual_seed(seed)
    dt = torch.float64
    m = 0.1 + 3.0 * torch.rand(n_systems, n_bodies, dtype=dt, generator=g)
    k = 5.0 * torch.rand(n_systems, n_bodies, dtype=dt, generator=g)
    q0 = 0.4 * torch.randn(n_systems, n_bodies, 2, dtype=dt, generator=g)
    p0 = 0.6 * torch.randn(n_systems, n_bodies, 2, dtype=dt, generator=g)
    p0 = p0 - p0.mean(1, keepdim=True)  # zero total momentum per system
    z0 = torch.stack([q0, p0], 1)
    ts = torch.linspace(0, t_end, n_times, dtype=dt)
    f = lambda z: hamiltonian_vector_field(lambda zz: spring_energy(zz, m, k), z)
    zs = rk4_rollout(f, z0, ts, substeps=substeps).transpose(0, 1).contiguous()
    return zs, ts, m, k

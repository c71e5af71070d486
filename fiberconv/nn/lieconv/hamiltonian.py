r"""Hamiltonian LieConv (Finzi et al. 2020, Sec. 6): learned Hamiltonians; their dynamics and RK4 are in :mod:`.dynamics`.

A state is ``z = (q, p)`` stored as ``(B, 2, N, d)``: positions ``z[:, 0]`` and momenta ``z[:, 1]`` of
``N`` particles in ``R^d``. The model Hamiltonian is

.. math:: \mathcal H(q, p) = \sum_i \frac{\|p_i\|^2}{2 m_i} + V_\theta(q),

with ``V_theta`` a :class:`~fiberconv.nn.lieconv.LieResNet` on the particle positions whose features
are the system parameters (e.g. masses and spring constants). The dynamics
``dz/dt = J grad H`` (``dq/dt = dH/dp``, ``dp/dt = -dH/dq``) come from autograd, and a fixed-step RK4
integrates them. If ``V_theta`` is invariant under a group, Noether's theorem gives a conserved
quantity: translations -> total momentum ``sum_i p_i``; rotations about 0 -> total angular momentum
``sum_i q_i x p_i``. RK4 preserves linear invariants (momentum) exactly and quadratic ones (angular
momentum) to its truncation error.
"""
from __future__ import annotations

import torch
from torch import nn

from ...spaces.lie_groups import LieAction
from ...validation import check_matches
from .conv import LieResNet, Swish
from .dynamics import check_state, kinetic_energy

__all__ = ["HamiltonianLieConv", "FCHamiltonian"]


class HamiltonianLieConv(nn.Module):
    """``H(q, p) = sum |p_i|^2 / 2 m_i + V_theta(q)`` with ``V_theta`` a LieConv network.

    Parameters
    ----------
    action : LieAction
        The symmetry of ``V_theta`` (e.g. ``TranslationAction(2)``, ``SO2Action()``, ``SE2Action()``,
        ``TrivialAction(2)``).
    n_features : int
        Per-particle features (e.g. 2 for mass and spring constant).
    channels, num_layers : network size; further keyword arguments go to :class:`LieConv`.
    nbhd : int or None
        ``None`` (default): every particle is in every neighbourhood, so ``V_theta`` is a smooth
        function of the positions (a k-nearest or radius neighbourhood would switch members along a
        rollout and make ``V_theta`` discontinuous, which RK4 turns into drift).
    n_lift : int or None
        Stabilizer samples per particle. For SE(2) they are the deterministic, equivariant
        quadrature (``stabilizer="frame"``: rotations by ``angle(x_i - centroid) + 2 pi k / K``), so
        that ``V_theta`` is *exactly* invariant and the dynamics deterministic; ``None`` means 2 for
        SE(2) (the frame angle is singular where a particle passes the centroid; averaging over two
        opposite frames makes ``V_theta`` depend on it much less, which keeps RK4 accurate there) and
        1 otherwise (the stabilizer is trivial away from fixed points).
    pair_input : str or None
        The kernel input (see :class:`~fiberconv.nn.lieconv.LieConv`). ``None`` (default):
        ``"smooth"`` where the action has a smooth pair input (``SO2Action``; length ``smooth_scale``, default 1),
        ``"embed"`` otherwise.
        With SO(2)'s ``"embed"``, ``(cos w, sin w, |x_i|, |x_j|)`` is singular at the fixed point
        ``x = 0``: ``V_theta`` jumps across the origin and its force grows like ``1 / |x_i|`` near it,
        so RK4 loses ``L`` wherever a particle passes close to the origin; the smooth input keeps
        ``V_theta`` smooth there.
    """

    def __init__(self, action: LieAction, n_features: int = 2, channels: int = 32, num_layers: int = 2,
                 nbhd: int | None = None, n_lift: int | None = None, pair_input: str | None = None,
                 **conv_kwargs):
        super().__init__()
        se2 = action.has_frame_stabilizer  # exact invariance from the frame quadrature (SE(2))
        if pair_input is None:  # the smooth pair input where the action has one (SO(2): fixed point at 0)
            pair_input = "smooth" if action.smooth_pair_dim is not None else "embed"
        lift_kwargs = {"n_samples": (2 if se2 else 1) if n_lift is None else n_lift}
        if se2:
            lift_kwargs["stabilizer"] = "frame"
        self.action = action
        self.potential_net = LieResNet(action, n_features, 1, channels=channels, num_layers=num_layers,
                                       nbhd=nbhd, pool_mean=True, norm=False, lift_kwargs=lift_kwargs,
                                       pair_input=pair_input, **conv_kwargs)

    def potential(self, q: torch.Tensor, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``V_theta(q)``: ``q (B, N, d)``, ``features (B, N, F)`` -> ``(B,)``."""
        # seed 0: the stabilizer is trivial or 'frame' here, so no randomness enters; fixed for safety
        return self.potential_net(q, features, mask, seed=0).squeeze(-1)

    def forward(self, z: torch.Tensor, masses: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``H(z)``: ``z (B, 2, N, d)``, ``masses (B, N)``, ``features (B, N, F)`` -> ``(B,)``."""
        check_state(z, masses, "HamiltonianLieConv")
        check_matches(z, self, "the state z", who="HamiltonianLieConv")
        return kinetic_energy(z[:, 1], masses) + self.potential(z[:, 0], features)


class FCHamiltonian(nn.Module):
    """Fully-connected baseline: ``H = MLP([q, p, features])`` on the flattened state (no symmetry)."""

    def __init__(self, n_particles: int, dim: int, n_features: int = 2, hidden: int = 128, num_layers: int = 3):
        super().__init__()
        width = 2 * n_particles * dim + n_particles * n_features
        layers, c = [], width
        for _ in range(num_layers):
            layers += [nn.Linear(c, hidden), Swish()]
            c = hidden
        self.net = nn.Sequential(*layers, nn.Linear(c, 1))
        self.shape = (n_particles, dim, n_features)

    def forward(self, z: torch.Tensor, masses: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        check_state(z, masses, "FCHamiltonian")
        check_matches(z, self, "the state z", who="FCHamiltonian")
        n, d, nf = self.shape
        if tuple(z.shape[2:]) != (n, d) or tuple(features.shape[1:]) != (n, nf):
            raise ValueError(f"FCHamiltonian: built for {n} particles in R^{d} with {nf} features, got state "
                             f"{tuple(z.shape)} and features {tuple(features.shape)}")
        x = torch.cat([z.flatten(1), features.flatten(1)], dim=-1)
        return self.net(x).squeeze(-1)

"""LieConv (Finzi et al. 2020) on point clouds under Lie groups: the lift, the convolution and residual
networks, learned Hamiltonians, and the dynamics (RK4, energies, momenta) of the physics experiments."""
from .conv import (
    BottleBlock,
    CloudLayerNorm,
    CloudSwish,
    GlobalPool,
    KernelMLP,
    LieConv,
    LieResNet,
    PointwiseLinear,
    Swish,
)
from .dynamics import (
    angular_momentum_2d,
    hamiltonian_vector_field,
    kinetic_energy,
    rk4_rollout,
    rk4_step,
    total_momentum,
)
from .hamiltonian import FCHamiltonian, HamiltonianLieConv
from .lift import LiftedCloud, OrbitSection, farthest_point_indices, lift_cloud, pair_logs, relative_logs, subsample

__all__ = [
    "LieConv", "LieResNet", "BottleBlock", "GlobalPool", "KernelMLP", "PointwiseLinear", "Swish", "CloudSwish",
    "CloudLayerNorm", "LiftedCloud", "OrbitSection", "lift_cloud", "pair_logs", "relative_logs", "subsample",
    "farthest_point_indices",
    "HamiltonianLieConv", "FCHamiltonian", "hamiltonian_vector_field", "rk4_step", "rk4_rollout",
    "kinetic_energy", "total_momentum", "angular_momentum_2d",
]

"""Equivariant layers: kernel spaces (Sec. 3), the rho-twisted cross-correlation on HEALPix,
nonlinearities, pooling, normalization and ready-made models."""
from .equivariance import EquivarianceChecker, equivariance_error
from .group_correlation import group_cross_correlation
from .hamiltonian import (
    FCHamiltonian,
    HamiltonianLieConv,
    angular_momentum_2d,
    hamiltonian_vector_field,
    kinetic_energy,
    rk4_rollout,
    rk4_step,
    total_momentum,
)
from .kernel_spaces import (
    kc_residual,
    kc_to_kd,
    kc_to_kg,
    kd_residual,
    kd_to_kc,
    kg_residual,
    kg_to_kc,
    restricted_rho,
    solve_kc_on_orbit,
    solve_kd,
    span_rank,
)
from .lieconv import BottleBlock, CloudLayerNorm, CloudSwish, GlobalPool, KernelMLP, LieConv, LieResNet, PointwiseLinear, Swish
from .lieconv_lift import LiftedCloud, OrbitSection, farthest_point_indices, lift_cloud, pair_logs, subsample
from .nonlinear import FieldBatchNorm, GatedNonlinearity, InvariantPooling, NormNonlinearity, RegularNonlinearity
from .r3_conv import R3Conv
from .r3_kernels import IrrepPairBasis, R3KernelBasis, r3_field_type
from .r3_models import R3Classifier, R3GatedBlock, r3_classifier, r3_segmenter
from .r3_pool import FieldAvgPool3d, NormMaxPool3d
from .r3_products import CrossProduct
from .sphere_conv import SphereConv, default_radius
from .sphere_kernels import SphereKernelBasis
from .sphere_models import SphereBlock, SphericalClassifier, SphericalUNet
from .sphere_pool import SpherePool, SphereUnpool

__all__ = [
    "EquivarianceChecker", "equivariance_error", "group_cross_correlation",
    "kc_to_kg", "kg_to_kc", "kc_to_kd", "kd_to_kc", "kg_residual", "kc_residual", "kd_residual",
    "restricted_rho", "solve_kd", "solve_kc_on_orbit", "span_rank",
    "NormNonlinearity", "GatedNonlinearity", "RegularNonlinearity", "FieldBatchNorm", "InvariantPooling",
    "SphereConv", "default_radius", "SphereKernelBasis", "SpherePool", "SphereUnpool",
    "SphereBlock", "SphericalClassifier", "SphericalUNet",
    "R3Conv", "R3KernelBasis", "IrrepPairBasis", "r3_field_type", "FieldAvgPool3d", "NormMaxPool3d", "CrossProduct",
    "R3GatedBlock", "R3Classifier", "r3_classifier", "r3_segmenter",
    "LieConv", "LieResNet", "BottleBlock", "GlobalPool", "KernelMLP", "PointwiseLinear", "Swish", "CloudSwish",
    "CloudLayerNorm", "LiftedCloud", "OrbitSection", "lift_cloud", "pair_logs", "subsample", "farthest_point_indices",
    "HamiltonianLieConv", "FCHamiltonian", "hamiltonian_vector_field", "rk4_step", "rk4_rollout",
    "kinetic_energy", "total_momentum", "angular_momentum_2d",
]

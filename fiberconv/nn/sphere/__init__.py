"""Fields on ``S^2 = SO(3)/SO(2)`` sampled on HEALPix: the rho1-twisted cross-correlation (eq. 14), its
closed-form geometry and sparse operators, the group correlation (eq. 7), pooling and models."""
from .bandlimit import SphereBandLimit
from .conv import SphereConv, default_radius
from .conv_geometry import SphereConvGeometry
from .geometry import relative_frames, twist_angles
from .group_correlation import group_cross_correlation
from .kernels import SphereKernelBasis
from .models import SphereBlock, SphericalClassifier, SphericalUNet
from .pool import SpherePool, SphereUnpool

__all__ = [
    "SphereConv", "SphereConvGeometry", "default_radius", "SphereKernelBasis", "relative_frames", "twist_angles",
    "group_cross_correlation", "SpherePool", "SphereUnpool",
    "SphereBandLimit", "SphereBlock", "SphericalClassifier", "SphericalUNet",
]

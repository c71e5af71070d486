"""Fields on ``R^3 = SE(3)/SO(3)`` sampled on voxel grids: the SE(3)-steerable convolution, its kernel basis,
pooling, the cross product and models."""
from .conv import R3Conv
from .kernels import IrrepPairBasis, R3KernelBasis, r3_field_type
from .models import R3Classifier, R3GatedBlock, r3_classifier, r3_segmenter
from .pool import FieldAvgPool3d, NormMaxPool3d
from .products import CrossProduct

__all__ = [
    "R3Conv", "R3KernelBasis", "IrrepPairBasis", "r3_field_type", "FieldAvgPool3d", "NormMaxPool3d", "CrossProduct",
    "R3GatedBlock", "R3Classifier", "r3_classifier", "r3_segmenter",
]

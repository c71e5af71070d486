"""Testing tools a user can run on any module: one equivariance check for every base space, test fields,
and dense references for the fast layers.

    from fiberconv.testing import assert_equivariant, EquivarianceChecker, VoxelAction, CloudAction, invariant
"""
from .equivariance import (
    CloudAction,
    VoxelAction,
    assert_equivariant,
    equivariance_error,
    equivariance_errors,
    invariant,
)
from .reference import sphere_conv_dense
from .sphere import EquivarianceChecker, bandlimited_field, sphere_equivariance_error

__all__ = [
    "equivariance_error", "equivariance_errors", "assert_equivariant", "invariant", "VoxelAction", "CloudAction",
    "EquivarianceChecker", "sphere_equivariance_error", "bandlimited_field", "sphere_conv_dense",
]

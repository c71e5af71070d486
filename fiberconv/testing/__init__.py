"""Testing tools a user can run on any module: one equivariance check for every base space, continuous
rotations on R^3 without interpolation, whole-model invariance reports, test fields, and dense references for
the fast layers.

    from fiberconv.testing import assert_equivariant, EquivarianceChecker, VoxelAction, CloudAction, invariant
"""
from .equivariance import (
    CloudAction,
    FibreAction,
    PointAction,
    VoxelAction,
    assert_equivariant,
    equivariance_error,
    equivariance_errors,
    invariant,
)
from .invariance import InvarianceReport, invariance_report
from .r3 import gaussian_blobs, r3_rotation_errors
from .reference import sphere_conv_dense
from .sphere import EquivarianceChecker, bandlimited_field, smooth_field, sphere_equivariance_error

__all__ = [
    "equivariance_error", "equivariance_errors", "assert_equivariant", "invariant", "VoxelAction", "CloudAction",
    "PointAction", "FibreAction", "EquivarianceChecker", "sphere_equivariance_error", "bandlimited_field", "smooth_field",
    "r3_rotation_errors", "gaussian_blobs", "invariance_report", "InvarianceReport", "sphere_conv_dense",
]

"""Equivariant layers (Sec. 3), by base space.

Shared here: the kernel spaces ``K_G``, ``K_C``, ``K_D`` and the maps between them, nonlinearities and
normalization of fields. ``nn.sphere``: S^2 on HEALPix (eq. 14); ``nn.r3``: R^3 on voxels (SE(3)-steerable);
``nn.lieconv``: point clouds under Lie groups (Finzi et al. 2020). Every public name is re-exported here.
"""
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
from .lieconv import *
from .lieconv import __all__ as _lieconv_all
from .nonlinear import (
    FieldBatchNorm,
    GatedNonlinearity,
    InvariantPooling,
    NormNonlinearity,
    RegularNonlinearity,
    sync_field_batch_norm,
)
from .r3 import *
from .r3 import __all__ as _r3_all
from .sphere import *
from .sphere import __all__ as _sphere_all

# Deprecated names kept for earlier versions: the S^2 equivariance check lives in fiberconv.testing (which
# imports nn, so nn cannot import it at module level). Not in __all__.
_DEPRECATED = {"EquivarianceChecker": "EquivarianceChecker", "equivariance_error": "sphere_equivariance_error"}


def __getattr__(name):
    if name in _DEPRECATED:
        import warnings

        from .. import testing

        replacement = _DEPRECATED[name]
        warnings.warn(f"fiberconv.nn.{name} is deprecated; use fiberconv.testing.{replacement}",
                      DeprecationWarning, stacklevel=2)
        return getattr(testing, replacement)
    raise AttributeError(f"module 'fiberconv.nn' has no attribute {name!r}")


__all__ = [
    "kc_to_kg", "kg_to_kc", "kc_to_kd", "kd_to_kc", "kg_residual", "kc_residual", "kd_residual",
    "restricted_rho", "solve_kd", "solve_kc_on_orbit", "span_rank",
    "NormNonlinearity", "GatedNonlinearity", "RegularNonlinearity", "FieldBatchNorm", "sync_field_batch_norm", "InvariantPooling",
    *_sphere_all, *_r3_all, *_lieconv_all,
]

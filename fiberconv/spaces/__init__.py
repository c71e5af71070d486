"""Groups, representations, homogeneous spaces and their grids."""
from .clebsch_gordan import real_clebsch_gordan
from .groups import SE3, SO2, SO3, T3, Group, make_generator, rot_x, rot_y, rot_z
from .harmonics import legendre_normalized, lm_index, real_sph_harm, real_sph_harm_xyz
from .healpix import HealpixGrid
from .homogeneous import EuclideanR3, HomogeneousSpace, Sphere
from .lie_groups import (
    SE2,
    LieAction,
    RxSO2,
    RxSO2Action,
    SE2Action,
    SE3Action,
    SO2Action,
    SO3Action,
    T,
    TranslationAction,
    TranslationGroup,
    TrivialAction,
    TrivialGroup,
    lie_action,
)
from .representations import DirectSum, Representation, SO2Irrep, SO2Regular, SO3Irrep, TensorProduct, Trivial
from .sht import HealpixSHT, healpy_to_real_alm, real_to_healpy_alm
from .voxels import VoxelGrid, cube_rotations
from .wigner import WignerD, wigner_D, wigner_D_euler

__all__ = [
    "Group", "SO2", "SO3", "T3", "SE3", "make_generator", "rot_x", "rot_y", "rot_z",
    "legendre_normalized", "lm_index", "real_sph_harm", "real_sph_harm_xyz",
    "HealpixGrid", "HealpixSHT", "healpy_to_real_alm", "real_to_healpy_alm",
    "HomogeneousSpace", "Sphere", "EuclideanR3",
    "Representation", "Trivial", "SO2Irrep", "SO2Regular", "SO3Irrep", "DirectSum", "TensorProduct",
    "WignerD", "wigner_D", "wigner_D_euler",
    "VoxelGrid", "cube_rotations", "real_clebsch_gordan",
    "TranslationGroup", "T", "SE2", "RxSO2", "TrivialGroup", "LieAction", "TranslationAction", "SO2Action",
    "SO3Action", "SE2Action", "SE3Action", "RxSO2Action", "TrivialAction", "lie_action",
]

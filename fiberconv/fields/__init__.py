"""Field types, the two encodings of a field (local sections and Mackey functions), the lifting
``Lambda`` between them, and the induced representation acting on both."""
from .field_type import FieldType, sphere_field_type
from .induced import InducedRepresentation
from .lift import lift, lift_function, lift_inverse, lift_values, mackey_defect
from .regrid import LatLonToHealpix, latlon_frames, latlon_wind_to_ambient, regrid_scalar, regrid_wind
from .sampling import FibredSampling
from .tangent import (
    ambient_to_tangent,
    from_ambient,
    tangent_to_ambient,
    tangent_to_wind,
    to_ambient,
    wind_to_tangent,
)

__all__ = [
    "FieldType",
    "sphere_field_type",
    "InducedRepresentation",
    "FibredSampling",
    "LatLonToHealpix",
    "regrid_wind",
    "regrid_scalar",
    "latlon_frames",
    "latlon_wind_to_ambient",
    "lift",
    "lift_function",
    "lift_inverse",
    "lift_values",
    "mackey_defect",
    "to_ambient",
    "from_ambient",
    "tangent_to_ambient",
    "ambient_to_tangent",
    "wind_to_tangent",
    "tangent_to_wind",
]

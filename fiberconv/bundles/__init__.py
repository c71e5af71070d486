"""Principal bundles ``G -> G/H`` with sections and cocycles, and associated vector bundles."""
from .associated import AssociatedBundle
from .principal import PrincipalBundle, Section, SphereSection, TranslationSection, r3_bundle, sphere_bundle

__all__ = [
    "AssociatedBundle",
    "PrincipalBundle",
    "Section",
    "SphereSection",
    "TranslationSection",
    "r3_bundle",
    "sphere_bundle",
]

"""fiberconv: equivariant CNNs on homogeneous spaces (Cohen, Geiger & Weiler 2019; Finzi et al. 2020).

Imports go one way: ``spaces`` <- ``bundles`` <- ``fields`` <- ``nn``.
"""
from . import bundles, fields, nn, spaces

__version__ = "0.1.0"
__all__ = ["spaces", "bundles", "fields", "nn", "__version__"]

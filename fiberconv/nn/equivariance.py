r"""Measuring equivariance: ``|| Phi(pi_in(g) f) - pi_out(g) Phi(f) || / || pi_out(g) Phi(f) ||``.

``pi`` is the induced representation on local sections (eq. 4,
:class:`~fiberconv.fields.InducedRepresentation`): exact for the eight rotations that map the HEALPix
grid onto itself (a pixel permutation plus the cocycle twist) and, for other rotations, exact on
band-limited fields (spherical-harmonic resampling). Use it to check any module mapping fields on a
HEALPix grid to fields (or to invariants) — the tests of every layer in fiberconv do::

    from fiberconv.nn import EquivarianceChecker
    check = EquivarianceChecker(conv.in_type, conv.grid, conv.out_type, conv.out_grid)
    err = check(conv, f, g)          # relative error, a float
"""
from __future__ import annotations

from typing import Optional

import torch

from ..fields import FieldType, InducedRepresentation

__all__ = ["EquivarianceChecker", "equivariance_error"]


class EquivarianceChecker:
    """Relative equivariance error of modules from ``in_type`` on ``grid`` to ``out_type`` on ``out_grid``.

    Parameters
    ----------
    in_type, grid : the input field type and HEALPix grid
    out_type : output field type, or ``None`` for invariant outputs (e.g. class logits)
    out_grid : output grid (default ``grid``)
    lmax : band limit of the resampling for rotations that are not grid symmetries (default ``2 nside``)
    """

    def __init__(self, in_type: FieldType, grid, out_type: Optional[FieldType] = None, out_grid=None,
                 lmax: Optional[int] = None):
        self.pi_in = InducedRepresentation(in_type, grid, lmax)
        out_grid = grid if out_grid is None else out_grid
        self.pi_out = None if out_type is None else InducedRepresentation(out_type, out_grid, lmax)

    def __call__(self, module, f: torch.Tensor, g: torch.Tensor) -> float:
        """Relative error of ``module`` at input ``f (B, C, N)`` under the rotation ``g (3, 3)``."""
        with torch.no_grad():
            out = module(f)
            rotated_then_mapped = module(self.pi_in(g, f))
            expected = out if self.pi_out is None else self.pi_out(g, out)
        denom = expected.norm().clamp_min(torch.finfo(expected.dtype).tiny)
        return float((rotated_then_mapped - expected).norm() / denom)


def equivariance_error(module, f: torch.Tensor, g: torch.Tensor, in_type: Optional[FieldType] = None, grid=None,
                       out_type: Optional[FieldType] = None, out_grid=None, invariant: bool = False,
                       lmax: Optional[int] = None) -> float:
    """One-off :class:`EquivarianceChecker`; types and grids default to the module's ``in_type``,
    ``out_type``, ``grid`` and ``out_grid`` attributes (``invariant=True`` for invariant outputs)."""
    in_type = in_type if in_type is not None else module.in_type
    grid = grid if grid is not None else module.grid
    if not invariant:
        out_type = out_type if out_type is not None else module.out_type
        out_grid = out_grid if out_grid is not None else getattr(module, "out_grid", grid)
    return EquivarianceChecker(in_type, grid, None if invariant else out_type, out_grid, lmax)(module, f, g)

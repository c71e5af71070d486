r"""Equivariance of modules on HEALPix fields, and band-limited test fields.

``pi`` is the induced representation on local sections (eq. 4,
:class:`~fiberconv.fields.InducedRepresentation`): exact for the eight rotations that map the HEALPix
grid onto itself (a pixel permutation plus the cocycle twist) and, for other rotations, exact on
band-limited fields (spherical-harmonic resampling). The tests of every S^2 layer do::

    from fiberconv.testing import EquivarianceChecker
    check = EquivarianceChecker(conv.in_type, conv.grid, conv.out_type, conv.out_grid)
    err = check(conv, f, g)          # relative error, a float

which is :func:`~fiberconv.testing.equivariance_error` with the induced representations as the actions.
"""
from __future__ import annotations

import torch

from ..fields import FieldType, InducedRepresentation
from ..fields.tangent import ambient_dim, from_ambient
from ..spaces import HealpixSHT
from .equivariance import equivariance_error, equivariance_errors, invariant

__all__ = ["EquivarianceChecker", "sphere_equivariance_error", "bandlimited_field", "smooth_field"]


class EquivarianceChecker:
    """Relative equivariance error of modules from ``in_type`` on ``grid`` to ``out_type`` on ``out_grid``.

    Parameters
    ----------
    in_type, grid : the input field type and HEALPix grid
    out_type : output field type, or ``None`` for invariant outputs (e.g. class logits)
    out_grid : output grid (default ``grid``)
    lmax : band limit of the resampling for rotations that are not grid symmetries (default ``2 nside``)
    """

    def __init__(self, in_type: FieldType, grid, out_type: FieldType | None = None, out_grid=None,
                 lmax: int | None = None):
        self.pi_in = InducedRepresentation(in_type, grid, lmax)
        out_grid = grid if out_grid is None else out_grid
        self.pi_out = None if out_type is None else InducedRepresentation(out_type, out_grid, lmax)

    @property
    def act_out(self):
        return invariant if self.pi_out is None else self.pi_out

    def __call__(self, module, f: torch.Tensor, g: torch.Tensor) -> float:
        """Relative error of ``module`` at input ``f (B, C, N)`` under the rotation ``g (3, 3)``."""
        self._check_grids(module)
        return equivariance_error(module, f, g, self.pi_in, self.act_out)

    def errors(self, module, f: torch.Tensor, rotations) -> list:
        """Relative errors for each rotation of ``rotations (n, 3, 3)``."""
        self._check_grids(module)
        return equivariance_errors(module, f, rotations, self.pi_in, self.act_out)

    def _check_grids(self, module) -> None:
        """A module that names its grids (``grid``, ``out_grid``) must be on the checker's: a RING map read as
        NESTED (or another nside) would be measured as a large, meaningless error."""
        for name, pi in (("grid", self.pi_in), ("out_grid", self.pi_out)):
            grid = getattr(module, name, None)
            if pi is not None and grid is not None and grid != pi.grid:
                raise ValueError(f"EquivarianceChecker: the module's {name} is {grid!r}, the checker's is {pi.grid!r}")


def sphere_equivariance_error(module, f: torch.Tensor, g: torch.Tensor, in_type: FieldType | None = None, grid=None,
                       out_type: FieldType | None = None, out_grid=None, invariant: bool = False,
                       lmax: int | None = None) -> float:
    """One-off :class:`EquivarianceChecker`; types and grids default to the module's ``in_type``,
    ``out_type``, ``grid`` and ``out_grid`` attributes (``invariant=True`` for invariant outputs)."""
    in_type = in_type if in_type is not None else module.in_type
    grid = grid if grid is not None else module.grid
    if not invariant:
        out_type = out_type if out_type is not None else module.out_type
        out_grid = out_grid if out_grid is not None else getattr(module, "out_grid", grid)
    return EquivarianceChecker(in_type, grid, None if invariant else out_type, out_grid, lmax)(module, f, g)


def bandlimited_field(field_type: FieldType, grid, lmax: int, batch: int = 2, seed: int = 0,
                      dtype: torch.dtype = torch.float64, lmin: int = 0) -> torch.Tensor:
    """Random fields whose ambient components have spherical-harmonic degree ``lmin <= l <= lmax`` (white
    spectrum), read in the section frames: ``(batch, field_type.dim, grid.npix)``. Rotating them is exact up to
    the transform's accuracy, so equivariance errors measured on them are the module's own. For a vector
    field, ambient degree 1 includes the projected linear fields ``P_x(A x)``."""
    sht = HealpixSHT(grid, lmax)
    gen = torch.Generator().manual_seed(seed)
    coeffs = torch.randn(batch, ambient_dim(field_type), (lmax + 1) ** 2, dtype=torch.float64, generator=gen)
    coeffs[..., : lmin * lmin] = 0  # degree l occupies the indices l^2 .. (l + 1)^2 - 1
    x = grid.xyz(dtype=torch.float64)
    frames = field_type.bundle.section(x)[..., :, :2].transpose(-1, -2)
    return from_ambient(field_type, sht.synthesis(coeffs), frames).to(dtype)


def smooth_field(field_type: FieldType, grid, batch: int = 2, seed: int = 0,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A smooth random field: ambient components of degree 1 to 3 (:func:`bandlimited_field`)."""
    return bandlimited_field(field_type, grid, 3, batch, seed, dtype, lmin=1)

r"""Voxel grids on ``R^3 = SE(3)/SO(3)`` and the action of rotations on voxel fields.

Grid
----
``VoxelGrid(shape=(X, Y, Z), spacing=h)`` samples ``R^3`` at the centred points

.. math::  x_{ijk} = h \, \big(i - (X-1)/2,\ j - (Y-1)/2,\ k - (Z-1)/2\big),

so the origin ``o = 0`` is the centre of the grid (a voxel centre for odd sizes, a corner shared by
eight voxels for even sizes). A field of type ``field_type`` on the grid is a tensor
``(batch, C, X, Y, Z)``, ``C = field_type.dim``; the last three dims index ``x, y, z`` (the ``D, H, W``
dims of ``torch.nn.functional.conv3d``), and the channels are the field's components in the frame of
the translation section (the fibre at every point is identified with the fibre at ``o``).

Rotations
---------
The induced representation of a rotation ``R`` (a rotation about the grid centre) is

.. math::  [\pi(R) f](x) = \rho(R)\, f(R^{-1} x).

* The 24 rotations of the cube (:func:`cube_rotations`, signed permutation matrices) map a cubic grid
  onto itself: :meth:`VoxelGrid.rotate_exact` is an exact axis permutation + flips, then ``rho(R)``.
  For a non-cubic grid only the rotations that preserve its shape are allowed.
* Any other rotation needs resampling: :meth:`VoxelGrid.rotate_resample` interpolates ``f`` at
  ``R^{-1} x`` (trilinear, ``torch.nn.functional.grid_sample``, zero outside the grid) and applies
  ``rho(R)``; it is exact only for fields that are linear between voxel centres.
"""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from ..validation import check_dtype, check_positive_float, check_positive_int, element_tolerance
from .groups import SO3

__all__ = ["VoxelGrid", "cube_rotations", "is_cube_rotation"]


def cube_rotations(dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """The 24 rotations of the cube as signed permutation matrices ``(24, 3, 3)`` (identity first)."""
    dtype = check_dtype(dtype, who="cube_rotations")
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = torch.zeros(3, 3, dtype=torch.float64)
            for i in range(3):
                m[i, perm[i]] = signs[i]
            if torch.det(m) > 0:
                mats.append(m)
    return torch.stack(mats).to(dtype=dtype, device=device)


def is_cube_rotation(R: torch.Tensor, tol: float | None = None) -> bool:
    """Whether ``R (3, 3)`` is (to ``tol``, default :func:`~fiberconv.validation.element_tolerance` of its
    dtype: the library's one rule for "a symmetry up to rounding") one of the 24 rotations of the cube."""
    if not isinstance(R, torch.Tensor) or R.shape != (3, 3) or not R.is_floating_point():
        return False
    tol = element_tolerance(R.dtype) if tol is None else tol
    rounded = R.round()
    if float((R - rounded).abs().max()) > tol:
        return False
    return bool((rounded.abs().sum(0) == 1).all() and (rounded.abs().sum(1) == 1).all() and torch.det(rounded.double()) > 0)


class VoxelGrid:
    """A centred regular grid on ``R^3`` (module docstring).

    Parameters
    ----------
    shape : ``(X, Y, Z)`` positive ints (an int means a cube)
    spacing : positive float, the voxel size ``h``
    """

    def __init__(self, shape, spacing: float = 1.0):
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = (shape, shape, shape)
        shape = tuple(shape)
        if len(shape) != 3:
            raise ValueError(f"VoxelGrid: shape must be three positive ints (X, Y, Z), got {shape!r}")
        for axis, n in zip("XYZ", shape):
            check_positive_int(n, f"shape ({axis})", who="VoxelGrid")
        self.shape: tuple[int, int, int] = shape
        self.spacing = check_positive_float(spacing, "spacing", who="VoxelGrid")

    @property
    def num_points(self) -> int:
        return self.shape[0] * self.shape[1] * self.shape[2]

    def coordinates(self, dtype=None, device=None) -> torch.Tensor:
        """Centred coordinates ``(X, Y, Z, 3)``: ``[i, j, k] -> h ((i, j, k) - (shape - 1) / 2)``."""
        dtype = check_dtype(dtype, who="VoxelGrid.coordinates")
        axes = [(torch.arange(n, dtype=dtype, device=device) - (n - 1) / 2) * self.spacing for n in self.shape]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)

    def points(self, dtype=None, device=None) -> torch.Tensor:
        """The grid points flattened, ``(X * Y * Z, 3)`` (row-major in ``i, j, k``)."""
        return self.coordinates(dtype, device).reshape(-1, 3)

    def check_field(self, f: torch.Tensor, field_type=None, who: str = "VoxelGrid") -> torch.Tensor:
        """Check ``f`` is ``(batch, C, X, Y, Z)`` on this grid (``C = field_type.dim`` if given)."""
        if not isinstance(f, torch.Tensor) or not f.is_floating_point():
            raise TypeError(f"{who}: expected a floating torch.Tensor voxel field, got {getattr(f, 'dtype', type(f).__name__)}")
        c = "C" if field_type is None else str(field_type.dim)
        if f.dim() != 5 or tuple(f.shape[2:]) != self.shape or (field_type is not None and f.shape[1] != field_type.dim):
            raise ValueError(
                f"{who}: expected a voxel field of shape (batch, {c}, {', '.join(map(str, self.shape))})"
                f"{'' if field_type is None else ' for ' + str(field_type)} on {self}, got {tuple(f.shape)}"
            )
        return f

    def symmetries(self, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
        """The cube rotations that map this grid onto itself ``(n, 3, 3)`` (all 24 for a cubic grid)."""
        dtype = check_dtype(dtype, who="VoxelGrid.symmetries")
        rots = cube_rotations(torch.float64)
        n = torch.tensor(self.shape, dtype=torch.float64)
        keep = [i for i, r in enumerate(rots) if torch.equal(r.abs() @ n, n)]
        return rots[keep].to(dtype=dtype, device=device)

    @staticmethod
    def _rho(field_type, R: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return field_type.rho(R.to(dtype=like.dtype, device=like.device))

    def rotate_exact(self, f: torch.Tensor, field_type, R: torch.Tensor) -> torch.Tensor:
        r"""``[pi(R) f](x) = rho(R) f(R^{-1} x)`` for a cube rotation ``R`` preserving the grid: exact.

        With ``R[i, sigma(i)] = s_i``, ``(R^{-1} x)_{sigma(i)} = s_i x_i``: output axis ``i`` is input axis
        ``sigma(i)``, flipped where ``s_i = -1`` (the grid is centred).
        """
        self.check_field(f, field_type, "VoxelGrid.rotate_exact")
        SO3.check_element(R, "R", who="VoxelGrid.rotate_exact")
        if not is_cube_rotation(R):
            raise ValueError(f"VoxelGrid.rotate_exact: R is not one of the 24 cube rotations:\n{R}")
        Ri = R.detach().round().to(torch.float64)
        sigma = [int(Ri[i].abs().argmax()) for i in range(3)]
        if tuple(self.shape[s] for s in sigma) != self.shape:
            raise ValueError(f"VoxelGrid.rotate_exact: the rotation does not map the grid of shape {self.shape} onto itself")
        g = f.permute(0, 1, *[2 + s for s in sigma])
        flips = [2 + i for i in range(3) if Ri[i, sigma[i]] < 0]
        if flips:
            g = g.flip(flips)
        rho = self._rho(field_type, R, f)
        return torch.einsum("oc,bc...->bo...", rho, g)

    def rotate_resample(self, f: torch.Tensor, field_type, R: torch.Tensor) -> torch.Tensor:
        r"""``[pi(R) f](x) = rho(R) f(R^{-1} x)`` for any rotation ``R (3, 3)``, by trilinear interpolation.

        Points ``R^{-1} x`` outside the grid read zero. One ``R`` for the whole batch.
        """
        self.check_field(f, field_type, "VoxelGrid.rotate_resample")
        if not isinstance(R, torch.Tensor) or R.shape != (3, 3):
            raise ValueError(f"VoxelGrid.rotate_resample: R must be a (3, 3) rotation matrix, got {getattr(R, 'shape', R)!r}")
        SO3.check_element(R, "R", who="VoxelGrid.rotate_resample")
        R = R.to(dtype=f.dtype, device=f.device)
        x = self.coordinates(f.dtype, f.device)
        src = x @ R  # (R^T x)^T = x^T R: the points R^{-1} x
        half = torch.tensor([(n - 1) / 2 * self.spacing for n in self.shape], dtype=f.dtype, device=f.device)
        norm = src / torch.where(half > 0, half, torch.ones_like(half))
        grid = norm.flip(-1).unsqueeze(0).expand(f.shape[0], -1, -1, -1, -1)  # grid_sample wants (W, H, D) = (z, y, x)
        g = F.grid_sample(f, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        return torch.einsum("oc,bc...->bo...", self._rho(field_type, R, f), g)

    def rotate(self, f: torch.Tensor, field_type, R: torch.Tensor) -> torch.Tensor:
        """:meth:`rotate_exact` for a grid-preserving cube rotation, :meth:`rotate_resample` otherwise."""
        SO3.check_element(R, "R", who="VoxelGrid.rotate")
        if is_cube_rotation(R):
            Ri = R.round()
            if tuple(self.shape[int(Ri[i].abs().argmax())] for i in range(3)) == self.shape:
                return self.rotate_exact(f, field_type, R)
        return self.rotate_resample(f, field_type, R)

    def __repr__(self) -> str:
        return f"VoxelGrid(shape={self.shape}, spacing={self.spacing})"

    def __eq__(self, other) -> bool:
        return isinstance(other, VoxelGrid) and self.shape == other.shape and self.spacing == other.spacing

    def __hash__(self) -> int:
        return hash((self.shape, self.spacing))

r"""Pooling and unpooling between HEALPix ``nside`` and ``nside / 2``, for any SO(2)-irrep fields.

A child pixel ``y`` of a parent ``x`` holds its field in the frame ``s(y)``; before averaging it is
transported to ``x``'s frame along the geodesic, which in the language of eq. (14) is
``rho(alpha_z + tau)`` with ``z = s(x)^{-1} y = Z(alpha_z) Y(beta_z) o`` and ``Z(tau) = h1(s(x)^{-1} s(y))``
(the twist, from the cocycle, then the turn that carries the frame at ``z`` back to the origin):

.. math:: [P f](x) = \frac14 \sum_{y \in \text{children}(x)} \rho(\alpha_z + \tau)\, f(y), \qquad
          [U f](y) = \rho(\alpha_z + \tau)^{-1} f(\text{parent}(y)).

The eight grid symmetries map children to children, so both are exactly equivariant under them.
"""
from __future__ import annotations

import torch
from torch import nn

from ...fields import FieldType
from ...spaces.healpix import HealpixGrid
from .geometry import twist_angles
from .kernels import _irrep_groups

__all__ = ["SpherePool", "SphereUnpool"]


class _Transport(nn.Module):
    """Buffers shared by pooling and unpooling: children and the transport angles parent <- child."""

    def __init__(self, field_type: FieldType, grid: HealpixGrid, who: str):
        super().__init__()
        if not isinstance(grid, HealpixGrid):
            raise TypeError(f"{who}: expected a HealpixGrid, got {type(grid).__name__}")
        self.in_type = self.out_type = field_type
        self.groups = _irrep_groups(field_type, who)
        fine, coarse = grid, grid.coarsen()
        children = fine.child_indices()  # (Nc, 4)
        alpha, _, tau = twist_angles(field_type.bundle, coarse.xyz(dtype=torch.float64), fine.xyz(dtype=torch.float64), children)
        theta = alpha + tau  # (Nc, 4)
        self.register_buffer("child_index", children, persistent=False)
        self.register_buffer("parent", fine.parent_indices(), persistent=False)
        for m, g in self.groups.items():
            if m > 0:
                self.register_buffer(f"idx_{m}", g, persistent=False)
                self.register_buffer(f"rot_{m}", torch.stack([torch.cos(m * theta), torch.sin(m * theta)]), persistent=False)
        self.fine, self.coarse = fine, coarse

    def _rotate(self, v: torch.Tensor, sign: float) -> torch.Tensor:
        """Rotate the ``m > 0`` components of ``v (B, C, Nc, 4)`` by ``sign * m theta``."""
        out = v.clone()
        for m in self.groups:
            if m == 0:
                continue
            idx, cs = getattr(self, f"idx_{m}"), getattr(self, f"rot_{m}").to(v.dtype)
            c, s = cs[0], sign * cs[1]
            a, b = v[:, idx[:, 0]], v[:, idx[:, 1]]
            out[:, idx[:, 0]] = c * a - s * b
            out[:, idx[:, 1]] = s * a + c * b
        return out


class SpherePool(_Transport):
    """Mean pooling ``(B, C, N_fine) -> (B, C, N_fine / 4)`` with the child fields transported to the parent."""

    def __init__(self, field_type: FieldType, grid: HealpixGrid):
        super().__init__(field_type, grid, "SpherePool")
        self.grid, self.out_grid = self.fine, self.coarse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.check_tensor(x, "SpherePool", points=(self.fine.npix,), where=repr(self.fine))
        return self._rotate(x[..., self.child_index], 1.0).mean(-1)


class SphereUnpool(_Transport):
    """Unpooling ``(B, C, N_coarse) -> (B, C, 4 N_coarse)``: each child gets its parent's field, transported.

    ``grid`` is the *fine* grid (the output).
    """

    def __init__(self, field_type: FieldType, grid: HealpixGrid):
        super().__init__(field_type, grid, "SphereUnpool")
        self.grid, self.out_grid = self.coarse, self.fine

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.check_tensor(x, "SphereUnpool", points=(self.coarse.npix,), where=repr(self.coarse))
        v = self._rotate(x.unsqueeze(-1).expand(-1, -1, -1, 4), -1.0)  # (B, C, Nc, 4)
        out = x.new_empty(x.shape[:2] + (self.fine.npix,))
        out[..., self.child_index] = v
        return out

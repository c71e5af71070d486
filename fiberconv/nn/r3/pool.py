r"""Pooling of voxel fields on ``R^3`` beyond :class:`~fiberconv.nn.nonlinear.InvariantPooling`.

Tensors are ``(batch, C, X, Y, Z)`` with ``C = field_type.dim`` (:mod:`fiberconv.spaces.voxels`).

* :class:`FieldAvgPool3d`: average pooling of every channel. Linear and the same for every channel,
  so it commutes with ``rho``; it commutes with the cube rotations when the pooling windows tile the
  grid symmetrically about its centre (``(X + 2 padding - kernel) % stride == 0`` on every axis, e.g.
  kernel = stride = 2 on even sizes); the forward pass warns (``EquivarianceWarning``) where it fails.
* :class:`NormMaxPool3d`: per window and per field, the field value at the voxel where its norm
  ``|f(x)|`` is largest (plain max for scalars). ``|rho(r) f| = |f|``, so the selected voxel moves with the
  rotation and the pooled field transforms with ``rho``: equivariant under the same condition (and up
  to exact ties of the norm).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...fields import FieldType
from ...validation import check_int
from ..nonlinear import FieldGroups
from .conv import check_r3_tensor, check_symmetric_windows
from .kernels import check_r3_field_type

__all__ = ["FieldAvgPool3d", "NormMaxPool3d"]


def _window_args(who, kernel_size, stride, padding):
    stride = kernel_size if stride is None else stride
    for name, v, lo in (("kernel_size", kernel_size, 1), ("stride", stride, 1), ("padding", padding, 0)):
        check_int(v, name, lo, who=who)
    if 2 * padding > kernel_size:
        raise ValueError(f"{who}: padding ({padding}) must be at most half the kernel size ({kernel_size})")
    return kernel_size, stride, padding


class FieldAvgPool3d(nn.Module):
    """Average pooling of a voxel field of type ``field_type`` (zero padding counted in the mean).

    Shapes: ``(B, C, X, Y, Z) -> (B, C, X', Y', Z')``, ``X' = floor((X + 2 padding - kernel) / stride) + 1``.
    """

    def __init__(self, field_type: FieldType, kernel_size: int = 2, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.in_type = self.out_type = check_r3_field_type(field_type, "FieldAvgPool3d")
        self.kernel_size, self.stride, self.padding = _window_args("FieldAvgPool3d", kernel_size, stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_r3_tensor(x, self.in_type, "FieldAvgPool3d")
        check_symmetric_windows("FieldAvgPool3d", x.shape[2:], self.kernel_size, self.stride, self.padding)
        return F.avg_pool3d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"{self.in_type}, kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class NormMaxPool3d(nn.Module):
    """Norm max pooling: per window, each field's value where its norm is largest (module docstring).

    Shapes as :class:`FieldAvgPool3d`.
    """

    def __init__(self, field_type: FieldType, kernel_size: int = 2, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.in_type = self.out_type = check_r3_field_type(field_type, "NormMaxPool3d")
        self.kernel_size, self.stride, self.padding = _window_args("NormMaxPool3d", kernel_size, stride, padding)
        self.fields = FieldGroups(field_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_r3_tensor(x, self.in_type, "NormMaxPool3d")
        k, s, p = self.kernel_size, self.stride, self.padding
        check_symmetric_windows("NormMaxPool3d", x.shape[2:], k, s, p)
        sidx = self.fields.scalar_idx
        pooled_shape = None
        parts, order = [], []
        if sidx.numel():
            parts.append(F.max_pool3d(x[:, sidx], k, s, p))
            order.append(sidx)
            pooled_shape = parts[-1].shape[2:]
        for d, idx, _ in self.fields.groups():
            f = x[:, idx]  # (B, n, d, X, Y, Z)
            b, n = f.shape[:2]
            norm2 = (f * f).sum(2)
            _, where = F.max_pool3d(norm2, k, s, p, return_indices=True)  # flat indices into X*Y*Z
            pooled_shape = where.shape[2:]
            flat = where.flatten(2)[:, :, None, :].expand(-1, -1, d, -1)
            parts.append(f.flatten(3).gather(3, flat).reshape(b, n * d, *pooled_shape))
            order.append(idx.reshape(-1))
        out = x.new_empty(x.shape[0], x.shape[1], *pooled_shape)
        for part, chans in zip(parts, order):
            out[:, chans] = part
        return out

    def extra_repr(self) -> str:
        return f"{self.in_type}, kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

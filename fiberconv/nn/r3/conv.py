r"""``R3Conv``: the SE(3)-steerable convolution on voxel grids (Sec. 6.2; eq. (14) without the twist).

For fields ``f`` of type ``rho1`` on ``R^3`` the layer computes the cross-correlation

.. math::  [\kappa \star f](x) = \sum_{d} \kappa(d)\, f(x + d)   \qquad (d \text{ the } k^3 \text{ centred offsets}),

the discretization of eq. (14) with ``s(x)`` = translation by ``x`` (so ``s(x)^{-1} y = y - x``) and
``rho1(h1(.)) = 1``: SE(3) is a semidirect product. ``kappa = sum_b w_b kappa_b`` with ``kappa_b`` the
analytic basis of :class:`~fiberconv.nn.r3.kernels.R3KernelBasis`, which satisfies
``kappa(r x) = rho2(r) kappa(x) rho1(r)^{-1}``; hence the layer commutes with the induced
representation ``[pi(r) f](x) = rho(r) f(r^{-1} x)``: exactly for the 24 rotations of the cube (they map
the offsets onto themselves), approximately for other rotations (the kernel is band-limited per shell).

Tensors are ``(batch, C, X, Y, Z)`` (the ``(x, y, z)`` axes of :class:`~fiberconv.spaces.voxels.VoxelGrid`),
``C = field_type.dim``; the computation is one ``torch.nn.functional.conv3d``.

State and caching
-----------------
Parameters: ``weight`` (the basis coefficients, ``(num_weights,)``) and ``bias`` (one per scalar output
field; added to the ``l = 0`` channels only, as a bias on other fields would break equivariance). The
sampled basis is kept as non-persistent buffers: it follows ``.to()`` but never enters the state_dict.
In eval mode with gradients disabled the expanded kernel is memoised in a plain attribute keyed on the
weight and bias versions, dtype and device: any in-place update or ``load_state_dict`` invalidates it,
the state_dict is the same in train and eval, and training mode always re-expands (for autograd).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...fields import FieldType
from ...validation import EquivarianceWarning, check_dtype, check_int, check_matches
from ..signature import TypeSignature
from .kernels import R3KernelBasis, check_r3_field_type

__all__ = ["R3Conv", "check_r3_tensor", "check_symmetric_windows"]


def check_symmetric_windows(who: str, spatial: Sequence[int], kernel_size: int, stride: int, padding: int) -> None:
    """Warn (:class:`~fiberconv.validation.EquivarianceWarning`) unless the windows of a strided layer tile
    every axis symmetrically about the grid's centre, ``(X + 2 padding - kernel) % stride == 0``: the
    condition for the output grid to be centred, so for exact equivariance under the cube rotations.
    Shapes only (free in a forward pass)."""
    if stride == 1:
        return
    rest = [(n + 2 * padding - kernel_size) % stride for n in spatial]
    if any(rest):
        good = [n - r if n - r + 2 * padding >= kernel_size else n + stride - r for n, r in zip(spatial, rest)]
        warnings.warn(
            f"{who}: spatial size {tuple(spatial)} with kernel {kernel_size}, stride {stride}, padding {padding}: "
            f"(X + 2 padding - kernel) % stride = {tuple(rest)} != 0, so the windows do not tile the grid "
            "symmetrically about its centre and the output is NOT equivariant under the cube rotations; use "
            f"sizes with (X + 2 padding - kernel) % stride == 0 (e.g. {tuple(good)})",
            EquivarianceWarning, stacklevel=3)


def check_r3_tensor(x, field_type: FieldType, who: str) -> torch.Tensor:
    """Validate a floating voxel field tensor ``(batch, field_type.dim, X, Y, Z)`` (metadata only)."""
    return field_type.check_tensor(x, who, "a voxel tensor", ("X", "Y", "Z"))


class R3Conv(TypeSignature, nn.Module):
    r"""SE(3)-equivariant convolution between voxel fields of types ``in_type`` and ``out_type``.

    Parameters
    ----------
    in_type, out_type : FieldType on ``R^3`` (irreps ``SO3Irrep``; see ``r3_field_type``)
    kernel_size : odd int
    padding : int or ``"same"`` (``= (k-1)/2``), default 0 (zero padding)
    stride : int, default 1
    bias : bool, default True
        Learnable bias on the scalar (``l = 0``) output fields only.
    sigma, radii, frequencies_per_radius, maximum_frequency, window :
        The radial shells and band limit of :class:`~fiberconv.nn.r3.kernels.R3KernelBasis`.
    dtype, device : of the parameters and basis buffers (default: torch defaults)

    Shapes: ``(B, in_type.dim, X, Y, Z) -> (B, out_type.dim, X', Y', Z')`` with
    ``X' = floor((X + 2 padding - k) / stride) + 1``.

    Exact equivariance under the 24 cube rotations needs the output grid to be mapped onto itself:
    true for ``stride = 1``; for ``stride > 1`` when ``X + 2 padding - k`` is divisible by ``stride``
    (e.g. odd sizes with ``stride = 2``, ``padding = (k-1)/2``). The forward pass checks this from the
    input's shape and warns (:class:`~fiberconv.validation.EquivarianceWarning`) where it fails.
    """

    def __init__(self, in_type: FieldType, out_type: FieldType, kernel_size: int, padding: int | str = 0,
                 stride: int = 1, bias: bool = True, sigma: float = 0.6, radii: Sequence[float] | None = None,
                 frequencies_per_radius: float = 1.0, maximum_frequency: int | None = None, window="auto",
                 dtype: torch.dtype | None = None, device=None):
        super().__init__()
        check_r3_field_type(in_type, "R3Conv", "in_type")
        check_r3_field_type(out_type, "R3Conv", "out_type")
        self.in_type, self.out_type = in_type, out_type
        self.kernel_size = kernel_size  # validated by the basis
        if padding == "same":
            padding = (kernel_size - 1) // 2 if isinstance(kernel_size, int) else 0
        self.padding = check_int(padding, "padding", 0, who="R3Conv")
        self.stride = check_int(stride, "stride", 1, who="R3Conv")
        dtype = check_dtype(dtype, who="R3Conv")
        if window == "auto" and kernel_size == 1:
            window = None  # a 1x1x1 kernel has only the centre: no outer shell to taper
        self.basis = R3KernelBasis(in_type, out_type, kernel_size, sigma=sigma, radii=radii,
                                   frequencies_per_radius=frequencies_per_radius,
                                   maximum_frequency=maximum_frequency, window=window, dtype=dtype, device=device)
        for j, s in enumerate(self.basis.samples):
            self.register_buffer(f"_basis_{j}", s, persistent=False)
        self.register_buffer("_out_perm", self.basis.out_perm.to(device), persistent=False)
        self.register_buffer("_in_perm", self.basis.in_perm.to(device), persistent=False)
        self.weight = nn.Parameter(self.basis.init_std().to(dtype=dtype, device=device)
                                   * torch.randn(self.basis.num_weights, dtype=dtype, device=device))
        scalar_idx = [sl.start for sl, rep in out_type.irrep_blocks() if rep.l == 0]
        self.register_buffer("_scalar_idx", torch.tensor(scalar_idx, dtype=torch.long, device=device), persistent=False)
        if bias and scalar_idx:
            self.bias = nn.Parameter(torch.zeros(len(scalar_idx), dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self._cache = None  # (key, kernel, bias): eval-mode memo, never in the state_dict

    # -- the kernel ---------------------------------------------------------------------------------
    def _samples(self):
        return [getattr(self, f"_basis_{j}") for j in range(len(self.basis.samples))]

    def expand_parameters(self):
        """``(kernel (C_out, C_in, k, k, k), bias (C_out,) or None)`` from the current parameters."""
        kernel = self.basis.expand(self.weight, self._samples(), self._out_perm, self._in_perm)
        bias = None
        if self.bias is not None:
            bias = self.weight.new_zeros(self.out_type.dim).index_copy(0, self._scalar_idx, self.bias)
        return kernel, bias

    def _cache_key(self):
        b = self.bias
        return (self.weight._version, self.weight.data_ptr(), None if b is None else (b._version, b.data_ptr()),
                self.weight.dtype, self.weight.device)

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):
        self._cache = None
        return super()._apply(fn, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_r3_tensor(x, self.in_type, "R3Conv")
        check_matches(x, self.weight, who="R3Conv")
        k = self.kernel_size
        if min(x.shape[2:]) + 2 * self.padding < k:
            raise ValueError(f"R3Conv: spatial size {tuple(x.shape[2:])} with padding {self.padding} is smaller "
                             f"than the kernel ({k})")
        check_symmetric_windows("R3Conv", x.shape[2:], k, self.stride, self.padding)
        memo = not self.training and not (torch.is_grad_enabled() and self.weight.requires_grad)
        if memo:
            key = self._cache_key()
            if self._cache is None or self._cache[0] != key:
                with torch.no_grad():
                    self._cache = (key,) + self.expand_parameters()
            kernel, bias = self._cache[1], self._cache[2]
        else:
            self._cache = None
            kernel, bias = self.expand_parameters()
        return F.conv3d(x, kernel, bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_type} -> {self.out_type}, kernel_size={self.kernel_size}, padding={self.padding}, "
                f"stride={self.stride}, weights={self.basis.num_weights}, bias={self.bias is not None}")

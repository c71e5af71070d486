r"""Small SE(3)-equivariant networks on voxel grids, built from the library's layers.

A block is ``R3Conv -> FieldBatchNorm -> GatedNonlinearity`` (optionally followed by a pooling layer):
the convolution produces ``scalars + gates + gated fields``, the gates (scalars) are squashed by a
sigmoid and multiply their fields (:class:`~fiberconv.nn.nonlinear.GatedNonlinearity`, the same gate
as on the sphere). Fields are ``(batch, C, X, Y, Z)`` tensors.

* :func:`r3_classifier`: blocks with average pooling, a last ``R3Conv`` to scalar fields,
  :class:`~fiberconv.nn.nonlinear.InvariantPooling` and a small MLP: logits invariant under rotations
  (up to the kernels' band limit) and translations (up to the grid boundary and pooling phase); exactly
  for the 24 cube rotations when every pooling tiles the grid symmetrically (sizes divisible by
  ``2^n_pools``).
* :func:`r3_segmenter`: blocks at full resolution (``padding = (k-1)/2``) and a last ``R3Conv`` to
  ``n_classes`` scalar fields: per-voxel logits that rotate with the input.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ...fields import FieldType
from ...spaces.representations import SO3Irrep
from ..nonlinear import FieldBatchNorm, GatedNonlinearity, InvariantPooling
from .conv import R3Conv
from .kernels import check_r3_field_type, r3_field_type
from .pool import FieldAvgPool3d, NormMaxPool3d

__all__ = ["R3GatedBlock", "R3Classifier", "r3_classifier", "r3_segmenter"]


class R3GatedBlock(nn.Module):
    """``R3Conv(in_type -> scalars + gates + fields) -> FieldBatchNorm -> GatedNonlinearity``.

    Parameters
    ----------
    in_type : FieldType on ``R^3``
    n_scalars : int, plain scalar output fields (ReLU)
    gated : sequence of ``(l, multiplicity)`` with ``l >= 1``, the gated output fields
    kernel_size : odd int; padding is ``(k-1)/2``
    """

    def __init__(self, in_type: FieldType, n_scalars: int, gated: Sequence[tuple[int, int]], kernel_size: int = 5,
                 batch_norm: bool = True, **conv_kwargs):
        super().__init__()
        check_r3_field_type(in_type, "R3GatedBlock", "in_type")
        reps = [SO3Irrep(l) for l, m in gated for _ in range(m)]
        if any(r.l == 0 for r in reps):
            raise ValueError("R3GatedBlock: gated fields must have l >= 1 (scalars go in n_scalars)")
        self.gate = GatedNonlinearity(in_type.bundle, n_scalars, reps, SO3Irrep(0))
        self.conv = R3Conv(in_type, self.gate.in_type, kernel_size, padding="same", **conv_kwargs)
        self.norm = FieldBatchNorm(self.gate.in_type) if batch_norm else nn.Identity()
        self.in_type, self.out_type = in_type, self.gate.out_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.norm(self.conv(x)))


class R3Classifier(nn.Module):
    """``blocks -> R3Conv to scalars -> global pooling -> MLP``: SE(3)-invariant logits ``(B, n_classes)``.

    ``global_pool="mean"``: :class:`InvariantPooling` (mean over points); ``"max"``: the maximum over points
    of every scalar field (the head outputs scalars only, so this is invariant too).
    """

    def __init__(self, blocks: Sequence[nn.Module], head_conv: R3Conv, n_classes: int, hidden: int = 32,
                 global_pool: str = "mean"):
        super().__init__()
        if global_pool not in ("mean", "max"):
            raise ValueError(f"R3Classifier: global_pool must be 'mean' or 'max', got {global_pool!r}")
        if any(r.l != 0 for r in head_conv.out_type.representation.irreps):
            raise ValueError(f"R3Classifier: the head must output scalar fields, got {head_conv.out_type}")
        self.blocks = nn.Sequential(*blocks)
        self.head_conv = head_conv
        self.global_pool = global_pool
        self.pool = InvariantPooling(head_conv.out_type)
        # the features are invariant, so any layers may follow; LayerNorm removes their common mode
        self.mlp = nn.Sequential(nn.LayerNorm(self.pool.n_out), nn.Linear(self.pool.n_out, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_classes))
        self.in_type = blocks[0].in_type if blocks else head_conv.in_type

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Invariant features ``(B, n_features)`` before the MLP."""
        h = self.head_conv(self.blocks(x))
        return self.pool(h) if self.global_pool == "mean" else h.flatten(2).amax(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.features(x))


def _check_widths(widths, who):
    widths = [tuple(w) for w in widths]
    for w in widths:
        if len(w) != 2 or not all(isinstance(v, int) and v >= 0 for v in (w[0],)):
            raise ValueError(f"{who}: every width must be (n_scalars, [(l, mult), ...]), got {w!r}")
    if not widths:
        raise ValueError(f"{who}: needs at least one block")
    return widths


def r3_classifier(in_type: FieldType, n_classes: int,
                  widths: Sequence[tuple[int, Sequence[tuple[int, int]]]] = ((8, ((1, 2), (2, 1))), (8, ((1, 2), (2, 1)))),
                  kernel_size: int = 5, pool: str = "avg", n_head: int = 16, hidden: int = 32,
                  global_pool: str = "mean", batch_norm: bool = True, **conv_kwargs) -> R3Classifier:
    """An SE(3)-invariant classifier.

    Parameters
    ----------
    in_type : FieldType on ``R^3`` (e.g. ``r3_field_type((0, 1))`` for occupancy grids)
    n_classes : int
    widths : per block ``(n_scalars, [(l, multiplicity), ...])`` of its gated output
    pool : ``"avg"`` (:class:`FieldAvgPool3d`), ``"norm"`` (:class:`NormMaxPool3d`) or ``"none"``: kernel 2,
        stride 2 after every block but the last
    n_head : scalar fields of the last convolution (invariant features)
    global_pool : ``"mean"`` or ``"max"`` over points (:class:`R3Classifier`)
    batch_norm : use :class:`FieldBatchNorm` in the blocks
    """
    check_r3_field_type(in_type, "r3_classifier", "in_type")
    widths = _check_widths(widths, "r3_classifier")
    if pool not in ("avg", "norm", "none"):
        raise ValueError(f"r3_classifier: pool must be 'avg', 'norm' or 'none', got {pool!r}")
    layers, ft = [], in_type
    for i, (ns, gated) in enumerate(widths):
        block = R3GatedBlock(ft, ns, gated, kernel_size, batch_norm=batch_norm, **conv_kwargs)
        layers.append(block)
        ft = block.out_type
        if pool != "none" and i < len(widths) - 1:
            layers.append(FieldAvgPool3d(ft, 2) if pool == "avg" else NormMaxPool3d(ft, 2))
    head = R3Conv(ft, r3_field_type((0, n_head)), kernel_size, padding="same", **conv_kwargs)
    return R3Classifier(layers, head, n_classes, hidden, global_pool)


def r3_segmenter(in_type: FieldType, n_classes: int,
                 widths: Sequence[tuple[int, Sequence[tuple[int, int]]]] = ((8, ((1, 2), (2, 1))), (8, ((1, 2), (2, 1)))),
                 kernel_size: int = 5, **conv_kwargs) -> nn.Sequential:
    """An SE(3)-equivariant segmenter: ``(B, in_type.dim, X, Y, Z) -> (B, n_classes, X, Y, Z)`` logits
    (scalar fields), same resolution."""
    check_r3_field_type(in_type, "r3_segmenter", "in_type")
    widths = _check_widths(widths, "r3_segmenter")
    layers, ft = [], in_type
    for ns, gated in widths:
        block = R3GatedBlock(ft, ns, gated, kernel_size, **conv_kwargs)
        layers.append(block)
        ft = block.out_type
    layers.append(R3Conv(ft, r3_field_type((0, n_classes)), kernel_size, padding="same", **conv_kwargs))
    return nn.Sequential(*layers)

r"""Pointwise bilinear layers for fields on ``R^3``: :class:`CrossProduct`.

Tensors are ``(batch, C, X, Y, Z)`` with ``C = field_type.dim`` (:mod:`fiberconv.spaces.voxels`).

The cross product of two vector (``l = 1``) fields is SO(3)-equivariant,

.. math:: (R a) \times (R b) = \det(R)\, R\, (a \times b) = R\, (a \times b), \qquad R \in SO(3),

and, being pointwise, it commutes with every rotation of the grid as well. It is *not*
O(3)-equivariant: under the inversion ``-I`` both factors flip and the product does not (a
pseudovector). That is what lets a network built from it tell a chiral shape from its mirror image,
which no network of convolutions, norm and gated nonlinearities of true vectors can (those are
O(3)-equivariant, so their invariants are parity-even).

The library's real ``l = 1`` basis orders the components ``(y, z, x)``, a cyclic permutation of
``(x, y, z)``; the cross product is unchanged by a cyclic relabelling of the axes, so the usual
component formula applies to the stored channels as they are.
"""
from __future__ import annotations

import torch
from torch import nn

from ...fields import FieldType
from ...spaces.representations import SO3Irrep
from ...validation import check_int
from .conv import check_r3_tensor
from .kernels import check_r3_field_type, r3_field_type

__all__ = ["CrossProduct"]


class CrossProduct(nn.Module):
    r"""Appends ``v_{2i} x v_{2i+1}`` (``i < n_pairs``) to a field: the first ``2 n_pairs`` vector fields of
    ``in_type``, taken in channel order, are multiplied pairwise.

    Parameters
    ----------
    in_type : FieldType on ``R^3`` with at least ``2 n_pairs`` fields of type ``SO3Irrep(1)``
    n_pairs : int >= 1

    Shapes
    ------
    ``(B, in_type.dim, X, Y, Z) -> (B, in_type.dim + 3 n_pairs, X, Y, Z)``: the input, then the products;
    ``out_type = in_type + r3_field_type((1, n_pairs))``.
    """

    def __init__(self, in_type: FieldType, n_pairs: int):
        super().__init__()
        check_r3_field_type(in_type, "CrossProduct", "in_type")
        check_int(n_pairs, "n_pairs", 1, who="CrossProduct")
        starts = [sl.start for sl, rep in zip(in_type.slices, in_type.fields) if rep == SO3Irrep(1)]
        if len(starts) < 2 * n_pairs:
            raise ValueError(f"CrossProduct: {n_pairs} pairs need {2 * n_pairs} vector (l = 1) fields, "
                             f"{in_type} has {len(starts)}")
        index = torch.tensor(starts[: 2 * n_pairs]).view(n_pairs, 2, 1) + torch.arange(3)  # (pair, factor, comp)
        self.register_buffer("index", index, persistent=False)
        self.n_pairs = n_pairs
        self.in_type = in_type
        self.out_type = in_type + r3_field_type((1, n_pairs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_r3_tensor(x, self.in_type, "CrossProduct")
        a, b = x[:, self.index[:, 0]], x[:, self.index[:, 1]]  # (B, n_pairs, 3, X, Y, Z)
        return torch.cat([x, torch.linalg.cross(a, b, dim=2).flatten(1, 2)], 1)

    def extra_repr(self) -> str:
        return f"{self.in_type}, n_pairs={self.n_pairs}"

r"""Field types: a direct sum of associated bundles over one principal bundle, with multiplicities.

A field type ``(rho_1, ..., rho_n)`` over ``G -> G/H`` describes a stack of fields (Sec. 2.3); its
fibre is ``V = V_1 + ... + V_n`` with ``rho = rho_1 + ... + rho_n`` acting block-diagonally.

Tensor encodings (fixed across the library)
-------------------------------------------
* local sections on a grid of ``G/H``: ``f`` of shape ``(batch, C, N)``, ``C = field_type.dim``,
  ``N`` grid points; channel block ``field_type.slices[i]`` holds field ``i``'s components in the
  frame of the section ``s(x)``.
* Mackey functions on a fibred sampling of ``G`` (:class:`~fiberconv.fields.sampling.FibredSampling`):
  ``F`` of shape ``(batch, C, N, K)``, ``F[..., i, k] = F(s(x_i) h_k)``.

Example: three scalar fields and two tangent vector fields on ``S^2``::

    ft = FieldType(sphere_bundle(), [(SO2Irrep(0), 3), (SO2Irrep(1), 2)])   # ft.dim == 7
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch

from ..bundles import AssociatedBundle, PrincipalBundle
from ..spaces.representations import DirectSum, Representation, SO2Irrep

__all__ = ["FieldType", "sphere_field_type"]

Entry = Union[Representation, tuple[Representation, int]]


class FieldType:
    """A stack of fields ``rho_1 + ... + rho_n`` over a principal bundle.

    Parameters
    ----------
    bundle : PrincipalBundle
    fields : sequence of ``Representation`` or ``(Representation, multiplicity)``
        Representations of the bundle's fibre group ``H``, in channel order.
    """

    def __init__(self, bundle: PrincipalBundle, fields: Sequence[Entry]):
        if not isinstance(bundle, PrincipalBundle):
            raise TypeError(f"FieldType: expected a PrincipalBundle, got {type(bundle).__name__}")
        expanded: list[Representation] = []
        for item in fields:
            rep, mult = item if isinstance(item, tuple) else (item, 1)
            if isinstance(mult, bool) or not isinstance(mult, int) or mult < 0:
                raise ValueError(f"FieldType: multiplicity must be a non-negative int, got {mult!r}")
            if not isinstance(rep, Representation):
                raise TypeError(f"FieldType: expected Representation entries, got {type(rep).__name__}")
            expanded.extend([rep] * mult)
        if not expanded:
            raise ValueError("FieldType: needs at least one field")
        self.bundle = bundle
        self.fields: list[Representation] = expanded
        # validates that every rho represents the fibre group
        self.associated = [AssociatedBundle(bundle, r) for r in expanded]
        self.representation = DirectSum(expanded)
        self.dim = self.representation.dim
        self.slices: list[slice] = []
        start = 0
        for r in expanded:
            self.slices.append(slice(start, start + r.dim))
            start += r.dim

    # -- the fibre representation -----------------------------------------------------------------
    def rho(self, h: torch.Tensor) -> torch.Tensor:
        """``rho(h) (..., C, C)`` for fibre-group elements ``h``."""
        return self.representation(h)

    def irrep_blocks(self):
        """``[(slice, irrep)]`` over every irreducible block, in channel order."""
        out, start = [], 0
        for r in self.representation.irreps:
            out.append((slice(start, start + r.dim), r))
            start += r.dim
        return out

    # -- validation -------------------------------------------------------------------------------
    def check_local(self, f: torch.Tensor, npoints: int, grid_name: str = "the grid") -> torch.Tensor:
        """Check ``f`` is a local-section tensor ``(batch, C, N)`` of this type; return it."""
        if not isinstance(f, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor field of type {self}, got {type(f).__name__}")
        if f.dim() != 3 or f.shape[1] != self.dim or f.shape[2] != npoints:
            raise ValueError(
                f"expected a local-section tensor of shape (batch, {self.dim}, {npoints}) for {self} on "
                f"{grid_name}, got {tuple(f.shape)}"
            )
        if not f.is_floating_point():
            raise TypeError(f"expected a floating field tensor, got dtype {f.dtype}")
        return f

    def check_mackey(self, F: torch.Tensor, npoints: int, nfibre: int, where: str = "the sampling") -> torch.Tensor:
        """Check ``F`` is a Mackey tensor ``(batch, C, N, K)`` of this type; return it."""
        if not isinstance(F, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor Mackey function of type {self}, got {type(F).__name__}")
        if F.dim() != 4 or tuple(F.shape[1:]) != (self.dim, npoints, nfibre):
            raise ValueError(
                f"expected a Mackey tensor of shape (batch, {self.dim}, {npoints}, {nfibre}) for {self} on "
                f"{where}, got {tuple(F.shape)}"
            )
        if not F.is_floating_point():
            raise TypeError(f"expected a floating Mackey tensor, got dtype {F.dtype}")
        return F

    # -- algebra ------------------------------------------------------------------------------------
    def __add__(self, other: FieldType) -> FieldType:
        if not isinstance(other, FieldType) or other.bundle != self.bundle:
            raise ValueError("only field types over the same principal bundle can be added")
        return FieldType(self.bundle, self.fields + other.fields)

    def __eq__(self, other) -> bool:
        return isinstance(other, FieldType) and self.bundle == other.bundle and self.fields == other.fields

    def __hash__(self) -> int:
        return hash((self.bundle, tuple(self.fields)))

    def __len__(self) -> int:
        return len(self.fields)

    def __repr__(self) -> str:
        groups, prev, count = [], None, 0
        for r in self.fields + [None]:
            if r == prev:
                count += 1
                continue
            if prev is not None:
                groups.append(f"{count}x{prev!r}" if count > 1 else repr(prev))
            prev, count = r, 1
        return f"FieldType({self.bundle.space.name}: {' + '.join(groups)})"


def sphere_field_type(*entries: tuple[int, int], bundle: PrincipalBundle = None) -> FieldType:
    """Field type on ``S^2`` from ``(frequency m, multiplicity)`` pairs.

    ``sphere_field_type((0, 3), (1, 2))`` is three scalar fields then two tangent vector fields.
    """
    from ..bundles import sphere_bundle

    bundle = sphere_bundle() if bundle is None else bundle
    return FieldType(bundle, [(SO2Irrep(m), n) for m, n in entries])

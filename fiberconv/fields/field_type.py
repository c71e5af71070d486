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

import torch

from ..bundles import AssociatedBundle, PrincipalBundle
from ..spaces.representations import DirectSum, Representation, SO2Irrep
from ..validation import ArgumentTypeError, check_nonnegative_int, check_tensor

__all__ = ["FieldType", "sphere_field_type"]

Entry = Representation | tuple[Representation, int]


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
            check_nonnegative_int(mult, "multiplicity", who="FieldType")
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
        """Check ``f`` is a floating local-section tensor ``(batch, C, N)`` of this type; return it.

        Metadata only (see the NaN policy of :mod:`fiberconv.validation`)."""
        return check_tensor(f, "a local-section tensor", ("batch", self.dim, npoints),
                            context=f" for {self} on {grid_name}")

    def check_mackey(self, F: torch.Tensor, npoints: int, nfibre: int, where: str = "the sampling") -> torch.Tensor:
        """Check ``F`` is a floating Mackey tensor ``(batch, C, N, K)`` of this type; return it."""
        return check_tensor(F, "a Mackey tensor", ("batch", self.dim, npoints, nfibre), context=f" for {self} on {where}")

    def check_tensor(self, x: torch.Tensor, who: str, name: str = "input", points=(...,), where: str = "") -> torch.Tensor:
        """Check ``x`` is a floating tensor ``(batch, C, *points)`` of this type; return it.

        ``points``: the expected point dimensions (ints, names, or a final ``...``); ``where``: the grid.
        Skipped while ``torch.compile`` traces (the compiled graph guards on the shapes it was traced with).
        """
        if torch.compiler.is_compiling():
            return x
        return check_tensor(x, name, ("batch", self.dim, *points), who=who,
                            context=f" for {self}" + (f" on {where}" if where else ""))

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

    pairs = check_field_entries(entries, "sphere_field_type", "frequency m", "sphere_field_type((0, 3), (1, 2))")
    bundle = sphere_bundle() if bundle is None else bundle
    return FieldType(bundle, [(SO2Irrep(m), n) for m, n in pairs])


def check_field_entries(entries, who: str, label: str, example: str) -> list[tuple[int, int]]:
    """Validate ``(label, multiplicity)`` pairs of ints (``label >= 0``, multiplicity ``>= 0``, at least one
    field in all); return them as int pairs. ``example`` is shown in messages."""
    pairs = []
    for e in entries:
        if not (isinstance(e, (tuple, list)) and len(e) == 2):
            raise ArgumentTypeError(f"{who}: each entry must be a pair ({label}, multiplicity), e.g. {example}; "
                                    f"got {type(e).__name__} {e!r}")
        pairs.append((check_nonnegative_int(e[0], label, who=who), check_nonnegative_int(e[1], "multiplicity", who=who)))
    if not any(n for _, n in pairs):
        swapped = [(n, m) for m, n in pairs if m > 0]
        hint = f" (the pairs are ({label}, multiplicity): did you mean {', '.join(map(str, swapped))}?)" if swapped else ""
        raise ValueError(f"{who}: needs at least one field, got entries {pairs} with total multiplicity 0{hint}")
    return pairs

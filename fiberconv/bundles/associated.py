r"""The associated vector bundle ``A = G x_rho V`` (Sec. 2.3).

Its elements are orbits ``[g, v] = {(g h, rho(h)^-1 v) : h in H}``; a field is a section of ``A``.
Relative to the section ``s`` of the principal bundle, the fibre over ``x`` is identified with ``V``
through the frame ``s(x)``, and moving a fibre by ``g`` changes that identification by
``rho(h(x, g))`` — the cocycle made linear (:meth:`AssociatedBundle.transport`).
"""
from __future__ import annotations

import torch

from ..spaces.representations import Representation
from .principal import PrincipalBundle

__all__ = ["AssociatedBundle"]


class AssociatedBundle:
    """``G x_rho V`` over ``G/H`` for a representation ``rho`` of the fibre group ``H``.

    Parameters
    ----------
    principal : PrincipalBundle
    rho : Representation of ``principal.stabilizer``
    """

    def __init__(self, principal: PrincipalBundle, rho: Representation):
        if not isinstance(principal, PrincipalBundle):
            raise TypeError(f"AssociatedBundle: expected a PrincipalBundle, got {type(principal).__name__}")
        if not isinstance(rho, Representation):
            raise TypeError(f"AssociatedBundle: expected a Representation, got {type(rho).__name__}")
        if rho.group != principal.stabilizer:
            raise ValueError(
                f"AssociatedBundle: rho represents {rho.group.name}, but the fibre group of "
                f"{principal} is {principal.stabilizer.name}"
            )
        self.principal = principal
        self.rho = rho

    @property
    def fiber_dim(self) -> int:
        return self.rho.dim

    def transport(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        r"""``rho(h(x, g))``: maps the components of a fibre vector at ``x`` (in the frame ``s(x)``)
        to the components of its image under ``g`` at ``gx`` (in the frame ``s(gx)``).

        Because ``g [s(x), v] = [g s(x), v] = [s(gx) h(x, g), v] = [s(gx), rho(h(x, g)) v]``.
        Shapes: ``x (..., point_dim)``, ``g (..., *G)``; returns ``(..., dim, dim)``.
        """
        return self.rho(self.principal.cocycle(x, g))

    def __repr__(self):
        return f"AssociatedBundle({self.principal!r}, {self.rho!r})"

    def __eq__(self, other):
        return isinstance(other, AssociatedBundle) and self.principal == other.principal and self.rho == other.rho

    def __hash__(self):
        return hash((self.principal, self.rho))

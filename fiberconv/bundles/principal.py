r"""``G`` as a principal ``H``-bundle over ``G/H`` (Sec. 2.2 of Cohen, Geiger & Weiler 2019).

=====================  ====================================  =====================================
object                 formula                               method
=====================  ====================================  =====================================
projection             ``p(g) = gH`` (the point ``g o``)     :meth:`PrincipalBundle.projection`
section                ``s: G/H -> G`` with ``p(s(x)) = x``  :meth:`PrincipalBundle.section`
cocycle (twist)        ``h(x, g) = s(gx)^-1 g s(x)`` in H    :meth:`PrincipalBundle.cocycle`
fibre coordinate       ``h(g) = s(gH)^-1 g`` in H            :meth:`PrincipalBundle.h`
=====================  ====================================  =====================================

Every ``g`` splits as ``g = s(gH) h(g)``, and the cocycle satisfies
``h(x, g1 g2) = h(g2 x, g1) h(x, g2)``. Elements of ``H`` are returned in ``H``'s own encoding
(``SO(2)``: ``(..., 2, 2)``, ``SO(3)``: ``(..., 3, 3)``).
"""
from __future__ import annotations

import torch

from ..spaces.groups import SE3
from ..spaces.homogeneous import EuclideanR3, HomogeneousSpace, Sphere, zy_matrix

__all__ = ["Section", "SphereSection", "TranslationSection", "PrincipalBundle"]


class Section:
    """A section ``s: G/H -> G`` of the principal bundle, ``s(x) o = x``.

    ``undefined_on`` says in words where ``s`` is not defined (empty for a global section);
    :meth:`defined` tells it pointwise.
    """

    undefined_on: str = ""
    #: the homogeneous-space class this section is the default of (``PrincipalBundle(space)`` without a
    #: section takes it): a new base space declares its section here, and no switch elsewhere changes
    default_for: type | None = None

    def __call__(self, x: torch.Tensor, strict: bool = True) -> torch.Tensor:
        raise NotImplementedError

    def defined(self, x: torch.Tensor) -> torch.Tensor:
        """Boolean mask ``(...,)``: where the section is defined (and continuous)."""
        return torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)


class SphereSection(Section):
    r"""``s(alpha, beta) = Z(alpha) Y(beta)`` on ``S^2``.

    Its columns are ``(e_theta, e_phi, x)``: it maps the frame ``(e_x, e_y)`` at the north pole to
    the frame (south, east) at ``x``. No continuous global section of ``SO(3) -> S^2`` exists (the
    hairy-ball theorem); this one is undefined at the poles ``x = +-e_z``, where the longitude is.
    HEALPix pixel centres never lie on a pole.
    """

    default_for = Sphere
    undefined_on = "the poles x = +e_z and x = -e_z (beta = 0 or pi), where the longitude alpha is undefined"

    def __init__(self, pole_tolerance: float | None = None):
        self.pole_tolerance = pole_tolerance

    def _tol(self, dtype):
        if self.pole_tolerance is not None:
            return self.pole_tolerance
        return 1e-12 if dtype == torch.float64 else 1e-6

    def defined(self, x):
        return torch.linalg.vector_norm(x[..., :2], dim=-1) > self._tol(x.dtype)

    def __call__(self, x, strict: bool = True):
        Sphere().check_points(x)
        rho = torch.linalg.vector_norm(x[..., :2], dim=-1)
        bad = rho <= self._tol(x.dtype)
        if strict and bool(bad.any()):
            idx = torch.nonzero(bad)[:5].tolist()
            raise ValueError(
                f"SphereSection: s(x) = Z(alpha)Y(beta) is undefined at {self.undefined_on}; "
                f"{int(bad.sum())} of the given points lie there (first indices {idx}). "
                "Rotate the grid or use points off the poles."
            )
        safe = torch.where(bad, torch.ones_like(rho), rho)
        ca = torch.where(bad, torch.ones_like(rho), x[..., 0] / safe)
        sa = torch.where(bad, torch.zeros_like(rho), x[..., 1] / safe)
        return zy_matrix(ca, sa, x[..., 2], rho)


class TranslationSection(Section):
    """``s(x)`` = the translation by ``x`` in SE(3): a global section of ``SE(3) -> R^3``."""

    default_for = EuclideanR3
    undefined_on = ""

    def __call__(self, x, strict: bool = True):
        EuclideanR3().check_points(x)
        eye = torch.eye(3, dtype=x.dtype, device=x.device).expand(x.shape[:-1] + (3, 3))
        return SE3.from_parts(eye, x)


def _default_section(space: HomogeneousSpace) -> Section:
    todo = [Section]
    while todo:  # every Section subclass, subclasses of subclasses included
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.default_for is type(space):
            return cls()
    raise TypeError(f"no default section for {space!r}: pass one, or declare a Section subclass with "
                    f"default_for = {type(space).__name__}")


class PrincipalBundle:
    """The principal ``H``-bundle ``p: G -> G/H`` of a homogeneous space, with a chosen section.

    Parameters
    ----------
    space : HomogeneousSpace
        ``Sphere()`` (``SO(3) -> S^2``) or ``EuclideanR3()`` (``SE(3) -> R^3``).
    section : Section, optional
        Defaults to :class:`SphereSection` / :class:`TranslationSection`.
    """

    def __init__(self, space: HomogeneousSpace, section: Section | None = None):
        if not isinstance(space, HomogeneousSpace):
            raise TypeError(f"PrincipalBundle: expected a HomogeneousSpace, got {type(space).__name__}")
        self.space = space
        self.section_map = section if section is not None else _default_section(space)

    @property
    def group(self):
        return self.space.group

    @property
    def stabilizer(self):
        return self.space.stabilizer

    def __repr__(self):
        return f"PrincipalBundle({self.group.name} -> {self.space.name}, fibre {self.stabilizer.name})"

    def __eq__(self, other):
        return (
            isinstance(other, PrincipalBundle)
            and self.space == other.space
            and type(self.section_map) is type(other.section_map)
        )

    def __hash__(self):
        return hash((self.space, type(self.section_map)))

    # -- the maps of Sec. 2.2 --------------------------------------------------------------------
    def projection(self, g: torch.Tensor) -> torch.Tensor:
        """``p(g) = gH``, as the point ``g o``: ``(..., *G) -> (..., point_dim)``."""
        return self.space.project(g)

    def section(self, x: torch.Tensor, strict: bool = True) -> torch.Tensor:
        """``s(x)``: ``(..., point_dim) -> (..., *G)``; raises where undefined if ``strict``."""
        return self.section_map(x, strict=strict)

    def cocycle(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        r"""The twist ``h(x, g) = s(gx)^{-1} g s(x)``, an element of ``H``.

        Defined by ``g s(x) = s(gx) h(x, g)``. Shapes: ``x (..., point_dim)``, ``g (..., *G)``
        broadcast; returns ``(..., *H)``.
        """
        self.space.check_points(x)
        G = self.group
        G.check(g)
        gx = G.act(g, x)
        k = G.compose(G.inverse(self.section(gx)), G.compose(g, self.section(x)))
        return self.space.to_stabilizer(k)

    def h(self, g: torch.Tensor) -> torch.Tensor:
        r"""``h(g) = s(gH)^{-1} g`` in ``H``, so that ``g = s(gH) h(g)`` (eq. 2).

        Where the section is discontinuous (the poles of ``S^2``) it takes its conventional value there
        (``alpha = 0``: ``s(e_z) = I``, ``s(-e_z) = Y(pi)``), so ``h(k) = k`` for ``k`` in ``H``.
        """
        G = self.group
        return self.space.to_stabilizer(G.compose(G.inverse(self.section(self.projection(g), strict=False)), g))

    def twist(self, x: torch.Tensor, y: torch.Tensor):
        r"""The geometry of the rho-twisted cross-correlation (eq. 14) for points ``x``, ``y``.

        Returns ``(z, h)`` with ``z = s(x)^{-1} y`` (``y`` seen from ``x``'s frame) and
        ``h = h(s(x)^{-1} s(y)) = s(z)^{-1} s(x)^{-1} s(y)`` in ``H``, the twist that expresses a fibre
        vector at ``y`` (in the frame ``s(y)``) in the frame ``s(z)`` at ``z``. At ``y = x`` the point
        ``z`` is the origin, where the section takes its value there (``s(o)`` = identity on ``S^2``).
        Shapes: ``x, y (..., point_dim)`` broadcast; returns ``z (..., point_dim)``, ``h (..., *H)``.
        """
        G = self.group
        rel = G.compose(G.inverse(self.section(x)), self.section(y))
        z = self.projection(rel)
        return z, self.space.to_stabilizer(G.compose(G.inverse(self.section(z, strict=False)), rel))

    def decompose(self, g: torch.Tensor):
        """``g -> (x, h)`` with ``g = s(x) embed(h)``."""
        return self.projection(g), self.h(g)

    def compose_from(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``(x, h) -> s(x) embed(h)``: the inverse of :meth:`decompose`."""
        return self.group.compose(self.section(x), self.space.embed(h))


def sphere_bundle() -> PrincipalBundle:
    """``SO(3) -> S^2`` with ``s(alpha, beta) = Z(alpha) Y(beta)``."""
    return PrincipalBundle(Sphere())


def r3_bundle() -> PrincipalBundle:
    """``SE(3) -> R^3`` with ``s(x)`` = translation by ``x``."""
    return PrincipalBundle(EuclideanR3())


__all__ += ["sphere_bundle", "r3_bundle"]

r"""Homogeneous spaces ``B = G/H`` with an origin ``o`` and its stabilizer ``H = {g : g o = o}``.

A point of ``B`` is stored as a tensor ``(..., point_dim)``; the coset ``gH`` is the point ``g o``.

==================  ========  ==========  ===========================  ================================
space               ``G``     ``H``       origin ``o``                 ``H`` inside ``G``
==================  ========  ==========  ===========================  ================================
``Sphere()``        SO(3)     SO(2)       north pole ``e_z``           ``Z(t)``: rotations about z
``EuclideanR3()``   SE(3)     SO(3)       ``0``                        rotations about the origin
==================  ========  ==========  ===========================  ================================
"""
from __future__ import annotations

import math

import torch

from ..validation import check_dtype
from .groups import SE3, SO2, SO3, Group, _check_tail, rot_y, rot_z

__all__ = ["HomogeneousSpace", "Sphere", "EuclideanR3"]


class HomogeneousSpace:
    """``G/H`` with origin ``o``; ``embed`` maps ``H`` into ``G``, ``to_stabilizer`` maps back."""

    group: Group
    stabilizer: Group
    point_dim: int
    name: str = "G/H"

    def origin(self, dtype=None, device=None) -> torch.Tensor:
        raise NotImplementedError

    def check_points(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        _check_tail(name, x, (self.point_dim,), f"points of {self.name}")
        return x

    def act(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The action ``g x`` of ``G`` on points."""
        return self.group.act(g, self.check_points(x))

    def project(self, g: torch.Tensor) -> torch.Tensor:
        """The coset ``gH`` as the point ``g o``."""
        self.group.check(g)
        return self.group.act(g, self.origin(dtype=g.dtype, device=g.device))

    def embed(self, h: torch.Tensor) -> torch.Tensor:
        """``H -> G``."""
        raise NotImplementedError

    def to_stabilizer(self, k: torch.Tensor, check: bool = True) -> torch.Tensor:
        """``G -> H`` for elements ``k`` that fix the origin; with ``check`` a ``ValueError`` if one does not."""
        raise NotImplementedError

    # -- double cosets H \ G / H (Theorem 3.4) -------------------------------------------------------
    def double_coset(self, x: torch.Tensor):
        """``x -> (r, h)`` with ``x = h gamma(r) o``: the double-coset parameter ``r`` of the point and an
        ``h`` in ``H`` (in ``H``'s encoding)."""
        raise NotImplementedError

    def coset_representative(self, r: torch.Tensor) -> torch.Tensor:
        """``gamma(r)`` in ``G``: the chosen representative of the double coset ``r``."""
        raise NotImplementedError

    def double_coset_stabilizer(self, r: float, n: int, seed=None, dtype=None, device=None) -> torch.Tensor:
        """``n`` Haar samples of ``H^{gamma(r) H} = {h in H : h gamma(r) o = gamma(r) o}`` (in ``H``'s encoding)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


def _tol(dtype: torch.dtype) -> float:
    return 1e-9 if dtype == torch.float64 else 1e-4


def zy_matrix(cos_alpha: torch.Tensor, sin_alpha: torch.Tensor, cos_beta: torch.Tensor, sin_beta: torch.Tensor) -> torch.Tensor:
    """``Z(alpha) Y(beta)`` of shape ``(..., 3, 3)`` from the cosines and sines: the sphere's section.

    Its columns are ``e_theta`` (south), ``e_phi`` (east) and the point ``Z(alpha) Y(beta) e_z``. Every
    writing of the section in the library (:class:`~fiberconv.bundles.SphereSection`, the HEALPix
    frames, the double cosets of ``R^3``, the SO(3) action of LieConv) calls this function.
    """
    z = torch.zeros_like(cos_alpha * cos_beta)
    rows = [cos_alpha * cos_beta, -sin_alpha + z, cos_alpha * sin_beta, sin_alpha * cos_beta, cos_alpha + z,
            sin_alpha * sin_beta, -sin_beta + z, z, cos_beta + z]
    return torch.stack(rows, dim=-1).reshape(z.shape + (3, 3))


def zy_section(x: torch.Tensor, pole_tol: float = 0.0) -> torch.Tensor:
    """``Z(alpha) Y(beta)`` with ``x = |x| Z(alpha) Y(beta) e_z`` for ``x (..., 3)`` of any length:
    ``alpha = 0`` where ``|x_xy| <= pole_tol`` (the poles) and the identity at ``x = 0``."""
    rho = torch.linalg.vector_norm(x[..., :2], dim=-1)
    r = torch.linalg.vector_norm(x, dim=-1)
    pole, zero = rho <= pole_tol, r == 0
    safe_rho, safe_r = torch.where(pole, torch.ones_like(rho), rho), torch.where(zero, torch.ones_like(r), r)
    ca = torch.where(pole, torch.ones_like(rho), x[..., 0] / safe_rho)
    sa = torch.where(pole, torch.zeros_like(rho), x[..., 1] / safe_rho)
    cb = torch.where(zero, torch.ones_like(r), x[..., 2] / safe_r)
    return zy_matrix(ca, sa, cb, rho / safe_r)


class Sphere(HomogeneousSpace):
    r"""``S^2 = SO(3)/SO(2)``: points are unit vectors ``(..., 3)``, ``o = e_z``, ``H = {Z(t)}``.

    Spherical coordinates: colatitude ``beta`` in ``[0, pi]`` and longitude ``alpha`` in ``(-pi, pi]``,
    ``x = (cos alpha sin beta, sin alpha sin beta, cos beta) = Z(alpha) Y(beta) e_z``.
    """

    group = SO3
    stabilizer = SO2
    point_dim = 3
    name = "S^2"

    def origin(self, dtype=None, device=None):
        return torch.tensor([0.0, 0.0, 1.0], dtype=check_dtype(dtype), device=device)

    @staticmethod
    def from_angles(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """``(alpha, beta) -> x (..., 3)``."""
        alpha, beta = torch.broadcast_tensors(alpha, beta)
        sb = torch.sin(beta)
        return torch.stack([torch.cos(alpha) * sb, torch.sin(alpha) * sb, torch.cos(beta)], dim=-1)

    def to_angles(self, x: torch.Tensor):
        """``x (..., 3) -> (alpha, beta)``; ``alpha = 0`` at the poles, where it is undefined."""
        self.check_points(x)
        rho = torch.linalg.vector_norm(x[..., :2], dim=-1)
        beta = torch.atan2(rho, x[..., 2])
        # at a pole atan2 of two rounding errors is arbitrary: use the section's convention alpha = 0
        pole = rho <= (1e-12 if x.dtype == torch.float64 else 1e-6)
        alpha = torch.where(pole, torch.zeros_like(rho), torch.atan2(x[..., 1], x[..., 0]))
        return alpha, beta

    def embed(self, h):
        SO2.check(h, "h")
        return rot_z(SO2.angle(h))

    def embed_angle(self, t: torch.Tensor) -> torch.Tensor:
        """``Z(t)``: the stabilizer element of angle ``t`` as an SO(3) matrix."""
        return rot_z(t)

    def stabilizer_angle(self, k: torch.Tensor, check: bool = True) -> torch.Tensor:
        """The angle ``t`` of ``k = Z(t)``; with ``check`` a ``ValueError`` if ``k e_z != e_z``."""
        SO3.check(k, "k")
        if check:
            err = (k[..., :, 2] - self.origin(k.dtype, k.device)).abs().amax() if k.numel() else 0.0
            if float(err) > math.sqrt(_tol(k.dtype)):
                raise ValueError(
                    f"S^2: element does not fix the origin e_z (|k e_z - e_z| = {float(err):.3g}); "
                    "it is not in the stabilizer H = SO(2)"
                )
        return torch.atan2(k[..., 1, 0], k[..., 0, 0])

    def to_stabilizer(self, k, check: bool = True):
        return SO2.from_angle(self.stabilizer_angle(k, check))

    def double_coset(self, x):
        """``H \\ S^2 / H = [0, pi]``: ``x = Z(alpha) Y(beta) o`` gives ``(beta, Z(alpha))``."""
        alpha, beta = self.to_angles(x)
        return beta, SO2.from_angle(alpha)

    def coset_representative(self, r):
        """``gamma(beta) = Y(beta)``."""
        return rot_y(r)

    def double_coset_stabilizer(self, r, n, seed=None, dtype=None, device=None):
        """All of ``H`` at the poles ``beta = 0, pi``; only the identity elsewhere."""
        if float(r) < 1e-12 or float(r) > math.pi - 1e-12:
            return SO2.sample(n, seed=seed, dtype=dtype, device=device)
        return SO2.identity(n, dtype=dtype, device=device)


class EuclideanR3(HomogeneousSpace):
    """``R^3 = SE(3)/SO(3)``: points ``(..., 3)``, ``o = 0``, ``H`` = rotations about the origin."""

    group = SE3
    stabilizer = SO3
    point_dim = 3
    name = "R^3"

    def origin(self, dtype=None, device=None):
        return torch.zeros(3, dtype=check_dtype(dtype), device=device)

    def embed(self, h):
        SO3.check(h, "h")
        return SE3.from_parts(h, torch.zeros(h.shape[:-1], dtype=h.dtype, device=h.device))

    def to_stabilizer(self, k, check: bool = True):
        SE3.check(k, "k")
        if check and k.numel():
            err = SE3.translation(k).abs().amax()
            if float(err) > math.sqrt(_tol(k.dtype)):
                raise ValueError(
                    f"R^3: element does not fix the origin (translation {float(err):.3g}); "
                    "it is not in the stabilizer H = SO(3)"
                )
        return SE3.rotation(k)

    def double_coset(self, x):
        """``H \\ R^3 / H = [0, inf)``: ``x = R (|x| e_z)`` with ``R = Z(alpha) Y(beta)`` the sphere's
        section at ``x / |x|`` (the identity at ``x = 0``)."""
        self.check_points(x)
        r = torch.linalg.vector_norm(x, dim=-1)
        return r, zy_section(x)

    def coset_representative(self, r):
        """``gamma(r)`` = the translation by ``r e_z``."""
        t = torch.stack([torch.zeros_like(r), torch.zeros_like(r), r], dim=-1)
        return SE3.from_parts(torch.eye(3, dtype=r.dtype, device=r.device).expand(r.shape + (3, 3)), t)

    def double_coset_stabilizer(self, r, n, seed=None, dtype=None, device=None):
        """All of SO(3) at ``r = 0``; the rotations ``Z(t)`` about the z-axis for ``r > 0``."""
        if float(r) < 1e-12:
            return SO3.sample(n, seed=seed, dtype=dtype, device=device)
        return rot_z(SO2.angle(SO2.sample(n, seed=seed, dtype=dtype, device=device)))

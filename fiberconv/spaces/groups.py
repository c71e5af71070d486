r"""Lie groups as batched torch tensors.

Every group is a stateless object whose methods act on plain tensors of group elements with any
leading batch shape, on any device and in any floating dtype. Results follow the inputs' device and
dtype; nothing is cached.

Element encodings
-----------------
============  ====================  =========================================================
group         element tensor        meaning
============  ====================  =========================================================
``SO2``       ``(..., 2, 2)``       rotation matrix ``[[cos t, -sin t], [sin t, cos t]]``
``SO3``       ``(..., 3, 3)``       rotation matrix acting on column vectors
``T3``        ``(..., 3)``          translation vector; composition is addition
``SE3``       ``(..., 4, 4)``       homogeneous matrix ``[[R, t], [0, 1]]``: x -> R x + t
============  ====================  =========================================================

Conventions (fixed for the whole library, see ``docs/conventions.md``): ZYZ Euler angles,
``g = Z(alpha) Y(beta) Z(gamma)`` with ``alpha, gamma`` in ``(-pi, pi]`` and ``beta`` in ``[0, pi]``.

Lie algebras: ``so(2)`` is ``R`` (the angle), ``so(3)`` is ``R^3`` (axis times angle, ``hat(w) x =
w x x``), ``se(3)`` is ``R^6`` ordered ``(v, w)`` (translational part first).
"""
from __future__ import annotations

import math

import torch

from ..validation import broadcast, check_orthogonal, check_positive_int
from .group_math import (  # noqa: F401  (re-exported: other modules import them from here)
    Seed,
    _batch,
    _check_tail,
    _float_dtype,
    _hat,
    _vee,
    make_generator,
    one_minus_cos_over_t2,
    rot_x,
    rot_y,
    rot_z,
    se3_jinv_coeff,
    sinc,
    t_minus_sin_over_t3,
)

__all__ = [
    "Group",
    "RigidMotionGroup",
    "SO2",
    "SO3",
    "SE3",
    "T3",
    "TranslationGroup",
    "rot_z",
    "rot_y",
    "rot_x",
    "make_generator",
]


class Group:
    """Interface shared by the groups: batched, device- and dtype-following operations."""

    name: str = "Group"
    #: trailing shape of one element tensor
    element_shape: tuple = ()
    #: dimension of the Lie algebra (length of the vectors ``exp`` takes)
    algebra_dim: int = 0
    #: dimension of the space the group acts on
    space_dim: int = 0

    def check(self, g: torch.Tensor, name: str = "g") -> torch.Tensor:
        """Validate that ``g`` has this group's element shape; return it unchanged."""
        _check_tail(name, g, self.element_shape, f"{self.name} elements")
        return g

    def check_element(self, g: torch.Tensor, name: str = "g", who: str | None = None) -> torch.Tensor:
        """Validate that ``g`` holds elements of this group: the shape (:meth:`check`) and, for groups
        with constraints on the entries (rotations: orthogonal with det +1; rigid motions: also the
        bottom row ``(0, ..., 0, 1)``), the values, to :func:`fiberconv.validation.element_tolerance`
        of ``g``'s dtype. Reads the values (one device synchronisation): for entry points that assume
        group elements (``log``, Wigner-D matrices, induced representations, checkers), not forward
        passes. Returns ``g`` unchanged."""
        return self.check(g, name if who is None else f"{who}: {name}")

    def identity(self, batch_shape=(), dtype=None, device=None) -> torch.Tensor:
        raise NotImplementedError

    def compose(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def inverse(self, g: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def act(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def exp(self, v: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def log(self, g: torch.Tensor, check: bool = True) -> torch.Tensor:
        """The Lie algebra vector of ``g``; ``check=False`` skips :meth:`check_element` (for callers that
        built ``g`` themselves, e.g. inside a forward pass)."""
        raise NotImplementedError

    def sample(self, batch_shape=(), seed: Seed = None, dtype=None, device=None) -> torch.Tensor:
        raise NotImplementedError

    def relative_log(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``log(a^-1 b)`` for elements ``a``, ``b`` broadcasting against each other, unchecked (forward passes:
        LieConv's pair inputs and distances); groups override it with a cheaper closed form."""
        a = self.inverse(a)
        if len(self.element_shape) > 1:  # matrix groups: compose needs equal batch shapes
            shape = torch.broadcast_shapes(a.shape, b.shape)
            a, b = a.expand(shape), b.expand(shape)
        return self.log(self.compose(a, b), check=False)

    @property
    def embedding_dim(self) -> int:
        """Length of :meth:`embed_log`'s output."""
        return self.algebra_dim

    def embed_log(self, a: torch.Tensor) -> torch.Tensor:
        r"""A smooth embedding of ``g = exp(a)`` from its logarithm ``a (..., algebra_dim)``:
        ``(..., embedding_dim)``.

        ``log`` jumps at the cut locus of a rotation part (``w -> -w`` at ``|w| = pi``), so an MLP on ``a``
        is discontinuous in ``g``; groups with a rotation part override this with a function of ``g`` alone
        (LieConv's kernel input, Finzi et al. 2020). Here (vector groups): ``a`` itself.
        """
        return a

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Left-invariant distance ``||log(a^-1 b)||``; batch shapes broadcast, and ``a``, ``b`` share a dtype
        (``ValueError`` / ``TypeError`` otherwise)."""
        self.check_element(a, "a"), self.check_element(b, "b")
        k = len(self.element_shape)
        try:
            torch.broadcast_shapes(a.shape[: a.dim() - k], b.shape[: b.dim() - k])
        except RuntimeError:
            raise ValueError(f"{self.name}.distance: the batch shapes of a {tuple(a.shape)} and b {tuple(b.shape)} do "
                             "not broadcast") from None
        if a.dtype != b.dtype:
            raise TypeError(f"{self.name}.distance: a and b must have the same dtype, got {a.dtype} and {b.dtype}")
        return torch.linalg.vector_norm(self.relative_log(a, b), dim=-1)

    def __repr__(self) -> str:
        return f"{self.name}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class LinearMatrixGroup(Group):
    """A group of invertible ``(..., n, n)`` matrices acting linearly on ``R^n`` (``n = space_dim``, set by
    the subclass with ``element_shape = (n, n)``): identity, product and action are the matrix ones
    (subclasses give ``inverse``, ``exp``, ``log``, ``sample``)."""

    def identity(self, batch_shape=(), dtype=None, device=None):
        eye = torch.eye(self.space_dim, dtype=_float_dtype(dtype), device=device)
        return eye.expand(_batch(batch_shape) + self.element_shape).clone()

    def compose(self, a, b):
        return self.check(a, "a") @ self.check(b, "b")

    def act(self, g, x):
        self.check(g)
        _check_tail("x", x, (self.space_dim,), f"points of R^{self.space_dim}")
        return (g @ x.unsqueeze(-1)).squeeze(-1)


class _SO2(LinearMatrixGroup):
    """SO(2) as ``(..., 2, 2)`` rotation matrices; Lie algebra = the angle."""

    name = "SO(2)"
    element_shape = (2, 2)
    algebra_dim = 1
    space_dim = 2
    embedding_dim = 2

    def embed_log(self, a):
        """``(cos w, sin w)``."""
        return torch.cat([torch.cos(a), torch.sin(a)], dim=-1)

    def check_element(self, g, name="g", who=None):
        """Shape, and orthogonality with det +1 to the dtype's tolerance (see :meth:`Group.check_element`)."""
        self.check(g, name if who is None else f"{who}: {name}")
        return check_orthogonal(g, name, what="SO(2) rotation matrices", who=who)

    def from_angle(self, angle: torch.Tensor) -> torch.Tensor:
        """``(...,) -> (..., 2, 2)``: counter-clockwise rotation by ``angle``."""
        c, s = torch.cos(angle), torch.sin(angle)
        return torch.stack([c, -s, s, c], dim=-1).reshape(angle.shape + (2, 2))

    def angle(self, g: torch.Tensor) -> torch.Tensor:
        """``(..., 2, 2) -> (...,)`` the rotation angle in ``(-pi, pi]``."""
        self.check(g)
        return torch.atan2(g[..., 1, 0] - g[..., 0, 1], g[..., 0, 0] + g[..., 1, 1])

    def inverse(self, g):
        return self.check(g).transpose(-1, -2)

    def exp(self, v):
        _check_tail("v", v, (1,), "so(2) vectors")
        return self.from_angle(v[..., 0])

    def log(self, g, check=True):
        if check:
            self.check_element(g, who="SO(2).log")
        return self.angle(g).unsqueeze(-1)

    def sample(self, batch_shape=(), seed: Seed = None, dtype=None, device=None):
        """Haar-uniform rotations: angle ~ U(-pi, pi)."""
        gen = make_generator(seed, device)
        u = torch.rand(_batch(batch_shape), generator=gen, dtype=_float_dtype(dtype), device=device)
        return self.from_angle((2 * u - 1) * math.pi)


class _SO3(LinearMatrixGroup):
    """SO(3) as ``(..., 3, 3)`` rotation matrices; Lie algebra ``R^3`` (rotation vectors)."""

    name = "SO(3)"
    element_shape = (3, 3)
    algebra_dim = 3
    space_dim = 3
    embedding_dim = 9

    def embed_log(self, a):
        """The 9 entries of the rotation matrix ``exp(a)``."""
        return self.exp(a).flatten(-2)

    def check_element(self, g, name="g", who=None):
        """Shape, and orthogonality with det +1 to the dtype's tolerance (see :meth:`Group.check_element`)."""
        self.check(g, name if who is None else f"{who}: {name}")
        return check_orthogonal(g, name, what="SO(3) rotation matrices", who=who)

    def inverse(self, g):
        return self.check(g).transpose(-1, -2)

    # -- exp / log -------------------------------------------------------------------------------
    def exp(self, v):
        r"""Rodrigues' formula ``exp(hat(w)) = I + a hat(w) + b hat(w)^2`` with Taylor series near 0."""
        _check_tail("v", v, (3,), "so(3) rotation vectors")
        theta2 = (v * v).sum(-1)
        small = theta2 < 1e-8  # only where sqrt would have an infinite gradient; a and b have no cancellation
        t = torch.where(small, theta2, torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2)))
        a = torch.where(small, 1 - theta2 / 6, sinc(t))
        b = torch.where(small, 0.5 - theta2 / 24, one_minus_cos_over_t2(t))
        k = _hat(v)
        eye = torch.eye(3, dtype=v.dtype, device=v.device)
        return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)

    def log(self, g, check=True):
        r"""Rotation vector ``w`` with ``exp(w) = g``, ``|w| <= pi``; stable near 0 and near pi.

        ``g`` is checked to be a rotation (:meth:`check_element`) unless ``check=False``.

        Near 0 it uses ``w = vee(g - g^T)/2 * theta / sin(theta)`` with a series; near pi, where
        ``sin(theta)`` vanishes, the axis comes from the symmetric part
        ``(g + g^T)/2 - cos(theta) I = (1 - cos(theta)) n n^T`` and its sign from the skew part.
        """
        if check:
            self.check_element(g, who="SO(3).log")
        else:
            self.check(g)
        tr = g[..., 0, 0] + g[..., 1, 1] + g[..., 2, 2]
        sv = _vee(g)  # sin(theta) n
        sin_t = torch.linalg.vector_norm(sv, dim=-1)
        cos_t = ((tr - 1) / 2).clamp(-1.0, 1.0)
        theta = torch.atan2(sin_t, cos_t)
        # branch 1: theta away from pi
        small = sin_t < 1e-4
        safe_sin = torch.where(small, torch.ones_like(sin_t), sin_t)
        th2 = theta * theta
        factor = torch.where(small & (cos_t > 0), 1 + th2 / 6 + 7 * th2 * th2 / 360, theta / safe_sin)
        w_regular = factor.unsqueeze(-1) * sv
        # branch 2: theta near pi
        sym = 0.5 * (g + g.transpose(-1, -2)) - cos_t[..., None, None] * torch.eye(3, dtype=g.dtype, device=g.device)
        one_m_cos = (1 - cos_t).clamp_min(1e-12)
        nn_t = sym / one_m_cos[..., None, None]
        diag = torch.diagonal(nn_t, dim1=-2, dim2=-1)
        col = diag.argmax(-1)
        n = torch.gather(nn_t, -1, col[..., None, None].expand(nn_t.shape[:-1] + (1,))).squeeze(-1)
        n = n / torch.linalg.vector_norm(n, dim=-1, keepdim=True).clamp_min(1e-12)
        sign = torch.where((n * sv).sum(-1) < 0, -torch.ones_like(theta), torch.ones_like(theta))
        w_pi = (sign * theta).unsqueeze(-1) * n
        near_pi = cos_t < -0.9
        return torch.where(near_pi.unsqueeze(-1), w_pi, w_regular)

    # -- Euler angles ----------------------------------------------------------------------------
    def from_euler(self, alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        """ZYZ Euler angles ``(...,)`` each ``-> Z(alpha) Y(beta) Z(gamma)`` of shape ``(..., 3, 3)``."""
        alpha, beta, gamma = broadcast((alpha, beta, gamma), ("alpha", "beta", "gamma"), who="SO(3).from_euler")
        return rot_z(alpha) @ rot_y(beta) @ rot_z(gamma)

    def to_euler(self, g: torch.Tensor):
        """``(..., 3, 3) ->`` ZYZ angles ``(alpha, beta, gamma)``, accurate up to the gimbal lock.

        ``alpha`` comes from the third column, ``gamma`` from ``alpha + gamma`` (read off the upper-left
        block, ``R00 + R11 = (1 + cos b) cos(a + g)``) where ``beta <= pi/2`` and from ``alpha - gamma``
        (``R00 - R11 = (cos b - 1) cos(a - g)``) where ``beta > pi/2``. Both blocks stay well conditioned
        near ``beta = 0`` and ``beta = pi``, so ``from_euler(*to_euler(R))`` reproduces ``R`` to rounding
        for every rotation; at exactly ``beta = 0`` or ``pi`` the split between ``alpha`` and ``gamma`` is
        not unique. ``g`` is checked to be a rotation (:meth:`check_element`).
        """
        self.check_element(g, who="SO(3).to_euler")
        beta = torch.atan2(torch.sqrt(g[..., 2, 0] ** 2 + g[..., 2, 1] ** 2), g[..., 2, 2])
        alpha = torch.atan2(g[..., 1, 2], g[..., 0, 2])
        a_plus_g = torch.atan2(g[..., 1, 0] - g[..., 0, 1], g[..., 0, 0] + g[..., 1, 1])
        a_minus_g = torch.atan2(-(g[..., 1, 0] + g[..., 0, 1]), g[..., 1, 1] - g[..., 0, 0])
        gamma = torch.where(g[..., 2, 2] >= 0, a_plus_g - alpha, alpha - a_minus_g)
        gamma = torch.atan2(torch.sin(gamma), torch.cos(gamma))
        return alpha, beta, gamma

    def from_axis_angle(self, axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
        """Rotation by ``angle (...,)`` about the unit vector ``axis (..., 3)``."""
        axis = axis / torch.linalg.vector_norm(axis, dim=-1, keepdim=True)
        return self.exp(axis * angle.unsqueeze(-1))

    def from_quaternion(self, q: torch.Tensor) -> torch.Tensor:
        """Unit quaternion ``(..., 4)`` ordered ``(w, x, y, z)`` -> rotation matrix."""
        _check_tail("q", q, (4,), "quaternions")
        q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
        w, x, y, z = q.unbind(-1)
        return torch.stack(
            [
                1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
                2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
            ],
            dim=-1,
        ).reshape(q.shape[:-1] + (3, 3))

    def sample(self, batch_shape=(), seed: Seed = None, dtype=None, device=None):
        """Haar-uniform rotations: normalised Gaussian quaternions (uniform on S^3)."""
        gen = make_generator(seed, device)
        q = torch.randn(_batch(batch_shape) + (4,), generator=gen, dtype=_float_dtype(dtype), device=device)
        return self.from_quaternion(q)


class TranslationGroup(Group):
    """The translation group ``T(d) = (R^d, +)`` as ``(..., d)`` vectors; ``exp`` and ``log`` are the identity."""

    def __init__(self, d: int):
        check_positive_int(d, "d", who="TranslationGroup")
        self.d = d
        self.name = f"T({d})"
        self.element_shape = (d,)
        self.algebra_dim = d
        self.space_dim = d

    def identity(self, batch_shape=(), dtype=None, device=None):
        return torch.zeros(_batch(batch_shape) + (self.d,), dtype=_float_dtype(dtype), device=device)

    def compose(self, a, b):
        return self.check(a, "a") + self.check(b, "b")

    def inverse(self, g):
        return -self.check(g)

    def act(self, g, x):
        self.check(g)
        _check_tail("x", x, (self.d,), f"points of R^{self.d}")
        return g + x

    def exp(self, v):
        _check_tail("v", v, (self.d,), f"t({self.d}) vectors")
        return v.clone()

    def log(self, g, check=True):
        return self.check(g).clone()

    def sample(self, batch_shape=(), seed: Seed = None, dtype=None, device=None, scale: float = 1.0):
        """``T(d)`` has no normalisable Haar measure: translations ``~ N(0, scale^2 I)``."""
        gen = make_generator(seed, device)
        shape = _batch(batch_shape) + (self.d,)
        return scale * torch.randn(shape, generator=gen, dtype=_float_dtype(dtype), device=device)

    def __repr__(self):
        return f"T({self.d})"

    def __eq__(self, other):
        return isinstance(other, TranslationGroup) and other.d == self.d

    def __hash__(self):
        return hash(("T", self.d))


class RigidMotionGroup(Group):
    """Base class for ``SE(d) = R^d x| SO(d)`` as ``(..., d+1, d+1)`` homogeneous matrices ``[[R, t], [0, 1]]``.

    Shares the matrix bookkeeping (``from_parts``, ``rotation``, ``translation``, ``identity``,
    ``compose``, ``inverse``, ``act``); subclasses set ``space_dim = d`` and ``element_shape`` and
    provide ``exp``, ``log`` and ``sample``.
    """

    def from_parts(self, rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
        """``(..., d, d), (..., d) -> (..., d+1, d+1)`` the map ``x -> R x + t``."""
        d = self.space_dim
        _check_tail("rotation", rotation, (d, d), f"SO({d}) matrices")
        _check_tail("translation", translation, (d,), "translations")
        batch = torch.broadcast_shapes(rotation.shape[:-2], translation.shape[:-1])
        top = torch.cat([rotation.expand(batch + (d, d)), translation.expand(batch + (d,)).unsqueeze(-1)], dim=-1)
        bottom = torch.zeros(batch + (1, d + 1), dtype=rotation.dtype, device=rotation.device)
        bottom[..., 0, d] = 1
        return torch.cat([top, bottom], dim=-2)

    def check_element(self, g, name="g", who=None):
        """Shape; the rotation block orthogonal with det +1 and the bottom row ``(0, ..., 0, 1)``, to the
        dtype's tolerance (see :meth:`Group.check_element`)."""
        d = self.space_dim
        self.check(g, name if who is None else f"{who}: {name}")
        bottom = g[..., d, :] - torch.eye(d + 1, dtype=g.dtype, device=g.device)[d]
        check_orthogonal(g[..., :d, :d], f"{name}[..., :{d}, :{d}]", what=f"SO({d}) rotation blocks of {self.name} "
                         "elements [[R, t], [0, 1]]", extra=bottom, extra_what="the bottom row (0, ..., 0, 1)",
                         who=who)
        return g

    def rotation(self, g):
        d = self.space_dim
        return self.check(g)[..., :d, :d]

    def translation(self, g):
        d = self.space_dim
        return self.check(g)[..., :d, d]

    def identity(self, batch_shape=(), dtype=None, device=None):
        n = self.space_dim + 1
        eye = torch.eye(n, dtype=_float_dtype(dtype), device=device)
        return eye.expand(_batch(batch_shape) + (n, n)).clone()

    def compose(self, a, b):
        return self.check(a, "a") @ self.check(b, "b")

    def inverse(self, g):
        r, t = self.rotation(g), self.translation(g)
        rt = r.transpose(-1, -2)
        return self.from_parts(rt, -(rt @ t.unsqueeze(-1)).squeeze(-1))

    def act(self, g, x):
        d = self.space_dim
        _check_tail("x", x, (d,), f"points of R^{d}")
        return (self.rotation(g) @ x.unsqueeze(-1)).squeeze(-1) + self.translation(g)


class _SE3(RigidMotionGroup):
    """SE(3) = R^3 x| SO(3) as ``(..., 4, 4)`` homogeneous matrices; algebra ``(v, w)`` in ``R^6``."""

    name = "SE(3)"
    element_shape = (4, 4)
    algebra_dim = 6
    space_dim = 3
    embedding_dim = 12

    def embed_log(self, a):
        """The 12 entries of ``[R | t]`` of ``exp(a)``."""
        return self.exp(a)[..., :3, :].flatten(-2)

    @staticmethod
    def _left_jacobian_coeffs(theta2: torch.Tensor):
        """``b = (1 - cos t) / t^2`` (no cancellation: ``sinc(t/2)^2 / 2``) and ``c = (t - sin t) / t^3``
        (a series below the dtype's cutoff, :func:`~fiberconv.spaces.group_math.series_cutoff2`)."""
        small = theta2 < 1e-8
        t = torch.where(small, theta2, torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2)))
        b = torch.where(small, 0.5 - theta2 / 24, one_minus_cos_over_t2(t))
        return b, t_minus_sin_over_t3(theta2)

    def exp(self, v):
        """``(..., 6) -> (..., 4, 4)``; ``v = (translational part, rotation vector)``."""
        _check_tail("v", v, (6,), "se(3) vectors (v, w)")
        u, w = v[..., :3], v[..., 3:]
        r = SO3.exp(w)
        b, c = self._left_jacobian_coeffs((w * w).sum(-1))
        k = _hat(w)
        eye = torch.eye(3, dtype=v.dtype, device=v.device)
        jac = eye + b[..., None, None] * k + c[..., None, None] * (k @ k)
        return self.from_parts(r, (jac @ u.unsqueeze(-1)).squeeze(-1))

    def log(self, g, check=True):
        r"""``(..., 4, 4) -> (..., 6)``: ``w = log(R)`` and ``u = J(w)^{-1} t`` with the closed-form inverse
        of the left Jacobian, ``J^{-1} = I - K / 2 + d K^2``, ``K = hat(w)``,
        ``d = (1 - (theta / 2) cot(theta / 2)) / theta^2`` (a series near 0; ``theta <= pi``, where it is
        ``1 / pi^2``), instead of a linear solve per element. ``g`` is checked to be a rigid motion
        (:meth:`check_element`) unless ``check=False``."""
        if check:
            self.check_element(g, who="SE(3).log")
        w = SO3.log(self.rotation(g), check=False)
        theta2 = (w * w).sum(-1)
        d = se3_jinv_coeff(theta2)
        k = _hat(w)
        eye = torch.eye(3, dtype=g.dtype, device=g.device)
        jac_inv = eye - 0.5 * k + d[..., None, None] * (k @ k)
        u = (jac_inv @ self.translation(g).unsqueeze(-1)).squeeze(-1)
        return torch.cat([u, w], dim=-1)

    def sample(self, batch_shape=(), seed: Seed = None, dtype=None, device=None, scale: float = 1.0):
        """Haar-uniform rotation times Gaussian translation ``N(0, scale^2 I)`` (SE(3) is not compact)."""
        gen = make_generator(seed, device)
        r = SO3.sample(batch_shape, seed=gen, dtype=dtype, device=device)
        t = T3.sample(batch_shape, seed=gen, dtype=dtype, device=device, scale=scale)
        return self.from_parts(r, t)


SO2 = _SO2()
SO3 = _SO3()
T3 = TranslationGroup(3)
SE3 = _SE3()

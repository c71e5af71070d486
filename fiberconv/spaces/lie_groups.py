r"""More Lie groups for LieConv, and group actions on ``R^d`` with their orbits, sections and stabilizers.

The groups follow the interface of :class:`fiberconv.spaces.groups.Group` (batched tensors that follow
the input's device and dtype, closed-form ``exp``/``log``, seeded ``sample``):

==================  ====================  ==============================================================
group               element tensor        Lie algebra vector
==================  ====================  ==============================================================
``T(d)``            ``(..., d)``          the translation itself (``T(3)`` is ``groups.T3``)
``SE2``             ``(..., 3, 3)``       ``(v1, v2, w)``: translational part first, then the angle
``RxSO2``           ``(..., 2, 2)``       ``(s, w)``: element ``e^s R(w) = [[a, -b], [b, a]]``
``TrivialGroup(d)`` ``(..., 0)``          empty; acts trivially on ``R^d``
==================  ====================  ==============================================================

The actions of these groups on ``R^d`` that LieConv lifts are in :mod:`fiberconv.spaces.lie_actions`
(re-exported here).
"""
from __future__ import annotations

import math

import torch

from ..validation import check_positive_int
from .group_math import half_cot_half, one_minus_cos_over_t2, sinc
from .groups import (
    SO2,
    T3,
    Group,
    LinearMatrixGroup,
    RigidMotionGroup,
    Seed,
    TranslationGroup,
    _batch,
    _check_tail,
    _float_dtype,
    make_generator,
)

__all__ = [
    "TranslationGroup", "T", "SE2", "RxSO2", "TrivialGroup",
    "LieAction", "TranslationAction", "SO2Action", "SO3Action", "SE2Action", "SE3Action",
    "RxSO2Action", "TrivialAction", "lie_action", "embed_log", "embedding_dim",
]


def _sinc_terms(w: torch.Tensor):
    """``A = sin(w)/w`` and ``B = (1 - cos w)/w = w sinc(w/2)^2 / 2``: no cancellation at any ``w`` in any
    dtype (``1 - cos w`` is never formed), finite gradients at 0."""
    return sinc(w), w * one_minus_cos_over_t2(w)


def T(d: int) -> Group:
    """``T(d)``; for ``d = 3`` the library's ``groups.T3``."""
    return T3 if d == 3 else TranslationGroup(d)


class _SE2(RigidMotionGroup):
    r"""``SE(2) = R^2 x| SO(2)`` as ``(..., 3, 3)`` homogeneous matrices; algebra ``(v1, v2, w)``.

    The matrix bookkeeping (``from_parts``, ``rotation``, ``translation``, ``identity``, ``compose``,
    ``inverse``, ``act``) is :class:`~fiberconv.spaces.groups.RigidMotionGroup`'s, shared with ``SE3``.
    ``exp(v, w) = (R(w), V(w) v)`` with ``V(w) = A I + B J``, ``A = sin w / w``, ``B = (1 - cos w)/w``,
    ``J`` the rotation by ``pi/2``; ``V(w)^{-1} = (w/2) cot(w/2) I - (w/2) J`` is finite for all
    ``|w| <= pi``, so ``log`` is closed-form up to and including the cut locus ``w = pi``.
    """

    name = "SE(2)"
    element_shape = (3, 3)
    algebra_dim = 3
    space_dim = 2
    embedding_dim = 4

    def embed_log(self, a):
        """``(t1, t2, cos w, sin w)`` with ``t = V(w) v`` the translation of ``exp(a)``."""
        w = a[..., 2]
        ca, cb = _sinc_terms(w)
        t1 = ca * a[..., 0] - cb * a[..., 1]
        t2 = cb * a[..., 0] + ca * a[..., 1]
        return torch.stack([t1, t2, torch.cos(w), torch.sin(w)], dim=-1)

    def exp(self, v):
        _check_tail("v", v, (3,), "se(2) vectors (v1, v2, w)")
        w = v[..., 2]
        a, b = _sinc_terms(w)
        t = torch.stack([a * v[..., 0] - b * v[..., 1], b * v[..., 0] + a * v[..., 1]], dim=-1)
        return self.from_parts(SO2.from_angle(w), t)

    def log(self, g, check=True):
        if check:
            self.check_element(g, who="SE(2).log")
        t = self.translation(g)
        return self._log_parts(SO2.angle(self.rotation(g)), t[..., 0], t[..., 1])

    @staticmethod
    def _log_parts(w, t1, t2):
        """``(V(w)^{-1} t, w)`` for the rotation angle ``w`` and translation ``(t1, t2)`` of an element."""
        half = w / 2
        # (w/2) cot(w/2); at |w| = pi it is 0 and V^{-1} stays finite
        c = half_cot_half(w)
        return torch.stack([c * t1 + half * t2, -half * t1 + c * t2, w], dim=-1)

    def relative_log(self, a, b):
        """``log(a^-1 b)`` from the entries (no 3x3 products): ``a^-1 b = (R(w), R_a^T (t_b - t_a))`` with ``w`` the
        angle from ``R_a`` to ``R_b``; ~3x faster than inverse, compose and log (forward, 32 x 151 x 151 pairs; LieConv's
        neighbour search)."""
        ca, sa, cb, sb = a[..., 0, 0], a[..., 1, 0], b[..., 0, 0], b[..., 1, 0]
        dx, dy = b[..., 0, 2] - a[..., 0, 2], b[..., 1, 2] - a[..., 1, 2]
        w = torch.atan2(ca * sb - sa * cb, ca * cb + sa * sb)
        return self._log_parts(w, ca * dx + sa * dy, ca * dy - sa * dx)

    def sample(self, batch_shape=(), seed: Seed = None, dtype=None, device=None, scale: float = 1.0):
        """Haar-uniform rotation times a Gaussian translation ``N(0, scale^2 I)`` (SE(2) is not compact)."""
        gen = make_generator(seed, device)
        r = SO2.sample(batch_shape, seed=gen, dtype=dtype, device=device)
        t = scale * torch.randn(_batch(batch_shape) + (2,), generator=gen, dtype=_float_dtype(dtype), device=device)
        return self.from_parts(r, t)


class _RxSO2(LinearMatrixGroup):
    r"""``R* x SO(2)`` (positive scalings times rotations of the plane) as ``(..., 2, 2)`` matrices.

    An element is ``e^s R(w) = [[a, -b], [b, a]]``; the algebra vector is ``(s, w)`` with
    ``s = log sqrt(a^2 + b^2)`` and ``w = atan2(b, a)`` in ``(-pi, pi]``. Abelian (the complex numbers
    ``a + i b`` under multiplication).
    """

    name = "R*xSO(2)"
    element_shape = (2, 2)
    algebra_dim = 2
    space_dim = 2
    embedding_dim = 3

    def embed_log(self, a):
        """``(s, cos w, sin w)``."""
        return torch.stack([a[..., 0], torch.cos(a[..., 1]), torch.sin(a[..., 1])], dim=-1)

    def from_complex(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``(a, b) -> [[a, -b], [b, a]]``."""
        return torch.stack([a, -b, b, a], dim=-1).reshape(a.shape + (2, 2))

    def inverse(self, g):
        self.check(g)
        a, b = g[..., 0, 0], g[..., 1, 0]
        n2 = a * a + b * b
        return self.from_complex(a / n2, -b / n2)

    def exp(self, v):
        _check_tail("v", v, (2,), "Lie algebra vectors (log-scale s, angle w)")
        r = torch.exp(v[..., 0])
        return self.from_complex(r * torch.cos(v[..., 1]), r * torch.sin(v[..., 1]))

    def log(self, g, check=True):
        self.check(g)
        a = 0.5 * (g[..., 0, 0] + g[..., 1, 1])
        b = 0.5 * (g[..., 1, 0] - g[..., 0, 1])
        return torch.stack([0.5 * torch.log(a * a + b * b), torch.atan2(b, a)], dim=-1)

    def sample(self, batch_shape=(), seed: Seed = None, dtype=None, device=None, scale: float = 1.0):
        """Haar-uniform angle times log-scale ``~ N(0, scale^2)`` (the group is not compact)."""
        gen = make_generator(seed, device)
        shape = _batch(batch_shape) + (2,)
        v = torch.rand(shape, generator=gen, dtype=_float_dtype(dtype), device=device)
        s = scale * torch.randn(_batch(batch_shape), generator=gen, dtype=_float_dtype(dtype), device=device)
        return self.exp(torch.stack([s, (2 * v[..., 0] - 1) * math.pi], dim=-1))


class TrivialGroup(Group):
    """The trivial group ``{e}`` acting trivially on ``R^d``; elements are empty ``(..., 0)`` tensors."""

    element_shape = (0,)
    algebra_dim = 0

    def __init__(self, d: int = 2):
        check_positive_int(d, "d", who="TrivialGroup")
        self.space_dim = d
        self.name = "{e}"

    def identity(self, batch_shape=(), dtype=None, device=None):
        return torch.zeros(_batch(batch_shape) + (0,), dtype=_float_dtype(dtype), device=device)

    def compose(self, a, b):
        self.check(a, "a"), self.check(b, "b")
        return a + b

    def inverse(self, g):
        return self.check(g).clone()

    def act(self, g, x):
        self.check(g)
        _check_tail("x", x, (self.space_dim,), f"points of R^{self.space_dim}")
        return x.expand(torch.broadcast_shapes(g.shape[:-1], x.shape[:-1]) + (self.space_dim,)).clone()

    def exp(self, v):
        _check_tail("v", v, (0,), "vectors of the zero Lie algebra")
        return v.clone()

    def log(self, g, check=True):
        return self.check(g).clone()

    def sample(self, batch_shape=(), seed: Seed = None, dtype=None, device=None):
        return self.identity(batch_shape, dtype=dtype, device=device)

    def __repr__(self):
        return f"TrivialGroup({self.space_dim})"

    def __eq__(self, other):
        return isinstance(other, TrivialGroup) and other.space_dim == self.space_dim

    def __hash__(self):
        return hash(("trivial", self.space_dim))


SE2 = _SE2()
RxSO2 = _RxSO2()


def embedding_dim(group: Group) -> int:
    """Length of :func:`embed_log`'s output for ``group``: :attr:`Group.embedding_dim`."""
    return group.embedding_dim


def embed_log(group: Group, a: torch.Tensor) -> torch.Tensor:
    r"""A smooth embedding of ``g = exp(a)`` from its logarithm: :meth:`Group.embed_log`.

    T(d), {e}: ``a``; SO(2): ``(cos w, sin w)``; SE(2): ``(t1, t2, cos w, sin w)``; R*xSO(2): ``(s, cos w, sin w)``;
    SO(3): the 9 matrix entries; SE(3): ``[R | t]``.
    """
    return group.embed_log(a)


# the actions live in lie_actions.py, which uses the groups above; imported last (no cycle at import time)
from .lie_actions import (  # noqa: E402
    LieAction,
    RxSO2Action,
    SE2Action,
    SE3Action,
    SO2Action,
    SO3Action,
    TranslationAction,
    TrivialAction,
    lie_action,
)

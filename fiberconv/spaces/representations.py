r"""Real, orthogonal, finite-dimensional group representations.

A representation ``rho`` of a group ``G`` maps a batch of elements ``g (..., *G.element_shape)`` to
matrices ``rho(g) (..., dim, dim)`` with ``rho(g1 g2) = rho(g1) rho(g2)`` and ``rho(g)^T = rho(g^-1)``.

SO(2) representations (the fibre group ``H`` of the sphere) also take angles directly through
``rho.of_angle(theta)``, since cocycles on ``S^2`` are computed as angles.

=====================  ===========  ===========================================================
class                  dim          matrix
=====================  ===========  ===========================================================
``SO2Irrep(0)``        1            ``[[1]]``
``SO2Irrep(m > 0)``    2            rotation by ``m theta``
``SO2Regular(M)``      ``2M + 1``   ``SO2Irrep(0) + SO2Irrep(1) + ... + SO2Irrep(M)`` (Fourier basis)
``SO3Irrep(l)``        ``2l + 1``   real Wigner-D in the basis of :mod:`fiberconv.spaces.harmonics`
``DirectSum``          sum          block diagonal
``TensorProduct``      product      Kronecker product ``rho1(g) (x) rho2(g)``
``Trivial(G, n)``      ``n``        identity
=====================  ===========  ===========================================================
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..validation import check_dtype, check_nonnegative_int, check_positive_int
from .groups import SO2, SO3, Group

__all__ = [
    "Representation",
    "Trivial",
    "SO2Irrep",
    "SO2Regular",
    "SO3Irrep",
    "DirectSum",
    "TensorProduct",
]


class Representation:
    """Base class: ``rho(g) -> (..., dim, dim)`` for a batch of ``group`` elements."""

    group: Group
    dim: int

    def __call__(self, g: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def is_scalar(self) -> bool:
        """True for the trivial one-dimensional representation (the field of a scalar); subclasses say when."""
        return False

    @property
    def irreps(self) -> list[Representation]:
        """The irreducible summands in order (a representation that is irreducible returns ``[self]``)."""
        return [self]

    def __add__(self, other: Representation) -> DirectSum:
        return DirectSum([self, other])

    def __mul__(self, n: int) -> DirectSum:
        check_positive_int(n, "multiplicity")
        return DirectSum([self] * n)

    __rmul__ = __mul__

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def _key(self):
        return ()


class _SO2Rep(Representation):
    group = SO2

    def __call__(self, g: torch.Tensor) -> torch.Tensor:
        return self.of_angle(SO2.angle(g))

    def of_angle(self, theta: torch.Tensor) -> torch.Tensor:
        """``rho(Z(theta))`` for angles ``theta (...,)`` -> ``(..., dim, dim)``."""
        raise NotImplementedError


class Trivial(Representation):
    """The ``n``-dimensional trivial representation of ``group``."""

    def __init__(self, group: Group, n: int = 1):
        check_positive_int(n, "n", who="Trivial")
        self.group, self.dim = group, n

    def __call__(self, g):
        self.group.check(g)
        batch = g.shape[: g.dim() - len(self.group.element_shape)]
        return torch.eye(self.dim, dtype=g.dtype, device=g.device).expand(batch + (self.dim, self.dim))

    @property
    def is_scalar(self) -> bool:
        return self.dim == 1

    def _key(self):
        return (self.group.name, self.dim)

    def __repr__(self):
        return f"Trivial({self.group.name}, {self.dim})"


class SO2Irrep(_SO2Rep):
    r"""Real irrep of SO(2) of frequency ``m >= 0``: ``[1]`` for ``m = 0``, else
    ``[[cos m t, -sin m t], [sin m t, cos m t]]``."""

    def __init__(self, m: int):
        check_nonnegative_int(m, "frequency m", who="SO2Irrep")
        self.m = m
        self.dim = 1 if m == 0 else 2

    def of_angle(self, theta):
        if self.m == 0:
            return torch.ones(theta.shape + (1, 1), dtype=theta.dtype, device=theta.device)
        return SO2.from_angle(self.m * theta)

    @property
    def is_scalar(self) -> bool:
        return self.m == 0

    def _key(self):
        return (self.m,)

    def __repr__(self):
        return f"SO2Irrep({self.m})"


class SO3Irrep(Representation):
    """Real irrep of SO(3) of degree ``l``: the Wigner-D matrix in the real spherical-harmonic basis.

    ``rho(R) = D^l(R)`` with ``Y_l(R x) = D^l(R) Y_l(x)`` (see :mod:`fiberconv.spaces.wigner`).
    """

    group = SO3

    def __init__(self, l: int):
        check_nonnegative_int(l, "degree l", who="SO3Irrep")
        self.l = l
        self.dim = 2 * l + 1

    def __call__(self, g):
        from .wigner import wigner_D

        return wigner_D(self.l, SO3.check(g))

    @property
    def is_scalar(self) -> bool:
        return self.l == 0

    def _key(self):
        return (self.l,)

    def __repr__(self):
        return f"SO3Irrep({self.l})"


class DirectSum(Representation):
    """Block-diagonal direct sum ``rho_1 + rho_2 + ...`` of representations of one group."""

    def __init__(self, reps: Sequence[Representation]):
        reps = list(reps)
        if not reps:
            raise ValueError("DirectSum needs at least one representation")
        flat: list[Representation] = []
        for r in reps:
            if not isinstance(r, Representation):
                raise TypeError(f"DirectSum: expected Representation objects, got {type(r).__name__}")
            if r.group != reps[0].group:
                raise ValueError(
                    f"DirectSum: all summands must represent one group, got {reps[0].group.name} and {r.group.name}"
                )
            flat.extend(r.irreps)
        self.group = reps[0].group
        self.summands = flat
        self.dim = sum(r.dim for r in flat)

    @property
    def irreps(self):
        return list(self.summands)

    def __call__(self, g):
        return _block_diag([r(g) for r in self.summands])

    def of_angle(self, theta):
        if self.group != SO2:
            raise TypeError(f"of_angle is defined for SO(2) representations, this one represents {self.group.name}")
        return _block_diag([r.of_angle(theta) for r in self.summands])

    def _key(self):
        return tuple((type(r).__name__, r._key()) for r in self.summands)

    def __repr__(self):
        return " + ".join(map(repr, self.summands))


class SO2Regular(DirectSum):
    r"""Band-limited regular representation of SO(2): frequencies ``0..M`` in the Fourier basis.

    A function on the circle with frequencies ``<= M`` has coefficients
    ``c = (a_0, a_1, b_1, ..., a_M, b_M)`` for ``f(t) = a_0 + sum_m a_m cos(m t) + b_m sin(m t)``.
    Left translation ``[rho(Z(u)) f](t) = f(t - u)`` acts on ``c`` as ``SO2Irrep(0) + ... + SO2Irrep(M)``.
    :meth:`sampling_matrix` maps ``c`` to the values at ``N`` equispaced angles, where ``rho`` acts by
    cyclic shifts whenever ``u`` is a multiple of ``2 pi / N``.
    """

    def __init__(self, M: int):
        check_nonnegative_int(M, "band limit M", who="SO2Regular")
        self.M = M
        super().__init__([SO2Irrep(m) for m in range(M + 1)])

    def sampling_matrix(self, n: int = None, dtype=None, device=None) -> torch.Tensor:
        """``(n, 2M + 1)`` matrix ``A`` with ``(A c)_k = f(2 pi k / n)``; default ``n = 2M + 1``."""
        n = 2 * self.M + 1 if n is None else n
        if n < 2 * self.M + 1:
            raise ValueError(f"sampling {self.M}-band-limited functions needs n >= {2 * self.M + 1}, got {n}")
        t = torch.arange(n, dtype=check_dtype(dtype), device=device) * (2 * math.pi / n)
        cols = [torch.ones_like(t)]
        for m in range(1, self.M + 1):
            cols += [torch.cos(m * t), torch.sin(m * t)]
        return torch.stack(cols, dim=-1)

    def _key(self):
        return (self.M,)

    def __repr__(self):
        return f"SO2Regular({self.M})"


class TensorProduct(Representation):
    """``(rho1 (x) rho2)(g) = kron(rho1(g), rho2(g))``."""

    def __init__(self, rho1: Representation, rho2: Representation):
        if rho1.group != rho2.group:
            raise ValueError(f"TensorProduct: {rho1.group.name} and {rho2.group.name} differ")
        self.group, self.rho1, self.rho2 = rho1.group, rho1, rho2
        self.dim = rho1.dim * rho2.dim

    def __call__(self, g):
        a, b = self.rho1(g), self.rho2(g)
        batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        out = a[..., :, None, :, None] * b[..., None, :, None, :]
        return out.expand(batch + out.shape[-4:]).reshape(batch + (self.dim, self.dim))

    def of_angle(self, theta):
        a, b = self.rho1.of_angle(theta), self.rho2.of_angle(theta)
        return (a[..., :, None, :, None] * b[..., None, :, None, :]).reshape(theta.shape + (self.dim, self.dim))

    def _key(self):
        return ((type(self.rho1).__name__, self.rho1._key()), (type(self.rho2).__name__, self.rho2._key()))

    def __repr__(self):
        return f"TensorProduct({self.rho1!r}, {self.rho2!r})"


def _block_diag(blocks: Sequence[torch.Tensor]) -> torch.Tensor:
    """Batched block-diagonal matrix from ``(..., d_i, d_i)`` blocks."""
    batch = torch.broadcast_shapes(*[b.shape[:-2] for b in blocks])
    n = sum(b.shape[-1] for b in blocks)
    out = blocks[0].new_zeros(batch + (n, n))
    i = 0
    for b in blocks:
        d = b.shape[-1]
        out[..., i : i + d, i : i + d] = b
        i += d
    return out

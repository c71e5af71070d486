r"""Group actions on ``R^d`` with their orbits, sections and stabilizers (for LieConv).

A :class:`LieAction` is a group ``G`` acting on ``X = R^d`` together with everything LieConv's
lifting (Finzi et al. 2020, Algorithm 1) needs. ``X`` splits into orbits ``X/G``; each orbit is the
homogeneous space ``G / H_q`` of its origin ``o_q``:

* ``orbit(x)``: an embedding ``q`` of the orbit of ``x`` (``||x||`` for ``SO(d)``, the untouched
  coordinates ``x[k:]`` for ``T(k)``, nothing for transitive actions, ``x`` itself for ``{e}``);
* ``origin(q)``: the orbit's origin ``o_q``;
* ``section(x)``: a group element ``u`` with ``u o_q = x`` (a section of ``G -> G/H_q``);
* ``sample_stabilizer(x, n)``: ``n`` Haar samples of ``H_q = {h : h o_q = o_q}``, as elements of ``G``;
* ``lift(x, n)``: ``u h_k`` for ``k = 1..n``: Haar samples of the fibre ``{g : g o_q = x}``.

================  ===========  ======================  ==================  ======================
action            ``X``        orbit embedding ``q``   origin ``o_q``      stabilizer ``H_q``
================  ===========  ======================  ==================  ======================
``T(k)`` on R^d   ``R^d``      ``x[k:]``               ``(0, x[k:])``      ``{e}``
``SO2``           ``R^2``      ``||x||``               ``(r, 0)``          ``{e}`` (SO(2) at 0)
``SO3``           ``R^3``      ``||x||``               ``(0, 0, r)``       ``Z(t)`` (SO(3) at 0)
``SE2``           ``R^2``      none                    ``0``               rotations ``SO(2)``
``SE3``           ``R^3``      none                    ``0``               rotations ``SO(3)``
``RxSO2``         ``R^2\0``    none                    ``(1, 0)``          ``{e}``
``{e}``           ``R^d``      ``x``                   ``x``               ``{e}``
================  ===========  ======================  ==================  ======================
"""
from __future__ import annotations

import math

import torch

from ..validation import check_int, check_positive_float, check_positive_int
from .groups import (
    SE3,
    SO2,
    SO3,
    Group,
    Seed,
    _check_tail,
    make_generator,
    rot_z,
)
from .homogeneous import zy_section
from .lie_groups import SE2, RxSO2, T, TrivialGroup

__all__ = [
    "LieAction", "TranslationAction", "SO2Action", "SO3Action", "SE2Action", "SE3Action",
    "RxSO2Action", "TrivialAction", "lie_action",
]


class LieAction:
    """``G`` acting on ``R^d`` (``dim``), with orbit embedding (``orbit_dim`` long), origins, section and
    stabilizers (``stabilizer_name``: the generic ``H_q`` in words)."""

    group: Group
    dim: int
    orbit_dim: int
    stabilizer_name: str = "{e}"
    name: str = "action"
    #: where the section (so the lift) is undefined, in words; empty where it is defined everywhere
    undefined_on: str = ""
    #: names :func:`lie_action` accepts for this action (upper case, without brackets, ``*`` or spaces)
    aliases: tuple = ()

    @classmethod
    def from_name(cls, key: str, d: int):
        """This action if the normalised name ``key`` is one of its :attr:`aliases`, else ``None``."""
        return cls() if key in cls.aliases else None

    #: whether :meth:`frame_stabilizer` (a deterministic equivariant quadrature of ``H``) is implemented
    has_frame_stabilizer: bool = False

    def frame_stabilizer(self, x: torch.Tensor, center: torch.Tensor, n: int, offset: float = 0.0,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
        """A deterministic equivariant quadrature of the stabilizer about ``center``: ``(..., n, *G)``
        (``x (B, N, d)``; ``mask (B, N)``, the valid points, for frames that read the other points)."""
        raise ValueError(f"{self.name}: no frame quadrature of the stabilizer is implemented (SE(2) and SE(3) have "
                         "one); use stabilizer='haar'")

    def check_points(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """Validate points ``(..., d)``: a floating tensor of the right dimension. Values are not read
        (NaN/Inf propagate; :func:`fiberconv.validation.check_finite` checks data)."""
        _check_tail(name, x, (self.dim,), f"points of R^{self.dim} for the {self.name} action")
        return x

    def act(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``g x`` for ``g (..., *G)``, ``x (..., d)``."""
        return self.group.act(g, self.check_points(x))

    def orbit(self, x: torch.Tensor) -> torch.Tensor:
        """Orbit embedding ``q(x)``: ``(..., d) -> (..., orbit_dim)``, invariant: ``q(g x) = q(x)``."""
        raise NotImplementedError

    def origin(self, q: torch.Tensor) -> torch.Tensor:
        """The origin ``o_q`` of the orbit with embedding ``q``: ``(..., orbit_dim) -> (..., d)``."""
        raise NotImplementedError

    def section(self, x: torch.Tensor) -> torch.Tensor:
        """A group element ``u (..., *G)`` with ``u o_{q(x)} = x``."""
        raise NotImplementedError

    #: length of :meth:`smooth_pair_input`'s output; ``None`` where it is not implemented
    smooth_pair_dim: int | None = None

    def smooth_pair_input(self, a: torch.Tensor, qi: torch.Tensor, qj: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """An invariant description of a pair of points that is smooth in the points everywhere.

        Parameters
        ----------
        a : ``(..., algebra_dim)`` the pair logarithms ``log(u_i^{-1} u_j)``.
        qi, qj : ``(..., orbit_dim)`` the orbit embeddings of the two elements.
        scale : float
            A length scale ``s > 0`` (about the data's): below it the description is regularised.

        Returns
        -------
        ``(..., smooth_pair_dim)``: a function of ``(x_i, x_j)`` that is invariant, separates the
        orbits of pairs (away from the fixed points) and is smooth, also at fixed points of the action,
        where any section (hence ``a``) is singular. Only actions with fixed points need it; see
        :class:`SO2Action`.
        """
        raise ValueError(f"{self.name}: no smooth pair input is implemented for this action "
                         "(only for SO(2) on R^2); use the smooth embedding of log(u_i^-1 u_j) instead")

    def _stabilizer_identity(self, x, n, gen):
        return self.group.identity(x.shape[:-1] + (n,), dtype=x.dtype, device=x.device)

    def sample_stabilizer(self, x: torch.Tensor, n: int, seed: Seed = None) -> torch.Tensor:
        """``n`` Haar samples of the stabilizer ``H_q`` of ``o_{q(x)}``: ``(..., d) -> (..., n, *G)``."""
        self.check_points(x)
        _check_count(n)
        return self._stabilizer_identity(x, n, make_generator(seed, x.device))

    def lift(self, x: torch.Tensor, n: int = 1, seed: Seed = None):
        """Algorithm 1 for the points: ``x (..., d) -> (u h_k (..., n, *G), q (..., orbit_dim))``.

        Every returned element ``g`` satisfies ``g o_q = x``, and for a compact ``H_q`` the ``h_k``
        are i.i.d. Haar samples of ``H_q``.
        """
        self.check_points(x)
        u = self.section(x)
        h = self.sample_stabilizer(x, n, seed)
        ne = len(self.group.element_shape)
        g = self.group.compose(u.unsqueeze(-ne - 1), h)
        return g, self.orbit(x)

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.__dict__.items()))))


def _check_count(n):
    check_positive_int(n, "the number of stabilizer samples")


def _uniform_angles(shape, gen, x):
    return (2 * torch.rand(shape, generator=gen, dtype=x.dtype, device=x.device) - 1) * math.pi


class TranslationAction(LieAction):
    """``T(k)`` translating the first ``k`` coordinates of ``R^d``; ``q = x[k:]``, ``H = {e}``."""

    def __init__(self, k: int = 2, d: int | None = None):
        d = k if d is None else d
        check_positive_int(k, "k", who="TranslationAction")
        check_int(d, "d", k, who="TranslationAction", expected=f"an int >= k = {k}")
        self.k, self.dim = k, d
        self.orbit_dim = d - k

    @classmethod
    def from_name(cls, key, d):
        if key.startswith("T") and key[1:].isdigit():
            return cls(int(key[1:]), max(int(key[1:]), d))
        return None

    @property
    def group(self):
        return T(self.k)

    @property
    def name(self):
        return f"T({self.k}) on R^{self.dim}"

    def act(self, g, x):
        self.group.check(g)
        self.check_points(x)
        return torch.cat([x[..., : self.k] + g, x[..., self.k:].expand(g.shape[:-1] + (self.orbit_dim,))], dim=-1)

    def orbit(self, x):
        return self.check_points(x)[..., self.k:]

    def origin(self, q):
        z = torch.zeros(q.shape[:-1] + (self.k,), dtype=q.dtype, device=q.device)
        return torch.cat([z, q], dim=-1)

    def section(self, x):
        return self.check_points(x)[..., : self.k].clone()

    def __repr__(self):
        return f"TranslationAction(k={self.k}, d={self.dim})"


class SO2Action(LieAction):
    """Rotations of ``R^2`` about 0: ``q = ||x||``, ``o_q = (r, 0)``, ``u = R(atan2(x2, x1))``.

    ``H_q`` is trivial for ``r > 0`` and all of ``SO(2)`` at the fixed point ``x = 0``.
    """

    group = SO2
    dim = 2
    orbit_dim = 1
    stabilizer_name = "{e} (SO(2) at x = 0)"
    name = "SO(2) on R^2"
    aliases = ("SO2",)

    def orbit(self, x):
        return torch.linalg.vector_norm(self.check_points(x), dim=-1, keepdim=True)

    def origin(self, q):
        return torch.cat([q, torch.zeros_like(q)], dim=-1)

    def section(self, x):
        self.check_points(x)
        return SO2.from_angle(torch.atan2(x[..., 1], x[..., 0]))

    def sample_stabilizer(self, x, n, seed=None):
        self.check_points(x)
        _check_count(n)
        t = _uniform_angles(x.shape[:-1] + (n,), make_generator(seed, x.device), x)
        at_origin = (x == 0).all(-1, keepdim=True)
        return SO2.from_angle(torch.where(at_origin, t, torch.zeros_like(t)))

    smooth_pair_dim = 4

    def smooth_pair_input(self, a, qi, qj, scale=1.0):
        r"""``(y_i . y_j, y_i x y_j, rho_i - s, rho_j - s)`` with ``rho = sqrt(|x|^2 + s^2)``, ``y = x / rho``.

        The usual kernel input ``(cos w, sin w, r_i, r_j)`` of ``w = log(u_i^{-1} u_j)`` is singular at
        the fixed point ``x = 0``: the section's angle jumps there (so ``cos w`` does, and a network of
        it jumps across the origin, with gradients ``~ 1 / |x_i|`` nearby) and ``r = |x|`` has a kink.
        This is its regularisation at the scale ``s``: ``y_i . y_j = r_i r_j cos w / (rho_i rho_j)`` and
        ``rho - s = r^2 / (rho + s)`` are smooth functions of the points (of ``x_i . x_j``,
        ``x_i x x_j`` and ``|x|^2``, the generating polynomial invariants of a pair). For ``|x| >> s``
        it tends to ``(cos w, sin w, r_i - s, r_j - s)``; for ``|x| << s`` to the polynomial invariants
        themselves (divided by ``s^2``, resp. ``2 s``). Unlike the polynomials it grows only linearly
        with ``|x|``, so an MLP on it does not extrapolate quadratically far from the data.
        """
        _check_tail("a", a, (1,), "so(2) pair logarithms")
        _check_tail("qi", qi, (1,), "orbit embeddings r = |x|")
        _check_tail("qj", qj, (1,), "orbit embeddings r = |x|")
        scale = check_positive_float(scale, "the smooth pair input's scale", who=self.name)
        rho_i = torch.sqrt(qi * qi + scale * scale)
        rho_j = torch.sqrt(qj * qj + scale * scale)
        c = qi * qj / (rho_i * rho_j)
        return torch.cat([c * torch.cos(a), c * torch.sin(a), qi * qi / (rho_i + scale), qj * qj / (rho_j + scale)], dim=-1)


class SO3Action(LieAction):
    """Rotations of ``R^3``: ``q = ||x||``, ``o_q = r e_z``, ``u = Z(alpha) Y(beta)`` (the sphere's section),
    ``H_q = {Z(t)}`` with ``t ~ U(-pi, pi)``; at ``x = 0``, ``H`` is all of ``SO(3)``.

    ``u`` is the library's sphere section ``Z(alpha) Y(beta)`` of ``x / ||x||``, extended to the poles
    by ``alpha = 0`` (any ``u`` with ``u o_q = x`` is a valid lift).
    """

    group = SO3
    dim = 3
    orbit_dim = 1
    stabilizer_name = "SO(2) = {Z(t)} (SO(3) at x = 0)"
    name = "SO(3) on R^3"
    aliases = ("SO3",)

    def orbit(self, x):
        return torch.linalg.vector_norm(self.check_points(x), dim=-1, keepdim=True)

    def origin(self, q):
        z = torch.zeros_like(q)
        return torch.cat([z, z, q], dim=-1)

    def section(self, x):
        self.check_points(x)
        return zy_section(x)

    def sample_stabilizer(self, x, n, seed=None):
        self.check_points(x)
        _check_count(n)
        gen = make_generator(seed, x.device)
        shape = x.shape[:-1] + (n,)
        about_z = rot_z(_uniform_angles(shape, gen, x))
        full = SO3.sample(shape, seed=gen, dtype=x.dtype, device=x.device)
        at_origin = (x == 0).all(-1)[..., None, None, None]
        return torch.where(at_origin, full, about_z)


class _RigidMotionAction(LieAction):
    """``SE(d)`` on ``R^d`` (transitive): no orbit embedding, ``o = 0``, ``u`` = translation by ``x``,
    ``H`` = rotations about 0 (Haar samples from ``_rotation_samples``)."""

    orbit_dim = 0

    def orbit(self, x):
        return self.check_points(x)[..., :0]

    def origin(self, q):
        return torch.zeros(q.shape[:-1] + (self.dim,), dtype=q.dtype, device=q.device)

    def section(self, x):
        self.check_points(x)
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device).expand(x.shape[:-1] + (self.dim, self.dim))
        return self.group.from_parts(eye, x)

    def sample_stabilizer(self, x, n, seed=None):
        self.check_points(x)
        _check_count(n)
        r = self._rotation_samples(x.shape[:-1] + (n,), make_generator(seed, x.device), x)
        return self.group.from_parts(r, torch.zeros(r.shape[:-2] + (self.dim,), dtype=x.dtype, device=x.device))


class SE2Action(_RigidMotionAction):
    """``SE(2)`` on ``R^2``; ``H`` = rotations about 0, Haar-uniform or the equivariant frame quadrature."""

    group = SE2
    dim = 2
    stabilizer_name = "SO(2)"
    name = "SE(2) on R^2"
    aliases = ("SE2",)
    has_frame_stabilizer = True

    def _rotation_samples(self, shape, gen, x):
        return SO2.from_angle(_uniform_angles(shape, gen, x))

    def frame_stabilizer(self, x: torch.Tensor, center: torch.Tensor, n: int, offset: float = 0.0,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
        r"""A deterministic, *equivariant* quadrature of ``H``: rotations by ``angle(x - c) + offset + 2 pi k / n``.

        If the points and the reference point ``c`` (e.g. the centroid, ``(..., 2)`` broadcasting
        against ``x``) are moved by ``w = (R, t)``, the lifted elements ``u h_k`` move to ``w u h_k``
        exactly, so a LieConv network's output is exactly invariant; with a random ``offset ~ U(0, 2 pi)``
        each sample is marginally Haar-distributed.
        """
        self.check_points(x)
        _check_count(n)
        rel = x - center
        base = torch.atan2(rel[..., 1], rel[..., 0])
        t = base.unsqueeze(-1) + torch.arange(n, dtype=x.dtype, device=x.device) * (2 * math.pi / n) + offset
        return SE2.from_parts(SO2.from_angle(t), torch.zeros(t.shape + (2,), dtype=t.dtype, device=t.device))


class SE3Action(_RigidMotionAction):
    """``SE(3)`` on ``R^3``; ``H = SO(3)`` (Haar)."""

    group = SE3
    dim = 3
    stabilizer_name = "SO(3)"
    name = "SE(3) on R^3"
    aliases = ("SE3",)

    has_frame_stabilizer = True

    def _rotation_samples(self, shape, gen, x):
        return SO3.sample(shape, seed=gen, dtype=x.dtype, device=x.device)

    def frame_stabilizer(self, x: torch.Tensor, center: torch.Tensor, n: int, offset: float = 0.0,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
        r"""A deterministic, *equivariant* quadrature of ``H = SO(3)``: ``F_i R_1(offset + 2 pi k / n)``.

        ``F_i = [e_1, e_2, e_1 x e_2]`` is Gram-Schmidt on the first two non-parallel of three equivariant vectors
        at point ``i`` of its cloud ``x (B, N, 3)``: ``x_i - c`` (``c = center``, e.g. the centroid), the field
        ``sum_j (x_j - x_i) / |x_j - x_i|^3`` and ``sum_j (x_j - x_i) / |x_j - x_i|`` over the cloud's other
        valid points (``mask (B, N)``); ``R_1(t)`` rotates about ``e_1``. Moving the points and ``c`` by
        ``w = (R, t)`` maps ``F_i -> R F_i``, so the lifted elements move to ``w u h_k`` and a LieConv network's
        output is invariant, up to rounding, which grows like ``eps / sin`` of the angle between the vectors used.
        Where all three are parallel or zero (linear molecules, an atom at the centre of a symmetric one) no
        equivariant frame exists: there ``e_1`` (or ``e_2``) falls back to the coordinate axis least aligned
        with the others, which is not equivariant (:meth:`frame_is_degenerate` finds those points).
        """
        frame = self._frames(x, center, mask)[0]
        _check_count(n)
        t = offset + torch.arange(n, dtype=x.dtype, device=x.device) * (2 * math.pi / n)
        c, s_ = torch.cos(t), torch.sin(t)
        one, zero = torch.ones_like(t), torch.zeros_like(t)
        r1 = torch.stack([one, zero, zero, zero, c, -s_, zero, s_, c], -1).reshape(n, 3, 3)
        rot = frame.unsqueeze(-3) @ r1  # (B, N, n, 3, 3)
        return SE3.from_parts(rot, torch.zeros(rot.shape[:-1], dtype=x.dtype, device=x.device))

    def frame_is_degenerate(self, x: torch.Tensor, center: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, N)`` bool: the points whose :meth:`frame_stabilizer` frame fell back to a coordinate axis."""
        return self._frames(x, center, mask)[1]

    def _frames(self, x, center, mask):
        self.check_points(x)
        if x.dim() != 3:
            raise ValueError(f"SE3Action.frame_stabilizer: expected points x of shape (batch, n_points, 3), got "
                             f"{tuple(x.shape)}")
        B, N, _ = x.shape
        mask = torch.ones(B, N, dtype=torch.bool, device=x.device) if mask is None else mask
        rel = x.unsqueeze(1) - x.unsqueeze(2)  # (B, i, j, 3): x_j - x_i
        r = rel.norm(dim=-1, keepdim=True)
        use = (mask.unsqueeze(1) & (r.squeeze(-1) > 0)).unsqueeze(-1)
        safe = torch.where(use, r, torch.ones_like(r))
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        field = torch.where(use, rel / safe**3, zero).sum(2)
        pull = torch.where(use, rel / safe, zero).sum(2)
        cands = torch.stack([x - center, field, pull], -2)  # (B, N, 3 vectors, 3)
        scale = cands.norm(dim=-1).amax(-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
        tol = torch.finfo(x.dtype).eps ** 0.5
        axes = torch.eye(3, dtype=x.dtype, device=x.device).expand(B, N, 3, 3)
        # e1: the first candidate of non-negligible length, else the x axis
        ok1 = cands.norm(dim=-1) > tol * scale  # (B, N, 3)
        first = ok1.to(torch.int8).argmax(-1)
        v1 = torch.gather(cands, 2, first[..., None, None].expand(B, N, 1, 3)).squeeze(2)
        bad1 = ~ok1.any(-1)
        v1 = torch.where(bad1.unsqueeze(-1), axes[..., 0], v1)
        e1 = v1 / v1.norm(dim=-1, keepdim=True)
        # e2: the first candidate with a non-negligible component orthogonal to e1, else the least aligned axis
        perp = cands - (cands * e1.unsqueeze(-2)).sum(-1, keepdim=True) * e1.unsqueeze(-2)
        ok2 = perp.norm(dim=-1) > tol * scale
        second = ok2.to(torch.int8).argmax(-1)
        v2 = torch.gather(perp, 2, second[..., None, None].expand(B, N, 1, 3)).squeeze(2)
        bad2 = ~ok2.any(-1)
        axis = torch.gather(axes, 2, e1.abs().argmin(-1)[..., None, None].expand(B, N, 1, 3)).squeeze(2)
        axis = axis - (axis * e1).sum(-1, keepdim=True) * e1
        v2 = torch.where(bad2.unsqueeze(-1), axis, v2)
        e2 = v2 / v2.norm(dim=-1, keepdim=True)
        e3 = torch.linalg.cross(e1, e2)
        return torch.stack([e1, e2, e3], -1), (bad1 | bad2) & mask


class RxSO2Action(LieAction):
    """Scalings and rotations of ``R^2 \\ {0}`` (transitive there): ``o = (1, 0)``,
    ``u = [[x1, -x2], [x2, x1]]``, ``H = {e}``. The origin ``x = 0`` is a fixed point and is rejected."""

    group = RxSO2
    dim = 2
    orbit_dim = 0
    name = "R*xSO(2) on R^2 minus 0"
    aliases = ("RXSO2",)
    undefined_on = "the point 0"

    def check_points(self, x, name="x"):
        super().check_points(x, name)
        if x.numel() and bool((x == 0).all(-1).any()):
            raise ValueError(f"{self.name}: {name} contains the point 0, which no element maps the origin (1, 0) to")
        return x

    def orbit(self, x):
        return self.check_points(x)[..., :0]

    def origin(self, q):
        o = torch.zeros(q.shape[:-1] + (2,), dtype=q.dtype, device=q.device)
        o[..., 0] = 1
        return o

    def section(self, x):
        self.check_points(x)
        return RxSO2.from_complex(x[..., 0], x[..., 1])


class TrivialAction(LieAction):
    """``{e}`` on ``R^d``: every point is its own orbit, ``q = x``, ``o_q = x``."""

    orbit_dim = 0

    def __init__(self, d: int = 2):
        self.dim = d
        self.orbit_dim = d

    @property
    def group(self):
        return TrivialGroup(self.dim)

    @property
    def name(self):
        return f"{{e}} on R^{self.dim}"

    def orbit(self, x):
        return self.check_points(x).clone()

    def origin(self, q):
        return q.clone()

    def section(self, x):
        return self.group.identity(self.check_points(x).shape[:-1], dtype=x.dtype, device=x.device)

    @classmethod
    def from_name(cls, key, d):
        return cls(d) if key in ("TRIVIAL", "E", "{E}") else None

    def __repr__(self):
        return f"TrivialAction(d={self.dim})"


def lie_action(name: str, d: int = 2) -> LieAction:
    """An action by name: ``"T2"``/``"T(2)"``, ``"T3"``, ``"SO2"``, ``"SO3"``, ``"SE2"``, ``"SE3"``, ``"RxSO2"``,
    ``"Trivial"`` (on ``R^d``)."""
    key = name.replace("(", "").replace(")", "").replace("*", "").replace(" ", "").upper()
    todo = [LieAction]
    while todo:  # every action class, subclasses of subclasses included: a new action needs no edit here
        cls = todo.pop()
        todo += cls.__subclasses__()
        found = cls.from_name(key, d)
        if found is not None:
            return found
    raise ValueError(f"lie_action: unknown group {name!r}; expected one of T<k>, SO2, SO3, SE2, SE3, RxSO2, Trivial")

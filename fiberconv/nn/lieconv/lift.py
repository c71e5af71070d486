r"""LieConv's lifting (Finzi et al. 2020, Algorithm 1) and the point-set bookkeeping of its layers.

A point cloud ``{(x_i, f_i)}`` in ``R^d`` is lifted to ``G x X/G``:

.. math:: (x_i, f_i) \mapsto \{(u_i h_k,\ q_i,\ f_i)\}_{k=1}^{K}, \qquad u_i o_{q_i} = x_i,\quad h_k \sim \mathrm{Haar}(H_{q_i}),

where ``u = s(x)`` is a section of ``G`` over the orbit of ``x`` (:class:`OrbitSection`, a
:class:`fiberconv.bundles.Section`) and the ``h_k`` are Haar samples of the stabilizer of the orbit's
origin. For scalar features this is exactly the lifting ``Lambda`` of ``fiberconv.fields``:
``f^(g) = f(g o)`` (trivial ``rho``).

Tensor layout (:class:`LiftedCloud`), ``B`` clouds of ``M = N K`` lifted elements:

* ``u``: ``(B, M, *G)`` group elements; ``q``: ``(B, M, orbit_dim)``; ``f``: ``(B, M, C)``;
* ``mask``: ``(B, M)`` bool, ``False`` for padding.

The pair logarithms ``a_ij = log(u_i^{-1} u_j)`` (:func:`pair_logs`, :func:`relative_logs`) are not stored:
the layers compute them in blocks of query rows for the neighbour search and keep only those of the chosen
neighbours, so memory grows like ``M k``, not ``M^2`` (:class:`~fiberconv.nn.lieconv.conv.LieConv`).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ...bundles.principal import Section
from ...spaces.groups import Seed, make_generator
from ...spaces.lie_groups import LieAction
from ...validation import check_matches, check_tensor

__all__ = ["LiftedCloud", "OrbitSection", "lift_cloud", "pair_logs", "relative_logs", "subsample", "farthest_point_indices"]


class LiftedCloud(NamedTuple):
    """A batch of lifted point clouds; see the module docstring for the shapes."""

    u: torch.Tensor
    q: torch.Tensor
    f: torch.Tensor
    mask: torch.Tensor

    def with_features(self, f: torch.Tensor) -> LiftedCloud:
        """The same elements with new features ``f (B, M, C')``, zeroed at padding."""
        return self._replace(f=_zero_padding(f, self.mask))


def _zero_padding(f: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``f (B, M, C)`` with 0 where ``mask (B, M)`` is False: ``torch.where``, so NaN/Inf there never leak."""
    return torch.where(mask.unsqueeze(-1), f, torch.zeros((), dtype=f.dtype, device=f.device))


class OrbitSection(Section):
    """The section ``x -> u`` with ``u o_{q(x)} = x`` of a :class:`~fiberconv.spaces.lie_groups.LieAction`.

    It is a :class:`fiberconv.bundles.Section` of ``G -> G/H_q`` on every orbit; the orbit is
    recorded separately by ``q``. ``undefined_on`` names the points no group element reaches.
    """

    def __init__(self, action: LieAction):
        if not isinstance(action, LieAction):
            raise TypeError(f"OrbitSection: expected a LieAction, got {type(action).__name__}")
        self.action = action
        self.undefined_on = action.undefined_on

    def __call__(self, x: torch.Tensor, strict: bool = True) -> torch.Tensor:
        return self.action.section(x)

    def __repr__(self):
        return f"OrbitSection({self.action!r})"


def _check_cloud(action: LieAction, x, f, mask):
    """Types, shapes, dtypes and devices of a cloud, and that every cloud has a valid point. Values are
    not read (the NaN policy of :mod:`fiberconv.validation`): NaN/Inf at valid points propagate to
    that cloud's outputs, and values at padding never enter (``torch.where``)."""
    check_tensor(x, "points x", ("batch", "n_points", action.dim), context=f" for {action.name}", who="lift")
    B, N, _ = x.shape
    if B == 0 or N == 0:
        raise ValueError(f"lift: empty point set: x has shape {tuple(x.shape)}; need batch >= 1 and n_points >= 1")
    check_tensor(f, "features f", (B, N, "channels"), context=f" matching x {tuple(x.shape)}", who="lift")
    check_matches(f, x, "features f", against="points x", who="lift")
    if mask is None:
        mask = torch.ones(B, N, dtype=torch.bool, device=x.device)
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (B, N) or mask.dtype != torch.bool:
        got = (tuple(mask.shape), mask.dtype) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"lift: expected a bool mask of shape ({B}, {N}), got {got}")
    if not bool(mask.any(-1).all()):
        raise ValueError("lift: empty point set: some cloud has no valid (mask=True) point")
    return mask


def relative_logs(action: LieAction, ui: torch.Tensor, uj: torch.Tensor) -> torch.Tensor:
    """``log(u_i^{-1} u_j)`` for ``ui (..., *G)`` and ``uj (..., *G)`` broadcasting against each other: ``(..., algebra_dim)``
    (:meth:`Group.relative_log <fiberconv.spaces.groups.Group.relative_log>`)."""
    return action.group.relative_log(ui, uj)


def pair_logs(action: LieAction, u: torch.Tensor, v: torch.Tensor | None = None) -> torch.Tensor:
    """All pairs ``a_ij = log(u_i^{-1} v_j)``: ``u (B, R, *G)``, ``v (B, C, *G)`` (default ``u``) -> ``(B, R, C, algebra_dim)``.
    ``O(R C)`` memory: the layers call it on blocks of rows
    (:meth:`LieConv.distance2 <fiberconv.nn.lieconv.conv.LieConv.distance2>`)."""
    v = u if v is None else v
    ne = len(action.group.element_shape)
    return relative_logs(action, u.unsqueeze(-ne - 1), v.unsqueeze(-ne - 2))


def lift_cloud(
    action: LieAction,
    x: torch.Tensor,
    f: torch.Tensor,
    mask: torch.Tensor | None = None,
    n_samples: int = 1,
    seed: Seed = None,
    stabilizer: str = "haar",
    frame_offset: float = 0.0,
) -> LiftedCloud:
    r"""Algorithm 1: lift ``(x (B, N, d), f (B, N, C), mask (B, N))`` to a :class:`LiftedCloud` of ``M = N K``.

    Element ``i K + k`` is ``u_i h_k`` with ``u_i = s(x_i)`` (:class:`OrbitSection`) and ``h_k`` from
    the stabilizer of ``o_{q_i}``:

    * ``stabilizer="haar"``: i.i.d. Haar samples (``seed``: int, ``torch.Generator`` or None);
    * ``stabilizer="frame"`` (SE(2), SE(3)): the deterministic equivariant quadrature of
      :meth:`SE2Action.frame_stabilizer <fiberconv.spaces.lie_groups.SE2Action.frame_stabilizer>` or
      :meth:`SE3Action.frame_stabilizer <fiberconv.spaces.lie_groups.SE3Action.frame_stabilizer>` about each
      cloud's (masked) centroid, so that the network output is invariant up to rounding (Hamiltonians, QM9).
      A point at (or within rounding of) the centroid has no direction to take its frame from: its frame, and
      so the output, then changes with the rotation (by ~eps / distance; 2e-3 of the logits for a point exactly
      at the centroid).

    Padding points (``mask=False``) are moved to ``(1, 0, ...)`` before lifting (so that every
    action's section is defined there) and stay masked.
    """
    if not isinstance(action, LieAction):
        raise TypeError(f"lift: expected a LieAction, got {type(action).__name__}")
    mask = _check_cloud(action, x, f, mask)
    B, N, d = x.shape
    safe = torch.zeros(d, dtype=x.dtype, device=x.device)
    safe[0] = 1
    x = torch.where(mask.unsqueeze(-1), x, safe)
    u = OrbitSection(action)(x)  # (B, N, *G)
    if stabilizer == "haar":
        h = action.sample_stabilizer(x, n_samples, seed=make_generator(seed, x.device))
    elif stabilizer == "frame":
        if not action.has_frame_stabilizer:
            raise ValueError("lift: stabilizer='frame' needs an action with a frame quadrature of its stabilizer "
                             f"(SE2Action, SE3Action), got {action.name}")
        w = mask.to(x.dtype).unsqueeze(-1)
        center = (x * w).sum(1, keepdim=True) / w.sum(1, keepdim=True)
        h = action.frame_stabilizer(x, center, n_samples, frame_offset, mask=mask)
    else:
        raise ValueError(f"lift: stabilizer must be 'haar' or 'frame', got {stabilizer!r}")
    G = action.group
    ne = len(G.element_shape)
    g = G.compose(u.unsqueeze(-ne - 1).expand(h.shape), h)  # (B, N, K, *G)
    K = n_samples
    g = g.reshape((B, N * K) + tuple(G.element_shape))
    q = action.orbit(x).unsqueeze(2).expand(B, N, K, action.orbit_dim).reshape(B, N * K, action.orbit_dim)
    ff = f.unsqueeze(2).expand(B, N, K, f.shape[-1]).reshape(B, N * K, f.shape[-1])
    m = mask.unsqueeze(2).expand(B, N, K).reshape(B, N * K)
    ff = _zero_padding(ff, m)
    return LiftedCloud(u=g, q=q, f=ff, mask=m)


def _gather_rows(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``t (B, M, ...)``, ``idx (B, ...idx)`` -> ``t[b, idx[b, ...]]`` of shape ``(B, ...idx, ...)``."""
    b = torch.arange(t.shape[0], device=t.device).view((-1,) + (1,) * (idx.dim() - 1))
    return t[b, idx]


def subsample(cloud: LiftedCloud, idx: torch.Tensor, valid: torch.Tensor | None = None) -> LiftedCloud:
    """Restrict ``cloud`` to the elements ``idx (B, n)``; ``valid (B, n)`` masks duplicates."""
    mask = _gather_rows(cloud.mask, idx)
    if valid is not None:
        mask = mask & valid
    f = _zero_padding(_gather_rows(cloud.f, idx), mask)
    return LiftedCloud(u=_gather_rows(cloud.u, idx), q=_gather_rows(cloud.q, idx), f=f, mask=mask)


def _dense_rows(dist2: torch.Tensor):
    return lambda rows: _gather_rows(dist2, rows)


def _first_max(v: torch.Tensor, valid: torch.Tensor, rtol: float) -> torch.Tensor:
    """Per row, the lowest index among the valid entries within ``rtol`` (relative) of the valid maximum: copies of a
    lifted point tie in exact arithmetic (a stabilizer quadrature that is a group permutes them isometrically) and
    are adjacent in the layout, so their order is fixed by the lift, not by the order of the points; the first
    valid index where no entry is valid."""
    top = torch.where(valid, v, torch.full_like(v, -math.inf)).amax(-1, keepdim=True)
    near = valid & (v >= top - rtol * top.abs())
    return torch.where(near.any(-1, keepdim=True), near, valid).to(torch.int8).argmax(-1)


def farthest_point_indices(dist2, mask: torch.Tensor, n: int, keep: torch.Tensor | None = None, block_rows: int | None = None):
    """Farthest-point subsampling in a (squared) invariant distance, independent of the order of the elements.

    Starts from each cloud's most peripheral valid element (the largest sum of squared distances to the
    others, summed in float64) and repeatedly adds the not yet chosen element farthest from the chosen set.
    Only distances enter, so the choice is equivariant, and it does not depend on the elements' order: the
    indices follow a permutation of the input, and the chosen elements (in order) are the same, except where
    distances tie (within ``64 eps`` relative) between different points (symmetric clouds). Copies of one point
    (the ``K`` lifted elements, adjacent in the layout) that tie go to the first copy, and squared distances below
    ``100 eps`` of the dtype count as 0 (duplicates, e.g. the ``K`` copies a trivial stabilizer lifts to), so
    rounding cannot reorder them.

    Parameters
    ----------
    dist2 : ``(B, M, M)`` squared distances, or a callable ``rows (B, R) long -> (B, R, M)``: the rows the
        search reads, computed on demand, so memory stays ``O(B M)`` plus one block of ``block_rows`` rows
    mask : ``(B, M)`` bool
    n : number of elements to return
    keep : ``(B,)`` optional per-cloud number of elements to mark valid (default: all valid ones)
    block_rows : rows per call of ``dist2`` while finding the start (default: all ``M`` at once)

    Returns
    -------
    idx : ``(B, n)`` long, distinct elements while valid ones last;
    valid : ``(B, n)`` bool, ``False`` where a cloud had fewer than ``n`` valid elements.
    """
    B, M = mask.shape
    rows_of = _dense_rows(dist2.detach()) if isinstance(dist2, torch.Tensor) else dist2
    block_rows = M if block_rows is None else max(1, int(block_rows))
    ar = torch.arange(B, device=mask.device)

    def row(rows):
        with torch.no_grad():
            d2 = rows_of(rows)
        tol = 100 * torch.finfo(d2.dtype).eps
        return torch.where(d2 <= tol, torch.zeros_like(d2), d2)

    # the start: the valid element with the largest float64 sum of squared distances to the valid others
    total = torch.empty(B, M, dtype=torch.float64, device=mask.device)
    for r0 in range(0, M, block_rows):
        rows = torch.arange(r0, min(M, r0 + block_rows), device=mask.device).expand(B, -1)
        d2 = row(rows)
        eps = 64 * torch.finfo(d2.dtype).eps
        d2 = d2.to(torch.float64)
        total[:, r0:r0 + rows.shape[1]] = torch.where(mask.unsqueeze(1), d2, torch.zeros((), dtype=d2.dtype,
                                                                                         device=d2.device)).sum(-1)
    cur = _first_max(total, mask, eps)
    idx = torch.zeros(B, n, dtype=torch.long, device=mask.device)
    chosen = torch.zeros(B, M, dtype=torch.bool, device=mask.device)
    mind = None
    for t in range(n):
        idx[:, t] = cur
        chosen[ar, cur] = True
        d = row(cur.unsqueeze(1)).squeeze(1)
        mind = d if mind is None else torch.minimum(mind, d)
        mind = torch.where(mask & ~chosen, mind, torch.full_like(mind, -1.0))
        cur = _first_max(mind, mask & ~chosen, eps)
    count = mask.sum(-1, keepdim=True)
    if keep is not None:
        count = torch.minimum(count, keep.reshape(B, 1).to(count.dtype))
    valid = torch.arange(n, device=mask.device).unsqueeze(0) < count
    return idx, valid

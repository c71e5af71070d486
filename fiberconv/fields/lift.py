r"""The lifting isomorphism ``Lambda`` between local sections and Mackey functions (eqs. 1-2).

.. math::

    [\Lambda f](g) = \rho(h(g))^{-1} f(gH), \qquad [\Lambda^{-1} F](x) = F(s(x)),

with ``h(g) = s(gH)^{-1} g``. ``Lambda f`` is a Mackey function, ``F(g h) = rho(h)^{-1} F(g)``
for ``h`` in ``H`` (eq. 1), and ``Lambda^{-1} Lambda = id``, ``Lambda Lambda^{-1} = id`` on
Mackey functions.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from .field_type import FieldType
from .sampling import FibredSampling

__all__ = ["lift_values", "lift_function", "lift", "lift_inverse", "mackey_defect"]


def lift_values(field_type: FieldType, g: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    r"""Eq. (2) pointwise: ``rho(h(g))^{-1} v`` where ``v`` is the local section's value at ``gH``.

    Parameters
    ----------
    g : ``(..., *G)`` group elements
    values : ``(..., C)`` the local section at ``p(g)``, in the frame ``s(p(g))``

    Returns
    -------
    ``(..., C)``: ``[Lambda f](g)``.
    """
    if values.shape[-1] != field_type.dim:
        raise ValueError(
            f"lift: expected values with last dimension {field_type.dim} for {field_type}, got {tuple(values.shape)}"
        )
    rho_inv = field_type.rho(field_type.bundle.h(g)).transpose(-1, -2)  # orthogonal: inverse = transpose
    return (rho_inv @ values.unsqueeze(-1)).squeeze(-1)


def lift_function(field_type: FieldType, f: Callable[[torch.Tensor], torch.Tensor], g: torch.Tensor) -> torch.Tensor:
    """``[Lambda f](g)`` for a local section given as a callable ``points (..., d) -> values (..., C)``."""
    return lift_values(field_type, g, f(field_type.bundle.projection(g)))


def lift(field_type: FieldType, f: torch.Tensor, sampling: FibredSampling) -> torch.Tensor:
    """``Lambda``: local section ``(B, C, N)`` on ``sampling.grid`` -> Mackey tensor ``(B, C, N, K)``.

    ``F[b, :, i, k] = rho(h(g_ik))^{-1} f[b, :, i]`` with ``g_ik = s(x_i) Z(gamma_k)``.
    """
    field_type.check_local(f, sampling.npoints, repr(sampling.grid))
    g = sampling.elements(dtype=f.dtype, device=f.device)  # (N, K, 3, 3)
    values = f.transpose(1, 2).unsqueeze(2)  # f(gH) = f(x_i): (B, N, 1, C)
    return lift_values(field_type, g, values).permute(0, 3, 1, 2)


def lift_inverse(field_type: FieldType, F: torch.Tensor, sampling: FibredSampling) -> torch.Tensor:
    """``Lambda^{-1}``: Mackey tensor ``(B, C, N, K)`` -> local section ``(B, C, N)``, ``f(x_i) = F(s(x_i))``.

    ``s(x_i)`` is the sample ``k = 0`` of every fibre.
    """
    field_type.check_mackey(F, sampling.npoints, sampling.n_fibre, repr(sampling))
    return F[..., 0].clone()


def mackey_defect(field_type: FieldType, F: torch.Tensor, sampling: FibredSampling) -> torch.Tensor:
    r"""Relative violation of the Mackey condition (eq. 1) on the sampling.

    Compares ``F(g_ik)`` with ``rho(h)^{-1} F(g_i0)`` for ``h = g_i0^{-1} g_ik`` in ``H`` and returns
    ``max |difference| / max(max |F|, tiny)`` — zero (to rounding) exactly for Mackey functions.
    """
    field_type.check_mackey(F, sampling.npoints, sampling.n_fibre, repr(sampling))
    g = sampling.elements(dtype=F.dtype, device=F.device)
    G, space = field_type.bundle.group, field_type.bundle.space
    h = space.to_stabilizer(G.compose(G.inverse(g[:, :1]), g))  # (N, K, *H)
    rho_inv = field_type.rho(h).transpose(-1, -2)
    expected = torch.einsum("nkcd,bdn->bcnk", rho_inv, F[..., 0])
    scale = F.abs().amax().clamp_min(torch.finfo(F.dtype).tiny)
    return (F - expected).abs().amax() / scale

r"""Frame components <-> ambient tensors on ``S^2``, and climate (u, v) wind components.

A tangent vector at ``x`` with components ``(v_theta, v_phi)`` in the section's frame
``(e_theta, e_phi)`` (south, east) is the ambient vector ``v_theta e_theta + v_phi e_phi`` in ``R^3``.
Climate data stores ``(u, v)`` = (eastward, northward), so ``v_theta = -v`` and ``v_phi = u``.

Fields of SO(2) frequency ``m`` generalise this: with ``E_m = (e_1 + i e_2)^{(x) m}`` (a complex
vector of length ``3^m``) for a frame ``(e_1, e_2)``, the components ``(a, b)`` define the
frame-independent real tensor

.. math:: T = \mathrm{Re}\big[(a - i b)\, E_m\big], \qquad a - i b = 2^{1-m}\, T \cdot \bar E_m .

Turning the frame by ``t`` multiplies ``E_m`` by ``e^{-imt}`` and ``a + ib`` by ``e^{-imt}``
(``rho_m(-t)``), so ``T`` is unchanged; ``m = 0`` is a scalar, ``m = 1`` the tangent vector.
"""
from __future__ import annotations

import torch

from ..spaces.representations import SO2Irrep
from .field_type import FieldType

__all__ = [
    "spin_tensor_basis",
    "ambient_dim",
    "to_ambient",
    "from_ambient",
    "tangent_to_ambient",
    "ambient_to_tangent",
    "wind_to_tangent",
    "tangent_to_wind",
]


def spin_tensor_basis(m: int, frames: torch.Tensor) -> torch.Tensor:
    """``E_m = (e_1 + i e_2)^{(x) m}`` flattened: ``frames (..., 2, 3) -> complex (..., 3^m)``."""
    e = torch.complex(frames[..., 0, :], frames[..., 1, :])
    out = torch.ones(frames.shape[:-2] + (1,), dtype=e.dtype, device=e.device)
    for _ in range(m):
        out = (out.unsqueeze(-1) * e.unsqueeze(-2)).flatten(-2)
    return out


def ambient_dim(field_type: FieldType) -> int:
    """Number of ambient channels: 1 per scalar, ``3^m`` per frequency-``m`` block."""
    return sum(1 if r.m == 0 else 3**r.m for _, r in _so2_blocks(field_type))


def _so2_blocks(field_type: FieldType):
    blocks = field_type.irrep_blocks()
    for _, r in blocks:
        if not isinstance(r, SO2Irrep):
            raise TypeError(f"ambient tensors are defined for fields of SO(2) irreps on S^2; {field_type} has {r!r}")
    return blocks


def to_ambient(field_type: FieldType, f: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    r"""Frame components -> ambient tensors.

    Parameters
    ----------
    f : ``(B, C, *P)`` components, ``C = field_type.dim``, ``P`` any point shape
    frames : ``(*P, 2, 3)`` the frame ``(e_1, e_2)`` the components refer to at each point

    Returns
    -------
    ``(B, A, *P)`` with ``A = ambient_dim(field_type)``.
    """
    out = []
    for sl, r in _so2_blocks(field_type):
        comp = f[:, sl]
        if r.m == 0:
            out.append(comp)
            continue
        basis = spin_tensor_basis(r.m, frames)  # (*P, 3^m) complex
        zbar = torch.complex(comp[:, 0], -comp[:, 1])  # (B, *P)
        t = (zbar.unsqueeze(-1) * basis).real  # (B, *P, 3^m)
        out.append(t.movedim(-1, 1))
    return torch.cat(out, dim=1)


def from_ambient(field_type: FieldType, t: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Ambient tensors ``(B, A, *P)`` -> components ``(B, C, *P)`` in ``frames (*P, 2, 3)``."""
    out, i = [], 0
    for _, r in _so2_blocks(field_type):
        if r.m == 0:
            out.append(t[:, i : i + 1])
            i += 1
            continue
        n = 3**r.m
        block = t[:, i : i + n].movedim(1, -1)  # (B, *P, 3^m)
        i += n
        basis = spin_tensor_basis(r.m, frames)
        zbar = (block.to(basis.dtype) * basis.conj()).sum(-1) * 2.0 ** (1 - r.m)
        out.append(torch.stack([zbar.real, -zbar.imag], dim=1))
    return torch.cat(out, dim=1)


def tangent_to_ambient(v: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` components ``(v_theta, v_phi)`` and ``frames (..., 2, 3)`` -> ambient ``(..., 3)``."""
    if v.shape[-1] != 2 or frames.shape[-2:] != (2, 3):
        raise ValueError(f"expected components (..., 2) and frames (..., 2, 3), got {tuple(v.shape)} and {tuple(frames.shape)}")
    return (v.unsqueeze(-1) * frames).sum(-2)


def ambient_to_tangent(vec: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Project ambient vectors ``(..., 3)`` onto ``frames (..., 2, 3)``: ``-> (..., 2)``."""
    if vec.shape[-1] != 3 or frames.shape[-2:] != (2, 3):
        raise ValueError(f"expected vectors (..., 3) and frames (..., 2, 3), got {tuple(vec.shape)} and {tuple(frames.shape)}")
    return (frames @ vec.unsqueeze(-1)).squeeze(-1)


def wind_to_tangent(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Eastward ``u`` and northward ``v`` -> ``(..., 2)`` components ``(v_theta, v_phi) = (-v, u)``."""
    u, v = torch.broadcast_tensors(u, v)
    return torch.stack([-v, u], dim=-1)


def tangent_to_wind(components: torch.Tensor):
    """``(..., 2)`` components ``(v_theta, v_phi)`` -> ``(u, v) = (v_phi, -v_theta)``."""
    if components.shape[-1] != 2:
        raise ValueError(f"expected (..., 2) tangent components, got {tuple(components.shape)}")
    return components[..., 1], -components[..., 0]

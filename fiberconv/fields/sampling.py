r"""Samplings of ``G`` on which Mackey functions are stored.

A :class:`FibredSampling` of ``SO(3)`` over a grid of ``S^2`` takes, above every grid point ``x_i``,
``K`` equispaced points of the fibre ``s(x_i) H``:

.. math:: g_{ik} = s(x_i)\, Z(\gamma_k), \qquad \gamma_k = 2\pi k / K,

so ``p(g_{ik}) = x_i`` and ``h(g_{ik}) = Z(\gamma_k)``; ``k = 0`` is the section itself. A Mackey
function ``F`` is stored as ``F[..., i, k] = F(g_{ik})``.
"""
from __future__ import annotations

import math

import torch

from ..bundles import PrincipalBundle
from ..spaces.homogeneous import Sphere
from ..validation import check_dtype, check_positive_int

__all__ = ["FibredSampling"]


class FibredSampling:
    """``N x K`` elements ``s(x_i) Z(2 pi k / K)`` of ``SO(3)`` above the points of ``grid``.

    Parameters
    ----------
    grid : a grid of ``S^2`` with ``npix`` and ``xyz(dtype, device)`` (e.g. ``HealpixGrid``)
    bundle : PrincipalBundle over ``Sphere()``
    n_fibre : int, number ``K >= 1`` of samples per fibre
    """

    def __init__(self, grid, bundle: PrincipalBundle, n_fibre: int):
        if not isinstance(bundle, PrincipalBundle) or not isinstance(bundle.space, Sphere):
            raise TypeError(f"FibredSampling needs the principal bundle SO(3) -> S^2, got {bundle!r}")
        check_positive_int(n_fibre, "n_fibre", who="FibredSampling")
        self.grid = grid
        self.bundle = bundle
        self.n_fibre = n_fibre

    @property
    def npoints(self) -> int:
        return self.grid.npix

    def fibre_angles(self, dtype=None, device=None) -> torch.Tensor:
        """``(K,)`` the angles ``gamma_k = 2 pi k / K``."""
        dtype = check_dtype(dtype, who="FibredSampling")
        return torch.arange(self.n_fibre, dtype=dtype, device=device) * (2 * math.pi / self.n_fibre)

    def elements(self, dtype=None, device=None) -> torch.Tensor:
        """``(N, K, 3, 3)`` the group elements ``g_{ik} = s(x_i) Z(gamma_k)``."""
        x = self.grid.xyz(dtype=dtype, device=device)
        s = self.bundle.section(x)  # (N, 3, 3)
        z = self.bundle.space.embed_angle(self.fibre_angles(dtype=x.dtype, device=x.device))  # (K, 3, 3)
        return s[:, None] @ z[None]

    def __repr__(self):
        return f"FibredSampling({self.grid!r}, K={self.n_fibre})"

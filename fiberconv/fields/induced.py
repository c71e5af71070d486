r"""The induced representation ``pi = Ind_H^G rho`` on fields over ``S^2`` (Sec. 2.4, eqs. 3-4).

On local sections (eq. 4, in the convention of ``docs/conventions.md``):

.. math:: [\pi_C(g) f](x) = \rho\big(h(g^{-1}x, g)\big)\, f(g^{-1}x),

on Mackey functions (eq. 3): ``[pi_G(g) F](k) = F(g^{-1} k)``; ``Lambda`` intertwines them.

On a grid, ``g^{-1}x`` is not a grid point, so both need a field's value off the grid. Here a field
is resampled through its frame-independent ambient tensors (:mod:`fiberconv.fields.tangent`): each
ambient component is a smooth scalar function on ``S^2`` and is rotated exactly (for band-limited
functions) in spherical-harmonic space by :class:`~fiberconv.spaces.sht.HealpixSHT`. The two
actions then read the resampled tensor in different frames:

* ``pi_C`` projects onto the section's frame ``s(g^{-1}x)`` and applies the twist ``rho(h(g^{-1}x, g))``
  computed from the cocycle — eq. (4) literally;
* ``pi_G`` projects onto the frame of the group element ``g^{-1} k`` itself — eq. (3) literally, with
  no section and no cocycle.

Both are exact for fields whose ambient components have degree ``<= lmax``. For the eight
rotations that map the HEALPix grid onto itself (``HealpixGrid.symmetries()``) no resampling is
needed: ``g^{-1} x`` is a grid point and both actions are computed exactly, by a pixel permutation
(and, for Mackey functions, a shift along the fibre when ``g^{-1} k`` is a sample), for any field.
"""
from __future__ import annotations

import math

import torch

from ..spaces.groups import SO3
from ..spaces.sht import HealpixSHT
from ..validation import element_tolerance
from .field_type import FieldType
from .sampling import FibredSampling
from .tangent import from_ambient, to_ambient

__all__ = ["InducedRepresentation"]


def _frames_of(g: torch.Tensor) -> torch.Tensor:
    """The frame ``(g e_x, g e_y)`` of rotations ``g (..., 3, 3)`` as rows ``(..., 2, 3)``."""
    return g[..., :, :2].transpose(-1, -2)


class InducedRepresentation:
    """``pi = Ind_{SO(2)}^{SO(3)} rho`` for a field type on a HEALPix grid.

    Parameters
    ----------
    field_type : FieldType over ``SO(3) -> S^2`` whose fields are SO(2) irreps
    grid : HealpixGrid
    lmax : int, optional
        Band limit of the resampling (default: the ``HealpixSHT`` default for the grid).

    Call ``pi(g, f)`` for the action on local sections ``f (B, C, N)`` and ``pi.mackey(g, F, sampling)``
    on Mackey tensors ``F (B, C, N, K)``; ``g`` is one rotation ``(3, 3)``.
    """

    def __init__(self, field_type: FieldType, grid, lmax: int | None = None):
        if not isinstance(field_type, FieldType):
            raise TypeError(f"InducedRepresentation: expected a FieldType, got {type(field_type).__name__}")
        self.field_type = field_type
        self.grid = grid
        self.sht = HealpixSHT(grid, lmax) if lmax is not None else HealpixSHT(grid)

    @property
    def lmax(self) -> int:
        return self.sht.lmax

    def _check_g(self, g: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(g, perm)``: ``g`` checked to be one rotation (shape and values, to the tolerance of its dtype)
        in ``like``'s dtype and device — replaced by the exact grid symmetry when it is one up to rounding
        in its dtype (:meth:`HealpixGrid.symmetry_index`) — and ``perm`` with ``g^{-1} x_i = x_{perm[i]}``
        for a grid symmetry, else None."""
        SO3.check(g, "InducedRepresentation: g")
        if g.shape != (3, 3):
            raise ValueError(f"InducedRepresentation: expected g to be one rotation matrix of shape (3, 3), got {tuple(g.shape)}")
        SO3.check_element(g, who="InducedRepresentation")
        k = self.grid.symmetry_index(g)
        if k is None:
            return g.to(dtype=like.dtype, device=like.device), None
        exact = self.grid.symmetries()[k]
        perm = self.grid.symmetry_permutation(exact.T).to(like.device)
        return exact.to(dtype=like.dtype, device=like.device), perm

    def _rotate_ambient(self, t: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Ambient scalar components ``(B, A, N) -> t(g^{-1} x)``."""
        return self.sht.rotate(t, g)

    def __call__(self, g: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        r"""``pi_C(g) f`` (eq. 4): ``(B, C, N) -> (B, C, N)``."""
        ft = self.field_type
        ft.check_local(f, self.grid.npix, repr(self.grid))
        g, perm = self._check_g(g, f)
        bundle = ft.bundle
        x = self.grid.xyz(dtype=f.dtype, device=f.device)
        if perm is not None:  # g^-1 x_i is the grid point x_perm[i]: exact
            y, f_at_y = x[perm], f[..., perm]
        else:
            t = to_ambient(ft, f, _frames_of(bundle.section(x)))
            y = SO3.act(SO3.inverse(g), x)  # g^-1 x
            f_at_y = from_ambient(ft, self._rotate_ambient(t, g), _frames_of(bundle.section(y)))
        twist = ft.rho(bundle.cocycle(y, g))  # rho(h(g^-1 x, g)), (N, C, C)
        return torch.einsum("ncd,bdn->bcn", twist, f_at_y)

    def mackey(self, g: torch.Tensor, F: torch.Tensor, sampling: FibredSampling) -> torch.Tensor:
        r"""``pi_G(g) F`` (eq. 3): ``[pi_G(g) F](k) = F(g^{-1} k)``, ``(B, C, N, K) -> (B, C, N, K)``."""
        ft = self.field_type
        if sampling.grid != self.grid:
            raise ValueError(f"the sampling lies over {sampling.grid!r}, this representation over {self.grid!r}")
        ft.check_mackey(F, sampling.npoints, sampling.n_fibre, repr(sampling))
        g, perm = self._check_g(g, F)
        k = sampling.elements(dtype=F.dtype, device=F.device)  # (N, K, 3, 3)
        u = SO3.inverse(g) @ k  # g^-1 k, with u o = g^-1 x_i
        if perm is not None:
            # g^-1 k_ik = s(x_j) Z(gamma): exact when gamma is a fibre sample
            x = self.grid.xyz(dtype=F.dtype, device=F.device)
            gamma = ft.bundle.space.stabilizer_angle(ft.bundle.section(x[perm]).unsqueeze(1).transpose(-1, -2) @ u)
            step = 2 * math.pi / sampling.n_fibre
            shift = torch.round(gamma / step)
            if float((gamma - shift * step).abs().max()) <= element_tolerance(F.dtype):
                kk = shift.long() % sampling.n_fibre  # (N, K)
                return F[:, :, perm.unsqueeze(1).expand_as(kk), kk]
        # the ambient tensor at x_i, read from every sample of the fibre and averaged
        t = to_ambient(ft, F, _frames_of(k)).mean(-1)  # (B, A, N)
        t_rot = self._rotate_ambient(t, g)  # t(g^-1 x_i)
        return from_ambient(ft, t_rot.unsqueeze(-1).expand(-1, -1, -1, sampling.n_fibre), _frames_of(u))

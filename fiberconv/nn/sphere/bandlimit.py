r"""``SphereBandLimit``: the orthogonal projection of a field onto spherical harmonics of degree ``<= lmax``,
optionally resampled on another HEALPix grid (spectral pooling and unpooling).

A scalar field ``f`` sampled at the pixels ``x_i`` is replaced by the band-limited function that fits it
best in the least-squares sense (HEALPix pixels have equal areas, so this is the discrete ``L^2``
projection), evaluated at the output pixels ``y_j``:

.. math:: [P f](y_j) = \sum_{l \le L} \sum_m Y_{lm}(y_j)\, c_{lm}, \qquad
          c = \operatorname{argmin}_c \sum_i \big(f(x_i) - \textstyle\sum_{lm} c_{lm} Y_{lm}(x_i)\big)^2 .

Fields of SO(2) frequency ``m > 0`` (tangent vectors, ``m = 1``; symmetric traceless tensors, ``m = 2``)
are written as ambient tensors in ``R^{3^m}`` (:func:`~fiberconv.fields.tangent.to_ambient`), each ambient
component is projected as a scalar, and the result is read back in the output frames
(:func:`~fiberconv.fields.tangent.from_ambient`, which drops the normal part). In the continuum each step
commutes with rotations (a rotation mixes the ambient components linearly and maps degree-``l`` harmonics
to degree-``l`` harmonics), so the layer is an equivariant map between induced representations; on the
grid it reproduces every field whose ambient components have degree ``<= L`` exactly, whatever the
rotation. Its purpose in a network: the pointwise nonlinearities create content up to the grid scale, where
no local kernel can be rotation-exact; projecting it away keeps every convolution on content it
discretizes accurately (``docs/sphere_cnn.md``, "Band-limited features").

Cost: two dense products with ``(L + 1)^2 x N_pix`` matrices per ambient channel (buffers, derived from
the grids and ``L``; not in the ``state_dict``).
"""
from __future__ import annotations

import torch
from torch import nn

from ...fields import FieldType
from ...fields.tangent import ambient_dim, from_ambient, to_ambient
from ...spaces.harmonics import real_sph_harm_xyz
from ...spaces.healpix import HealpixGrid
from ...validation import check_nonnegative_int
from .kernels import _irrep_groups

__all__ = ["SphereBandLimit"]


def _frames(field_type: FieldType, grid: HealpixGrid) -> torch.Tensor:
    """``(N_pix, 2, 3)``: the section's frame ``(e_1, e_2)`` at every pixel, float64."""
    return field_type.bundle.section(grid.xyz(dtype=torch.float64))[..., :, :2].transpose(-1, -2).contiguous()


class SphereBandLimit(nn.Module):
    """Band-limit a field to degree ``<= lmax``: ``(B, C, N_in) -> (B, C, N_out)``, ``C = field_type.dim``.

    Parameters
    ----------
    field_type : FieldType of SO(2) irreps over the sphere bundle (scalars, tangent vectors, ...)
    grid : HealpixGrid of the input
    lmax : int
        Band limit ``L >= 0``. The fit needs ``(L + 1)^2`` well-separated samples: ``L <= 2 nside`` of the
        input grid (``ValueError`` otherwise). Keep ``L`` well below the output grid's ``nside`` where a
        :class:`SphereConv` follows: its error falls fast with the degree of its input (``docs/sphere_cnn.md``).
    out_grid : HealpixGrid, optional
        Where the band-limited field is evaluated (default ``grid``): ``grid.coarsen()`` makes a spectral
        pooling, a finer grid a spectral unpooling. Any ``nside`` and ordering.
    fit_lmax : int, optional
        Degree of the least-squares fit, ``lmax <= fit_lmax <= 2 nside`` (default ``2 nside``): the fit
        resolves all degrees up to ``fit_lmax`` and keeps those ``<= lmax``, so content of degree up to
        ``fit_lmax`` does not alias into the kept degrees (with ``fit_lmax = lmax`` it does, by ~1 % on
        white inputs). Build time grows as ``N_pix fit_lmax^4``: 0.8 s at nside 16, ~30 s at nside 32.
    dtype, device : factory arguments of the derived matrices (they also follow ``.to()`` and the input).

    Raises
    ------
    TypeError
        ``grid`` or ``out_grid`` is not a HealpixGrid, or ``field_type`` is not a field type over ``S^2``.
    ValueError
        ``lmax`` negative or above ``2 nside`` of ``grid``; inputs of the wrong shape.

    Notes
    -----
    Source: the ``L^2`` projection onto ``span{Y_lm, l <= L}``, which commutes with rotations (Peter-Weyl);
    ambient tensors for the ``m > 0`` fields as in :mod:`fiberconv.fields.tangent`.
    """

    def __init__(self, field_type: FieldType, grid: HealpixGrid, lmax: int, out_grid: HealpixGrid | None = None,
                 fit_lmax: int | None = None, dtype: torch.dtype | None = None, device=None):
        super().__init__()
        who = "SphereBandLimit"
        out_grid = grid if out_grid is None else out_grid
        for name, g in (("grid", grid), ("out_grid", out_grid)):
            if not isinstance(g, HealpixGrid):
                raise TypeError(f"{who}: {name} must be a HealpixGrid, got {type(g).__name__}")
        lmax = check_nonnegative_int(lmax, "lmax", who=who)
        if lmax > 2 * grid.nside:
            raise ValueError(f"{who}: lmax must be <= 2 nside = {2 * grid.nside} of the input grid {grid!r} (the "
                             f"least-squares fit of (lmax + 1)^2 harmonics needs that many well-spread pixels), got {lmax}")
        _irrep_groups(field_type, who)  # a FieldType over S^2 of SO(2) irreps (regular fields count as theirs)
        self.ambient = ambient_dim(field_type)
        self.in_type = self.out_type = field_type
        self.grid, self.out_grid, self.lmax = grid, out_grid, lmax
        dtype = torch.get_default_dtype() if dtype is None else dtype
        fit = 2 * grid.nside if fit_lmax is None else check_nonnegative_int(fit_lmax, "fit_lmax", who=who)
        if not lmax <= fit <= 2 * grid.nside:
            raise ValueError(f"{who}: fit_lmax must lie between lmax = {lmax} and 2 nside = {2 * grid.nside} of {grid!r}, "
                             f"got {fit}")
        n = (lmax + 1) ** 2
        y_in = real_sph_harm_xyz(fit, grid.xyz(dtype=torch.float64))  # (N_in, n_fit)
        y_out = real_sph_harm_xyz(lmax, out_grid.xyz(dtype=torch.float64))
        q, r = torch.linalg.qr(y_in)  # pinv(y_in) = r^-1 q^T, without an N_pix x N_pix identity
        analysis = torch.linalg.solve_triangular(r, q.T, upper=True)[:n]  # (n, N_in)
        kw = dict(dtype=dtype, device=device)
        self.register_buffer("analysis", analysis.to(**kw), persistent=False)
        self.register_buffer("synthesis", y_out.T.contiguous().to(**kw), persistent=False)  # (n, N_out)
        self.scalar = all(r.m == 0 for _, r in field_type.irrep_blocks())
        if not self.scalar:
            self.register_buffer("frames_in", _frames(field_type, grid).to(**kw), persistent=False)
            self.register_buffer("frames_out", _frames(field_type, out_grid).to(**kw), persistent=False)

    def extra_repr(self) -> str:
        to = "" if self.out_grid == self.grid else f" -> {self.out_grid!r}"
        return f"{self.in_type}, lmax={self.lmax}, {self.grid!r}{to}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.check_tensor(x, "SphereBandLimit", points=(self.grid.npix,), where=repr(self.grid))
        a, s = self.analysis.to(x), self.synthesis.to(x)
        if self.scalar:
            return x @ a.T @ s
        f_in, f_out = self.frames_in.to(x), self.frames_out.to(x)
        return from_ambient(self.in_type, to_ambient(self.in_type, x, f_in) @ a.T @ s, f_out)

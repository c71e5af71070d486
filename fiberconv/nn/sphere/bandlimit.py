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

import warnings

import torch
from torch import nn

from ...fields import FieldType
from ...fields.tangent import from_ambient, to_ambient
from ...spaces.harmonics import real_sph_harm_xyz
from ...spaces.healpix import HealpixGrid
from ...spaces.representations import SO2Irrep
from ...validation import check_dtype, check_nonnegative_int
from .kernels import _irrep_groups

__all__ = ["SphereBandLimit"]


def _ambient_maps(bundle, m: int, grid: HealpixGrid, out_grid: HealpixGrid) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pixel, the linear maps of one frequency-``m`` field to its ambient tensor on ``grid``, ``(3^m, 2, N_in)``,
    and back on ``out_grid``, ``(2, 3^m, N_out)`` (pixels last, for broadcast products): :func:`to_ambient` and
    :func:`from_ambient` applied to unit components, float64."""
    ft = FieldType(bundle, [SO2Irrep(m)])

    def frames(g):
        return bundle.section(g.xyz(dtype=torch.float64))[..., :, :2].transpose(-1, -2)

    n = 3**m
    embed = to_ambient(ft, torch.eye(2, dtype=torch.float64)[:, :, None].expand(2, 2, grid.npix), frames(grid))
    read = from_ambient(ft, torch.eye(n, dtype=torch.float64)[:, :, None].expand(n, n, out_grid.npix), frames(out_grid))
    return embed.transpose(0, 1).contiguous(), read.transpose(0, 1).contiguous()


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
        white inputs). Build time grows as ``N_pix fit_lmax^4`` and memory as ``N_pix fit_lmax^2`` (16 bytes
        each): 0.3 s at nside 16, 11 s and ~1.8 GiB at nside 32, ~6.5 GiB at nside 64 (a ``ResourceWarning``
        above 2 GiB).
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
        self.in_type = self.out_type = field_type
        self.grid, self.out_grid, self.lmax = grid, out_grid, lmax
        dtype = check_dtype(dtype, who=who)
        fit = 2 * grid.nside if fit_lmax is None else check_nonnegative_int(fit_lmax, "fit_lmax", who=who)
        if not lmax <= fit <= 2 * grid.nside:
            raise ValueError(f"{who}: fit_lmax must lie between lmax = {lmax} and 2 nside = {2 * grid.nside} of {grid!r}, "
                             f"got {fit}")
        n = (lmax + 1) ** 2
        build_bytes = 8 * grid.npix * (fit + 1) ** 2 * 2
        if build_bytes > 2**31:
            warnings.warn(f"{who}: the least-squares fit to degree {fit} on {grid!r} needs about "
                          f"{build_bytes / 2**30:.1f} GiB to build (dense, N_pix x (fit_lmax + 1)^2 float64); pass a "
                          "smaller fit_lmax, or band-limit on a coarser grid", ResourceWarning, stacklevel=2)
        y_in = real_sph_harm_xyz(fit, grid.xyz(dtype=torch.float64))  # (N_in, n_fit)
        y_out = real_sph_harm_xyz(lmax, out_grid.xyz(dtype=torch.float64))
        # rows l <= lmax of pinv(y_in) = G^-1 y_in^T, G = y_in^T y_in; HEALPix samples the harmonics up to degree
        # 2 nside almost orthogonally (cond(y_in) ~ 1.1), so the normal equations lose nothing
        chol = torch.linalg.cholesky(y_in.T @ y_in)
        rows = torch.cholesky_solve(torch.eye(y_in.shape[1], n, dtype=torch.float64), chol)  # G^-1[:, :n]
        analysis = rows.T @ y_in.T  # (n, N_in)
        kw = dict(dtype=dtype, device=device)
        self.register_buffer("analysis", analysis.to(**kw), persistent=False)
        self.register_buffer("synthesis", y_out.T.contiguous().to(**kw), persistent=False)  # (n, N_out)
        groups = _irrep_groups(field_type, who)  # m -> (n_m, d_m) channels
        self.freqs = tuple(groups)
        # groups that follow each other in channel order are split off the input (views) and the output is one
        # cat: no gathers, whose backward scatters (``order`` None); otherwise gathered and reordered
        order = torch.cat([idx.flatten() for idx in groups.values()])
        in_order = torch.equal(order, torch.arange(order.numel()))
        self.register_buffer("order", None if in_order else torch.argsort(order), persistent=False)
        for m, idx in groups.items():
            self.register_buffer(f"idx_{m}", idx, persistent=False)
            if m > 0:
                embed, read = _ambient_maps(field_type.bundle, m, grid, out_grid)
                self.register_buffer(f"embed_{m}", embed.to(**kw), persistent=False)
                self.register_buffer(f"read_{m}", read.to(**kw), persistent=False)

    def extra_repr(self) -> str:
        to = "" if self.out_grid == self.grid else f" -> {self.out_grid!r}"
        return f"{self.in_type}, lmax={self.lmax}, {self.grid!r}{to}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.check_tensor(x, "SphereBandLimit", points=(self.grid.npix,), where=repr(self.grid))
        a, s = self.analysis.to(x).T, self.synthesis.to(x)
        parts = []
        idxs = [getattr(self, f"idx_{m}") for m in self.freqs]
        # (the split's backward is one cat; a slice's would fill a zero tensor of x's size)
        pieces = x.split([i.numel() for i in idxs], 1) if self.order is None else [x.index_select(1, i.flatten()) for i in idxs]
        for m, idx, piece in zip(self.freqs, idxs, pieces):
            v = piece.unflatten(1, idx.shape)
            if m > 0:  # (B, n_m, d_m, N_in)
                # per-pixel 3^m x 2 maps as broadcast products (an einsum over pixels becomes N tiny matmuls)
                ambient = (getattr(self, f"embed_{m}").to(x) * v.unsqueeze(2)).sum(3)  # (B, n_m, 3^m, N_in)
                v = (getattr(self, f"read_{m}").to(x) * (ambient @ a @ s).unsqueeze(2)).sum(3)  # (B, n_m, 2, N_out)
            else:
                v = v @ a @ s
            parts.append(v.flatten(1, 2))
        out = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
        return out if self.order is None else out.index_select(1, self.order)

"""Diagnostics of :class:`~fiberconv.fields.regrid.LatLonToHealpix` on the whole lat-lon grid: the ambient vectors
the interpolation works on, and how far the data's pole rows are from one vector (with the warning
``pole_rows="average"`` gives when they are not)."""
from __future__ import annotations

import warnings

import numpy as np
import torch

from .latlon import latlon_frames
from .tangent import tangent_to_ambient

__all__ = ["PoleRowDiagnostics"]


class PoleRowDiagnostics:
    """Methods of :class:`~fiberconv.fields.regrid.LatLonToHealpix` that read the whole grid (not needed to regrid)."""

    def _sorted(self, t: torch.Tensor) -> torch.Tensor:
        """``(..., nlat, nlon)`` -> ascending latitude (pole rows dropped if asked), unique longitudes."""
        rows = torch.from_numpy(self._lat_order).to(t.device)
        cols = torch.from_numpy(self._lon_cols).to(t.device)
        return t.index_select(-2, rows).index_select(-1, cols)

    def _extend(self, x: torch.Tensor, vector: bool) -> torch.Tensor:
        """Pole rows -> their arc-weighted mean; virtual pole rows appended. ``x``: ``(..., C, nlat', n_u)``."""
        arc = torch.from_numpy(self._arc).to(dtype=x.dtype, device=x.device)

        def mean_row(row):  # (..., C, n_u) -> (..., C, n_u), one value per channel
            m = (row * arc).sum(-1, keepdim=True)
            if vector:  # a pole's tangent plane is horizontal: drop z (exactly 0 on a real pole row)
                m = torch.cat([m[..., :2, :], torch.zeros_like(m[..., 2:, :])], dim=-2)
            return m.expand_as(row)

        rows = list(x.unbind(-2))
        if not self._virtual_south:
            rows[0] = mean_row(rows[0])
        if not self._virtual_north:
            rows[-1] = mean_row(rows[-1])
        if self._virtual_south:
            rows.insert(0, mean_row(rows[0]))
        if self._virtual_north:
            rows.append(mean_row(rows[-1]))
        return torch.stack(rows, dim=-2)

    def ambient(self, u, v):
        r"""Ambient vectors of ``(u, v)`` on the sorted, pole-handled lat-lon grid (before interpolation).

        Returns ``(..., 3, nlat_ext, n_lon)`` (numpy for numpy input): ascending latitudes including
        the (virtual) pole rows, each pole row one vector; unique longitudes ascending from the
        smallest one mod 360. These are the values the bilinear interpolation works on.
        """
        amb, is_np = self._ambient(u, v)
        return amb.numpy() if is_np else amb

    def _ambient(self, u, v):
        ut, u_np = self._as_tensor("u", u)
        vt, v_np = self._as_tensor("v", v)
        if ut.shape != vt.shape:
            raise ValueError(
                f"LatLonToHealpix: u and v must have the same shape, got {tuple(ut.shape)} and {tuple(vt.shape)}"
            )
        dtype = torch.float64 if (u_np and v_np) else torch.promote_types(ut.dtype, vt.dtype)
        ut, vt = ut.to(dtype), vt.to(dtype)
        if vt.device != ut.device:
            raise ValueError(f"LatLonToHealpix: u and v are on different devices ({ut.device}, {vt.device})")
        comp = torch.stack([-self._sorted(vt), self._sorted(ut)], dim=-1)  # (..., nlat', n_u, 2)
        frames = torch.from_numpy(latlon_frames(self._lat_sorted, self._lon_u))  # whole grid: only for this diagnostic
        amb = tangent_to_ambient(comp, frames.to(dtype=dtype, device=ut.device))  # (..., nlat', n_u, 3)
        return self._extend(amb.movedim(-1, -3), vector=True), (u_np and v_np)

    def _warn_inconsistent_poles(self, u: torch.Tensor, v: torch.Tensor) -> None:
        """Warn where a pole row that ``"average"`` collapses is not one vector (spread above 1 % of the largest wind)."""
        spread = self._pole_spread(u, v)
        ut, vt = u, v
        # the largest |wind| component, without a temporary of the input's size
        scale = max(float(ut.max()), -float(ut.min()), float(vt.max()), -float(vt.min())) if ut.numel() else 0.0
        tol = 1e-2 * scale + 1e-12  # 1 % of the largest wind: well above the rounding of stored data
        bad = {k: s for k, s in spread.items() if s is not None and s > tol}
        if bad:
            where = ", ".join(f"{k} pole row spread {s:.3g}" for k, s in bad.items())
            warnings.warn(
                f"LatLonToHealpix.wind: the data's pole rows are not one vector ({where}, in the units of the wind; "
                "the spread is the largest distance of a column's ambient vector from the row's mean, see "
                "pole_spread); pole_rows='average' replaces each row by its mean, which changes the field poleward "
                "of the outermost non-pole row. Pass pole_rows='drop' to ignore such rows (e.g. ERA5-style "
                "pole rows that repeat one (u, v)), or filter this UserWarning to keep the average",
                UserWarning, stacklevel=3)

    def pole_spread(self, u, v) -> dict[str, float | None]:
        r"""How far the ambient vectors on each pole row of the data are from one vector.

        Returns ``{"north": s_N, "south": s_S}`` with ``s = max_k |w_k - mean_k w_k|`` over the row's
        columns ``k`` (and all leading dimensions), in the units of the wind; ``None`` where the data
        has no pole row. A consistent pole row (one vector seen in each column's frame) gives
        ``s = 0`` up to rounding; a row that repeats the same ``(u, v)`` in every column (not a vector
        field) gives ``s = |(u, v)|``.
        """
        return self._pole_spread(self._as_tensor("u", u)[0], self._as_tensor("v", v)[0])

    def _pole_spread(self, ut: torch.Tensor, vt: torch.Tensor) -> dict[str, float | None]:
        out: dict[str, float | None] = {"north": None, "south": None}
        lat = self.lat
        for key, present, row in (("north", self.has_north_pole_row, int(np.argmax(lat))),
                                  ("south", self.has_south_pole_row, int(np.argmin(lat)))):
            if not present:
                continue
            cols = torch.from_numpy(self._lon_cols)
            uu = ut[..., row, :].index_select(-1, cols).to(torch.float64)
            vv = vt[..., row, :].index_select(-1, cols).to(torch.float64)
            fr = torch.from_numpy(latlon_frames(np.array([lat[row]]), self._lon_u))[0]  # (n_u, 2, 3)
            w = tangent_to_ambient(torch.stack([-vv, uu], dim=-1).cpu(), fr)  # (..., n_u, 3)
            m = (w * torch.from_numpy(self._arc)[:, None]).sum(-2, keepdim=True)
            out[key] = float((w - m).norm(dim=-1).max())
        return out

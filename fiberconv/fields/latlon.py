"""Latitude-longitude grids: coordinate checks and the local frames of their points (for
:mod:`fiberconv.fields.regrid`)."""
from __future__ import annotations

import numpy as np
import torch

from .tangent import tangent_to_ambient

__all__ = ["latlon_frames", "latlon_wind_to_ambient"]


def _coordinate(name: str, values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    a = np.asarray(values)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"LatLonToHealpix: {name} must be a real numeric array in degrees, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim != 1:
        raise ValueError(f"LatLonToHealpix: {name} must be 1-D (degrees), got shape {a.shape}")
    if a.size < 2:
        raise ValueError(f"LatLonToHealpix: {name} needs at least 2 values, got {a.size}")
    if not np.all(np.isfinite(a)):
        bad = np.flatnonzero(~np.isfinite(a))
        raise ValueError(f"LatLonToHealpix: {name} has {bad.size} non-finite values (first at index {bad[0]})")
    d = np.diff(a)
    if not (np.all(d > 0) or np.all(d < 0)):
        i = int(np.flatnonzero(d <= 0)[0] if d[0] > 0 else np.flatnonzero(d >= 0)[0])
        raise ValueError(
            f"LatLonToHealpix: {name} must be strictly monotonic (ascending or descending); "
            f"values {a[i]} and {a[i + 1]} at indices {i}, {i + 1} break the order"
        )
    return a


def latlon_frames(lat, lon) -> np.ndarray:
    r"""Frames ``(e_theta, e_phi)`` (south, east) of a lat-lon grid, ``(nlat, nlon, 2, 3)`` float64.

    .. math:: e_\theta = (\cos t \cos p, \cos t \sin p, -\sin t), \quad e_\phi = (-\sin p, \cos p, 0)

    with colatitude ``t = 90 - lat`` and longitude ``p = lon`` (degrees converted to radians). At a
    pole row the frame depends on the column's longitude: it is the limit of the frames along that
    meridian, so ``(u, v)`` given there in that frame has a well-defined ambient vector.
    """
    return _frames_at(np.asarray(lat, dtype=np.float64)[:, None], np.asarray(lon, dtype=np.float64)[None, :])


def _frames_at(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Frames ``(e_theta, e_phi)`` at points ``(lat, lon)`` (degrees, broadcast): ``(..., 2, 3)``."""
    t, p = np.broadcast_arrays(np.deg2rad(90.0 - lat), np.deg2rad(lon))
    ct, st, cp, sp = np.cos(t), np.sin(t), np.cos(p), np.sin(p)
    e_theta = np.stack([ct * cp, ct * sp, -st], axis=-1)
    e_phi = np.stack([-sp, cp, np.zeros_like(p)], axis=-1)
    return np.stack([e_theta, e_phi], axis=-2)


def latlon_wind_to_ambient(u, v, lat, lon) -> np.ndarray:
    r"""Ambient 3-D vectors ``w = u e_east + v e_north`` of lat-lon wind, ``(..., nlat, nlon, 3)``.

    Parameters
    ----------
    u, v : array_like ``(..., nlat, nlon)``
        Eastward and northward components.
    lat, lon : array_like ``(nlat,)``, ``(nlon,)``
        Degrees.

    Returns
    -------
    numpy float64 ``(..., nlat, nlon, 3)``; ``w = v_theta e_theta + v_phi e_phi`` with
    ``(v_theta, v_phi) = (-v, u)`` (:func:`latlon_frames`).
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    frames = torch.from_numpy(latlon_frames(lat, lon))
    comp = torch.from_numpy(np.stack([-v, u], axis=-1))
    return tangent_to_ambient(comp, frames).numpy()

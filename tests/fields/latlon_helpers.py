"""Analytic winds on latitude-longitude grids (solid-body rotation), built without fiberconv's regridding."""
from __future__ import annotations

import math

import numpy as np

TILT = np.array([0.6, -0.3, 0.5]) / np.linalg.norm([0.6, -0.3, 0.5])


# ------------------------------------------------------------------------------------------------
# analytic fields
# ------------------------------------------------------------------------------------------------
def latlon_xyz(lat, lon):
    t = np.deg2rad(90.0 - np.asarray(lat, dtype=np.float64))[:, None]
    p = np.deg2rad(np.asarray(lon, dtype=np.float64))[None, :]
    return np.stack(np.broadcast_arrays(np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)), axis=-1)


def rotation_wind_latlon(lat, lon, omega):
    """(u, v) of the solid-body rotation w = omega x x on a lat-lon grid (pole rows: each column's frame)."""
    x = latlon_xyz(lat, lon)
    w = np.cross(omega, x)
    t = np.deg2rad(90.0 - np.asarray(lat, dtype=np.float64))[:, None]
    p = np.deg2rad(np.asarray(lon, dtype=np.float64))[None, :]
    t, p = np.broadcast_arrays(t, p)
    east = np.stack([-np.sin(p), np.cos(p), 0 * p], -1)
    north = -np.stack([np.cos(t) * np.cos(p), np.cos(t) * np.sin(p), -np.sin(t)], -1)
    return (w * east).sum(-1), (w * north).sum(-1)


def rotation_wind_healpix(grid, omega):
    """Exact (v_theta, v_phi) of omega x x at the pixel centres, (2, N_pix)."""
    x, fr = grid.xyz().numpy(), grid.frames().numpy()
    w = np.cross(omega, x)
    return np.stack([(w * fr[:, 0]).sum(-1), (w * fr[:, 1]).sum(-1)])


def bilinear_bound(dlat, dlon, omega_norm=1.0):
    """sqrt(3) |omega| (h_lat^2 + h_lon^2) / 8 (spacings in degrees): the bound stated in regrid.py."""
    return math.sqrt(3) * omega_norm * (np.deg2rad(dlat) ** 2 + np.deg2rad(dlon) ** 2) / 8


GRIDS = {
    # latitudes, longitudes for spacing d
    "poles-ascending": lambda d: (np.arange(-90, 90 + d / 2, d), np.arange(0, 360, d)),
    "poles-descending-lon20..377.5": lambda d: (np.arange(90, -90 - d / 2, -d), np.arange(20, 380 - d / 2, d)),
    "no-poles-lon-180..180": lambda d: (np.arange(-90 + d / 2, 90, d), np.arange(-180, 180, d) + d / 3),
    "cyclic-column-0..360": lambda d: (np.arange(-90, 90 + d / 2, d), np.arange(0, 360 + d / 2, d)),
}

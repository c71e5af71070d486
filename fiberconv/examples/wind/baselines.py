r"""What climate ML uses instead of an equivariant network, as U-Nets on NESTED HEALPix maps
(``(B, c_in, N) -> (B, c_out, N)``) for the comparison of :mod:`.compare`:

* :class:`FaceUNet` / :class:`FaceNet` -- the DLWP-HPX layout (Karlbauer et al. 2024; NVIDIA
  earth2grid): the 12 HEALPix base faces as ``nside x nside`` images, neighbour padding across the face edges
  (:class:`~.hpx_faces.HealpixFacePad`) and ordinary ``Conv2d`` 3 x 3 filters. Anisotropic, fast, not
  equivariant (the faces' pixel axes differ from face to face). Same levels as the equivariant
  :class:`~fiberconv.nn.SphericalUNet`: a block (pad, conv, batch norm, GELU) per level, 2 x 2 mean pooling
  in each face (= NESTED coarsening), nearest upsampling, skip concatenation, a linear head.
* :class:`DiscoNet` -- torch-harmonics' DISCO convolutions (``DiscreteContinuousConvS2``, Ocampo et
  al. 2022) in the same U-Net on an equiangular lat-lon grid (``2 nside x 4 nside`` at the finest level,
  about the HEALPix pixel count): the HEALPix input is interpolated to the lat-lon grid (healpy's bilinear
  weights), the network's correction is interpolated back (bilinear in latitude and longitude). Needs
  torch-harmonics, imported when the model is built (:func:`have_torch_harmonics`); see
  ``fiberconv/examples/wind/README.md`` for its environment.

Both take the wind components ``(v_theta, v_phi)`` as two scalar channels (as every climate model does). Their
heads start at zero (as :class:`~.models.Downscaler`'s), so a residual model ``x + s * net(x / s)`` starts at its
input.
"""
from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence

import healpy as hp
import numpy as np
import torch
from torch import nn

from fiberconv.spaces import HealpixGrid

from .hpx_faces import HealpixFacePad, from_faces, to_faces

__all__ = ["FaceUNet", "FaceNet", "DiscoNet", "have_torch_harmonics"]


def have_torch_harmonics() -> bool:
    """Whether torch-harmonics can be imported (it is optional: it pins a newer torch than fiberconv's)."""
    return importlib.util.find_spec("torch_harmonics") is not None


def _check_widths(widths: Sequence[int], who: str) -> list[int]:
    widths = list(widths)
    if not widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"{who}: widths must be a non-empty list of positive channel counts per level, got {widths}")
    return widths


class _FaceBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, nside: int):
        super().__init__(HealpixFacePad(nside, 1), nn.Conv2d(c_in, c_out, 3), nn.BatchNorm2d(c_out), nn.GELU())


class FaceUNet(nn.Module):
    """U-Net on HEALPix face images: ``(B * 12, c_in, nside, nside) -> (B * 12, c_out, nside, nside)``.

    Level ``i`` works at ``nside / 2^i`` with ``widths[i]`` channels (module docstring)."""

    def __init__(self, c_in: int, c_out: int, nside: int, widths: Sequence[int] = (8, 16, 32)):
        super().__init__()
        widths = _check_widths(widths, "FaceUNet")
        if nside < 2 ** len(widths):
            raise ValueError(f"FaceUNet: {len(widths)} levels need nside >= {2 ** len(widths)}, got {nside}")
        self.down = nn.ModuleList()
        c, n = c_in, nside
        for i, w in enumerate(widths):
            n = nside >> i
            self.down.append(_FaceBlock(c, w, n))
            c = w
        self.up = nn.ModuleList(_FaceBlock(c_prev + widths[i], widths[i], nside >> i)
                                for i, c_prev in zip(range(len(widths) - 2, -1, -1), widths[:0:-1]))
        self.head = nn.Sequential(HealpixFacePad(nside, 1), nn.Conv2d(widths[0], c_out, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                x = nn.functional.avg_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"), skip], dim=1))
        return self.head(x)


class FaceNet(nn.Module):
    """NESTED maps ``(B, c_in, N)`` on ``grid`` -> ``(B, c_out, N)``: :class:`FaceUNet` on the face images, head at zero."""

    def __init__(self, grid: HealpixGrid, c_in: int, c_out: int, widths: Sequence[int]):
        super().__init__()
        if not grid.nest:
            raise ValueError(f"FaceNet: the face layout needs a NESTED grid, got {grid!r}")
        self.net = FaceUNet(c_in, c_out, grid.nside, widths)
        with torch.no_grad():
            self.net.head[1].weight.zero_()
            self.net.head[1].bias.zero_()
        self.nside = grid.nside

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return from_faces(self.net(to_faces(x, self.nside)))


# ------------------------------------------------------------------------------------------------
# DISCO (torch-harmonics) on the lat-lon grid
# ------------------------------------------------------------------------------------------------
def _equiangular(nlat: int) -> tuple[np.ndarray, np.ndarray]:
    """Colatitudes (poles included, as torch-harmonics' "equiangular" grid) and longitudes of ``nlat x 2 nlat``."""
    return np.linspace(0, np.pi, nlat), np.arange(2 * nlat) * (2 * np.pi / (2 * nlat))


def _hpx_to_latlon(grid: HealpixGrid, nlat: int) -> tuple[torch.Tensor, torch.Tensor]:
    """healpy's bilinear interpolation weights ``(4, nlat * 2 nlat)`` from the NESTED map to the lat-lon grid."""
    theta, phi = _equiangular(nlat)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    idx, w = hp.get_interp_weights(grid.nside, t.ravel(), p.ravel(), nest=True)
    return torch.as_tensor(idx, dtype=torch.long), torch.as_tensor(w, dtype=torch.float32)


def _latlon_to_hpx(grid: HealpixGrid, nlat: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear weights ``(4, N)`` from the lat-lon grid to the HEALPix pixel centres (longitude periodic)."""
    theta = grid.theta.double().cpu().numpy()
    phi = np.mod(grid.phi.double().cpu().numpy(), 2 * np.pi)
    nlon = 2 * nlat
    a = theta / (np.pi / (nlat - 1))
    i0 = np.clip(np.floor(a).astype(np.int64), 0, nlat - 2)
    fa = a - i0
    b = phi / (2 * np.pi / nlon)
    j0 = np.floor(b).astype(np.int64) % nlon
    fb = b - np.floor(b)
    j1 = (j0 + 1) % nlon
    idx = np.stack([i0 * nlon + j0, i0 * nlon + j1, (i0 + 1) * nlon + j0, (i0 + 1) * nlon + j1])
    w = np.stack([(1 - fa) * (1 - fb), (1 - fa) * fb, fa * (1 - fb), fa * fb])
    return torch.as_tensor(idx), torch.as_tensor(w, dtype=torch.float32)


def _interp(x: torch.Tensor, idx: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``(B, C, N_in) -> (B, C, N_out)``: ``sum_k w[k] * x[..., idx[k]]``."""
    return (x[..., idx] * w.to(x.dtype)).sum(-2)


class _DiscoBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, shape_in: tuple[int, int], shape_out: tuple[int, int]):
        super().__init__()
        from torch_harmonics import DiscreteContinuousConvS2

        cutoff = 2.0 * math.pi / (shape_out[0] - 1)  # two latitude spacings: a 3 x 3-pixel footprint
        self.conv = DiscreteContinuousConvS2(c_in, c_out, in_shape=shape_in, out_shape=shape_out, kernel_shape=(3, 3),
                                             basis_type="morlet", grid_in="equiangular", grid_out="equiangular",
                                             theta_cutoff=cutoff)
        self.norm, self.act = nn.BatchNorm2d(c_out), nn.GELU()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class DiscoNet(nn.Module):
    """NESTED maps ``(B, c_in, N)`` on ``grid`` -> ``(B, c_out, N)``: ``P(UNet(Q(x)))`` with ``Q`` HEALPix -> lat-lon
    ``2 nside x 4 nside`` and ``P`` back (module docstring), head at zero. Level ``i`` has
    ``widths[i]`` channels on the ``2 nside / 2^i x 4 nside / 2^i`` grid (a DISCO convolution with a smaller
    output grid pools, one with a larger one upsamples)."""

    def __init__(self, grid: HealpixGrid, c_in: int, c_out: int, widths: Sequence[int]):
        super().__init__()
        widths = _check_widths(widths, "DiscoNet")
        if not grid.nest:
            raise ValueError(f"DiscoNet: expected a NESTED grid, got {grid!r}")
        if not have_torch_harmonics():
            raise ImportError("DiscoNet needs torch-harmonics (see fiberconv/examples/wind/README.md, "
                              "'The comparison': the .venv-bench environment)")
        nlat = 2 * grid.nside
        shapes = [(nlat >> i, 2 * (nlat >> i)) for i in range(len(widths))]
        self.down = nn.ModuleList()
        c = c_in
        for i, w in enumerate(widths):
            self.down.append(_DiscoBlock(c, w, shapes[max(i - 1, 0)], shapes[i]))
            c = w
        self.up = nn.ModuleList()
        for i in range(len(widths) - 2, -1, -1):
            self.up.append(_DiscoBlock(c + widths[i], widths[i], shapes[i], shapes[i]))
            c = widths[i]
        self.head = nn.Conv2d(c, c_out, 1)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.zero_()
        self.shapes = shapes
        for name, (idx, w) in (("q", _hpx_to_latlon(grid, nlat)), ("p", _latlon_to_hpx(grid, nlat))):
            self.register_buffer(f"{name}_idx", idx, persistent=False)
            self.register_buffer(f"{name}_w", w, persistent=False)

    def _resize(self, x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        # bilinear with aligned corners: the equiangular grid includes the poles at both sizes
        return nn.functional.interpolate(x, size=shape, mode="bilinear", align_corners=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        h = _interp(x, self.q_idx, self.q_w).view(b, x.shape[1], *self.shapes[0])
        skips = []
        for block in self.down:
            h = block(h)
            skips.append(h)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            h = block(torch.cat([self._resize(h, skip.shape[-2:]), skip], dim=1))
        return _interp(self.head(h).reshape(b, self.head.out_channels, -1), self.p_idx, self.p_w)

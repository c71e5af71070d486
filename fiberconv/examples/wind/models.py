r"""The networks of the wind example, built only from :mod:`fiberconv.nn` layers.

* :class:`VortDivNet` — vector -> two scalars: relative vorticity and divergence of the wind. A linear
  :class:`~fiberconv.nn.SphereConv` (curl and divergence are linear, local operators) plus a small
  nonlinear branch (``SphereBlock -> SphereConv``). Equivariant under SO(3).
* :class:`Downscaler` — vector -> vector: the nside-``n`` wind from the wind pooled to nside ``n / 4`` and
  unpooled back (:class:`Resolution`). A :class:`~fiberconv.nn.SphericalUNet` predicts the correction to
  the upsampled input: ``y = x + s * UNet(x / s)`` with a fixed wind scale ``s`` (m/s). The U-Net's head
  starts at zero, so training starts from the input itself; the layers' initialisation keeps the power
  of their inputs, so no gain is calibrated.

  - ``equivariant=True``: the U-Net maps a tangent vector field (``sphere_field_type((1, 1))``) to one —
    the wind is treated as what it is, and the model is equivariant under all rotations (exactly under
    the grid's 8 symmetries).
  - ``equivariant=False`` (the baseline): the same U-Net with ``sphere_field_type((0, 2))`` in and out:
    the components ``(v_theta, v_phi)`` are fed as two independent scalar channels. Their frame
    ``(e_theta, e_phi)`` (south, east) is carried along by rotations about the polar axis (the cocycle is
    trivial there), so the baseline is equivariant under those, but not under rotations that move the
    poles.
  - ``latitude=True`` adds ``cos(theta)`` of the pixel as a scalar input channel. It is fixed to the
    Earth: when the globe is rotated it is *not* rotated, so the symmetry left is rotations about the
    polar axis (the symmetry of the Coriolis force).

Both classes carry ``in_type`` / ``out_type`` / ``grid`` / ``out_grid`` of the *physical* fields (a wind
vector in, a wind vector or two scalars out), so :func:`fiberconv.testing.sphere_equivariance_error` measures the
equivariance of the whole map, whatever the baseline does inside.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fiberconv.fields import sphere_field_type
from fiberconv.nn import SphereBlock, SphereConv, SpherePool, SphereUnpool, SphericalUNet
from fiberconv.spaces import HealpixGrid

__all__ = ["WIND", "SCALARS2", "Resolution", "Downscaler", "VortDivNet", "count_parameters"]

#: one tangent vector field: the wind (v_theta, v_phi)
WIND = sphere_field_type((1, 1))
#: two scalar fields: (vorticity, divergence), or the baseline's view of (v_theta, v_phi)
SCALARS2 = sphere_field_type((0, 2))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class Resolution(nn.Module):
    """Pooling the wind from ``grid`` down ``levels`` times (:class:`SpherePool`, vectors transported into
    the parent's frame) and unpooling it back (:class:`SphereUnpool`: each child gets its parent's vector,
    transported). ``coarse(f)``: ``(B, 2, N) -> (B, 2, N / 4^levels)``; ``upsample(c)``: back to ``N``;
    ``degrade(f) = upsample(coarse(f))``: the model input."""

    def __init__(self, grid: HealpixGrid, levels: int = 2):
        super().__init__()
        if levels < 1 or grid.nside < 2**levels:
            raise ValueError(f"Resolution: cannot pool {grid!r} {levels} times")
        self.grid, self.levels = grid, levels
        pools, unpools, g = [], [], grid
        for _ in range(levels):
            pools.append(SpherePool(WIND, g))
            unpools.append(SphereUnpool(WIND, g))
            g = g.coarsen()
        self.coarse_grid = g
        self.pools = nn.ModuleList(pools)
        self.unpools = nn.ModuleList(unpools[::-1])

    def coarse(self, f: torch.Tensor) -> torch.Tensor:
        for pool in self.pools:
            f = pool(f)
        return f

    def upsample(self, c: torch.Tensor) -> torch.Tensor:
        for unpool in self.unpools:
            c = unpool(c)
        return c

    def degrade(self, f: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.coarse(f))


class Downscaler(nn.Module):
    r"""``x (B, 2, N)`` upsampled coarse wind in m/s -> fine wind ``(B, 2, N)`` in m/s (module docstring).

    Parameters
    ----------
    grid : HealpixGrid of the fine wind
    widths : ``(n_scalars, n_vectors)`` per U-Net level (:class:`~fiberconv.nn.SphericalUNet`)
    equivariant : the wind as a vector field (True) or as two scalar channels (False, the baseline)
    latitude : add ``cos(theta)`` as a scalar input channel
    scale : wind scale in m/s (inputs are divided by it, the correction multiplied)
    """

    def __init__(self, grid: HealpixGrid, widths: Sequence[tuple[int, int]], equivariant: bool = True,
                 latitude: bool = False, scale: float = 1.0, **conv_kwargs):
        super().__init__()
        self.equivariant, self.latitude, self.scale = bool(equivariant), bool(latitude), float(scale)
        if equivariant:
            net_in = sphere_field_type((0, 1), (1, 1)) if latitude else WIND
            net_out = WIND
        else:
            net_in = sphere_field_type((0, 3 if latitude else 2))
            net_out = SCALARS2
        self.net = SphericalUNet(net_in, net_out, grid, widths=widths, **conv_kwargs)
        with torch.no_grad():  # training starts from y = x
            self.net.head.weight.zero_()
        self.in_type = self.out_type = WIND
        self.grid = self.out_grid = grid
        self.register_buffer("coslat", grid.xyz(dtype=torch.float32)[:, 2].clone(), persistent=False)

    @property
    def name(self) -> str:
        return ("equivariant" if self.equivariant else "baseline") + (" + lat" if self.latitude else "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x / self.scale
        if self.latitude:
            lat = self.coslat.to(x.dtype).view(1, 1, -1).expand(x.shape[0], 1, -1)
            h = torch.cat([lat, h], dim=1)
        return x + self.scale * self.net(h)


class VortDivNet(nn.Module):
    r"""Wind ``(B, 2, N)`` in m/s -> ``(B, 2, N)`` = (relative vorticity, divergence) in 1/s.

    ``y = s_out * (conv_lin(x / s_in) + head(block(x / s_in)))``: ``conv_lin`` is a linear vector -> 2-scalar
    SphereConv (curl and divergence stencils are in its kernel space), ``block`` a
    ``SphereBlock`` with ``hidden = (n_scalars, n_vectors)``. ``s_in`` (m/s) and ``s_out`` (1/s, per output)
    are fixed scales.
    """

    def __init__(self, grid: HealpixGrid, hidden: tuple[int, int] = (4, 2), scale_in: float = 1.0,
                 scale_out: Sequence[float] = (1.0, 1.0), n_rings: int = 3):
        super().__init__()
        self.linear = SphereConv(WIND, SCALARS2, grid, n_rings=n_rings)
        self.block = SphereBlock(WIND, grid, *hidden)
        self.head = SphereConv(self.block.out_type, SCALARS2, grid)
        self.scale_in = float(scale_in)
        self.register_buffer("scale_out", torch.as_tensor(scale_out, dtype=torch.float32).view(1, 2, 1).clone())
        self.in_type, self.out_type = WIND, SCALARS2
        self.grid = self.out_grid = grid
        self.name = "equivariant SphereConv"

    def branches(self, x: torch.Tensor):
        h = x / self.scale_in
        return self.linear(h), self.head(self.block(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.branches(x)
        return (a + b) * self.scale_out.to(x.dtype)

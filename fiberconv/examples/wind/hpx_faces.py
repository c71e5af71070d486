r"""HEALPix as 12 face images with neighbour padding: the layout of DLWP-HPX (Karlbauer et al. 2024) and
NVIDIA's earth2grid, for ordinary ``Conv2d`` networks on the sphere (a baseline of the wind example, not
part of fiberconv's equivariant core).

Layout. The ``12 * nside^2`` pixels of a NESTED map are the 12 base faces, each an ``nside x nside`` image:
``image[f, x, y]`` is the pixel with healpy's face coordinates ``(x, y, f)`` (:func:`healpy.xyf2pix`; in
NESTED order the pixel index interleaves the bits of ``x`` and ``y``, so coarsening NESTED by 4 is 2 x 2
pooling of each image). :func:`face_index` is that map.

Padding. A face image is padded by ``pad`` pixels on each side with the pixels that lie there on the sphere.
Beyond each edge lies a neighbouring face, turned by 0 or +-90 degrees relative to this one (the four polar
faces meet at the poles turned by 90 degrees). The plan is built by walking the pixel adjacency of
healpy (:func:`healpy.get_all_neighbours`): a pad pixel ``k`` pixels beyond an edge is reached by ``k``
steps "straight on" from the edge pixel (each step leaves a pixel on the side opposite the one it entered
from), so the orientation of the neighbouring face comes out of the adjacency and needs no hand-written
table. Corner blocks (beyond two edges) are reached twice: out across one edge and then along it, or the
other way round. Where four faces meet (the poles and the 4 vertices on the equator) both walks end on
the same pixel. At the 8 vertices where only three faces meet (``z = +-2/3``) there is no fourth face: the
two walks end on different pixels (one in each adjacent face), and the corner gets their mean, which is
smooth to first order for a smooth field (earth2grid/DLWP-HPX likewise fill these corners from the two
adjacent faces).
"""
from __future__ import annotations

import healpy as hp
import numpy as np
import torch
from torch import nn

__all__ = ["face_index", "padding_plan", "to_faces", "from_faces", "HealpixFacePad"]

# healpy's neighbour order (SW, W, NW, N, NE, E, SE, S) as steps (dx, dy) in the face coordinates of the
# centre pixel; consecutive around the ring, so the opposite direction of entry j is entry j + 4.
_STEPS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _check(nside, pad: int = 0) -> tuple[int, int]:
    if isinstance(nside, bool) or not isinstance(nside, (int, np.integer)) or nside < 1 or nside & (nside - 1):
        raise ValueError(f"HEALPix faces: nside must be a positive power of two, got {nside!r}")
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0 or (pad and pad >= nside):
        raise ValueError(f"HEALPix faces: pad must be an integer in [0, nside) = [0, {nside}), got {pad!r}")
    return int(nside), int(pad)


def face_index(nside: int) -> np.ndarray:
    """``(12, nside, nside)`` int64: the NESTED pixel index of ``image[f, x, y]``."""
    nside, _ = _check(nside)
    f, x, y = np.meshgrid(np.arange(12), np.arange(nside), np.arange(nside), indexing="ij")
    return hp.xyf2pix(nside, x, y, f, nest=True).astype(np.int64)


def _straight(nb: np.ndarray, prev: int, cur: int, steps: int) -> int:
    """The pixel ``steps`` steps on from ``cur`` along the line ``prev -> cur``; -1 where the line runs into a
    missing neighbour (a vertex where only three faces meet)."""
    for _ in range(steps):
        ring = list(nb[cur])
        nxt = nb[cur, (ring.index(prev) + 4) % 8]
        if nxt < 0:
            return -1
        prev, cur = cur, int(nxt)
    return cur


def padding_plan(nside: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the padded face images take their values.

    Returns
    -------
    src : ``(12, nside + 2 pad, nside + 2 pad, 2)`` int64 NESTED pixel indices; the padded ``image[f, i, j]``
        is the mean of the values at ``src[f, i, j, 0]`` and ``src[f, i, j, 1]`` (equal except in the corner
        blocks at the 8 vertices where three faces meet). Row ``i`` is ``x + pad``, column ``j`` is ``y + pad``.
    three : ``(12, nside + 2 pad, nside + 2 pad)`` bool: the pad pixels filled by that mean of two pixels.
    """
    nside, pad = _check(nside, pad)  # pad < nside: the corner walks start one pixel in from the face's corner
    nb = hp.get_all_neighbours(nside, np.arange(12 * nside**2), nest=True).T.astype(np.int64)  # (N, 8)
    idx = face_index(nside)
    m = nside + 2 * pad
    src = np.full((12, m, m, 2), -1, dtype=np.int64)
    src[:, pad:pad + nside, pad:pad + nside] = idx[..., None]

    def clamp(v):
        return min(max(v, 0), nside - 1)

    def edge(f, x, y):  # beyond one edge only: step out of the edge pixel, then straight on
        cx, cy = clamp(x), clamp(y)
        dx, dy = int(np.sign(x - cx)), int(np.sign(y - cy))
        start = int(idx[f, cx, cy])
        first = int(nb[start, _STEPS.index((dx, dy))])
        return _straight(nb, start, first, abs(x - cx) + abs(y - cy) - 1)

    for f in range(12):
        for x in range(-pad, nside + pad):
            for y in range(-pad, nside + pad):
                out_x, out_y = not 0 <= x < nside, not 0 <= y < nside
                if out_x and not out_y or out_y and not out_x:
                    src[f, x + pad, y + pad] = edge(f, x, y)
    three = np.zeros((12, m, m), dtype=bool)
    for f in range(12):
        for x in range(-pad, nside + pad):
            for y in range(-pad, nside + pad):
                cx, cy = clamp(x), clamp(y)
                if x == cx or y == cy:
                    continue
                sx, sy = int(np.sign(x - cx)), int(np.sign(y - cy))
                # out across the x edge, then along it (from the pad pixel one row back towards the face) ...
                a = _straight(nb, int(src[f, x + pad, cy - sy + pad, 0]), int(src[f, x + pad, cy + pad, 0]), abs(y - cy))
                # ... and out across the y edge, then along it
                b = _straight(nb, int(src[f, cx - sx + pad, y + pad, 0]), int(src[f, cx + pad, y + pad, 0]), abs(x - cx))
                a, b = (b if a < 0 else a), (a if b < 0 else b)
                if a < 0:
                    raise RuntimeError(f"HEALPix faces: no pixel found for the corner ({x}, {y}) of face {f}")
                src[f, x + pad, y + pad] = (a, b)
                three[f, x + pad, y + pad] = a != b
    return src, three


def to_faces(x: torch.Tensor, nside: int) -> torch.Tensor:
    """NESTED maps ``(B, C, 12 nside^2)`` -> face images ``(B * 12, C, nside, nside)`` (faces in the batch)."""
    b, c, n = x.shape
    if n != 12 * nside**2:
        raise ValueError(f"to_faces: expected (B, C, {12 * nside ** 2}) NESTED maps at nside {nside}, got {tuple(x.shape)}")
    idx = torch.as_tensor(face_index(nside), device=x.device).reshape(-1)
    return x.index_select(2, idx).view(b, c, 12, nside, nside).transpose(1, 2).reshape(b * 12, c, nside, nside)


def from_faces(img: torch.Tensor) -> torch.Tensor:
    """Face images ``(B * 12, C, nside, nside)`` -> NESTED maps ``(B, C, 12 nside^2)`` (inverse of :func:`to_faces`)."""
    b12, c, nside, _ = img.shape
    inv = torch.as_tensor(np.argsort(face_index(nside).reshape(-1)), device=img.device)
    flat = img.reshape(b12 // 12, 12, c, nside * nside).transpose(1, 2).reshape(b12 // 12, c, -1)
    return flat.index_select(2, inv)


class HealpixFacePad(nn.Module):
    """Neighbour padding of HEALPix face images: ``(B * 12, C, nside, nside) -> (B * 12, C, nside + 2 pad, ...)``
    (module docstring; :func:`padding_plan`). Linear, no parameters; follows the input's device and dtype."""

    def __init__(self, nside: int, pad: int = 1):
        super().__init__()
        self.nside, self.pad = _check(nside, pad)
        src, three = padding_plan(self.nside, self.pad)
        # indices into the face-image order (f, x, y) flattened, so no NESTED round trip per layer
        inv = np.argsort(face_index(self.nside).reshape(-1))
        self.register_buffer("src", torch.as_tensor(inv[src[..., 0]].reshape(-1)), persistent=False)
        pos = np.flatnonzero(three.reshape(-1))
        self.register_buffer("corner_pos", torch.as_tensor(pos), persistent=False)
        self.register_buffer("corner_other", torch.as_tensor(inv[src[..., 1].reshape(-1)[pos]]), persistent=False)

    def extra_repr(self) -> str:
        return f"nside={self.nside}, pad={self.pad}"

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        n, m = self.nside, self.nside + 2 * self.pad
        if img.dim() != 4 or img.shape[-2:] != (n, n) or img.shape[0] % 12:
            raise ValueError(f"HealpixFacePad(nside={n}): expected face images (B * 12, C, {n}, {n}), got {tuple(img.shape)}")
        b, c = img.shape[0] // 12, img.shape[1]
        flat = img.reshape(b, 12, c, n * n).transpose(1, 2).reshape(b, c, 12 * n * n)
        out = flat.index_select(2, self.src)
        if self.corner_pos.numel():
            mean = 0.5 * (out.index_select(2, self.corner_pos) + flat.index_select(2, self.corner_other))
            out = out.index_copy(2, self.corner_pos, mean)
        return out.view(b, c, 12, m, m).transpose(1, 2).reshape(b * 12, c, m, m)

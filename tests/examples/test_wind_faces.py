"""The HEALPix 12-face layout and neighbour padding of the wind example's Conv2d baseline (``hpx_faces``), and the
baselines built on it: the layout is NESTED's, padded pixels lie where the face continues on the sphere (every face,
every edge, the corners), and a smooth field stays smooth across the padded seams."""
from __future__ import annotations

import copy
import pickle

import healpy as hp
import numpy as np
import pytest
import torch

from fiberconv.examples.wind.baselines import FaceNet, FaceUNet
from fiberconv.examples.wind.hpx_faces import HealpixFacePad, face_index, from_faces, padding_plan, to_faces
from fiberconv.spaces import HealpixGrid

EDGES = ("x-", "x+", "y-", "y+")


def _centres(nside):
    return np.stack(hp.pix2vec(nside, np.arange(12 * nside**2), nest=True), -1)


def _pad_positions(nside, pad):
    """(f, i, j, x, y, kind) of every pad pixel; kind: an edge name, or 'corner'."""
    for f in range(12):
        for i in range(nside + 2 * pad):
            for j in range(nside + 2 * pad):
                x, y = i - pad, j - pad
                out_x, out_y = not 0 <= x < nside, not 0 <= y < nside
                if out_x and out_y:
                    yield f, i, j, x, y, "corner"
                elif out_x:
                    yield f, i, j, x, y, "x-" if x < 0 else "x+"
                elif out_y:
                    yield f, i, j, x, y, "y-" if y < 0 else "y+"


def _extrapolated(v, idx, nside, f, x, y):
    """Linear continuation of the face's pixel centres to (x, y), on the sphere."""
    cx, cy = min(max(x, 0), nside - 1), min(max(y, 0), nside - 1)
    sx, sy = int(np.sign(x - cx)), int(np.sign(y - cy))
    p = v[idx[f, cx, cy]]
    e = p.copy()
    if sx:
        e += abs(x - cx) * (p - v[idx[f, cx - sx, cy]])
    if sy:
        e += abs(y - cy) * (p - v[idx[f, cx, cy - sy]])
    return e / np.linalg.norm(e)


def test_face_layout_is_nested():
    nside = 8
    idx = face_index(nside)
    assert sorted(idx.ravel().tolist()) == list(range(12 * nside**2))
    x, y, f = hp.pix2xyf(nside, idx.ravel(), nest=True)
    grid_f, grid_x, grid_y = np.meshgrid(np.arange(12), np.arange(nside), np.arange(nside), indexing="ij")
    assert (f == grid_f.ravel()).all() and (x == grid_x.ravel()).all() and (y == grid_y.ravel()).all()
    # round trip, and 2 x 2 mean pooling of the images is the NESTED coarsening (mean of 4 consecutive children)
    m = torch.randn(3, 2, 12 * nside**2, dtype=torch.float64)
    img = to_faces(m, nside)
    assert img.shape == (36, 2, nside, nside)
    assert torch.equal(from_faces(img), m)
    pooled = from_faces(torch.nn.functional.avg_pool2d(img, 2))
    assert torch.allclose(pooled, m.view(3, 2, -1, 4).mean(-1))


@pytest.mark.parametrize("nside,pad", [(8, 1), (16, 1), (16, 2)])
def test_padded_pixels_lie_where_the_face_continues(nside, pad):
    """Each pad pixel's centre against the linear continuation of its face's pixel grid: within about one pixel
    spacing per pixel of depth beyond the edge (1.3 beyond the first: near the vertices where three faces meet the
    sphere has no fourth face to continue into), and well within on average; a wrongly oriented neighbour face
    would put pad pixels up to nside spacings away."""
    src, three = padding_plan(nside, pad)
    v, idx, res = _centres(nside), face_index(nside), hp.nside2resol(nside)
    seen, dist = set(), {}
    for f, i, j, x, y, kind in _pad_positions(nside, pad):
        q = v[src[f, i, j, 0]] + v[src[f, i, j, 1]]
        d = np.arccos(np.clip(_extrapolated(v, idx, nside, f, x, y) @ (q / np.linalg.norm(q)), -1, 1)) / res
        depth = max(-x, x - nside + 1, -y, y - nside + 1)
        assert d < (1.05 if depth == 1 else 1.3 * depth), (f, x, y, kind, d)
        dist.setdefault(kind, []).append(d / depth)
        seen.add((f, kind))
    assert seen == {(f, k) for f in range(12) for k in (*EDGES, "corner")}
    assert np.mean(dist["x-"] + dist["x+"] + dist["y-"] + dist["y+"]) < 0.35
    # 8 vertices where three faces meet, each seen by 3 faces: pad^2 mean-filled pixels each
    assert three.sum() == 8 * 3 * pad**2
    # where four faces meet, the two walks of the corner agree
    assert (src[..., 0] == src[..., 1]).sum() == src[..., 0].size - three.sum()


def test_smooth_field_is_smooth_across_the_seams():
    """A smooth field: the second difference across each seam (pad, edge pixel, next pixel in) is as small as inside
    the faces, for every face and edge; reversing the pad strip along one edge (a wrong orientation) breaks that."""
    nside = 16
    v = _centres(nside)
    field = torch.as_tensor(np.sin(2 * v[:, 0]) + v[:, 1] * v[:, 2] + 0.5 * v[:, 2] ** 2)[None, None]
    img = to_faces(field, nside)[:, 0].numpy()  # (12, n, n)
    padded = HealpixFacePad(nside, 1)(to_faces(field, nside))[:, 0].numpy()  # (12, n + 2, n + 2)
    inner = max(np.abs(img[:, 2:] - 2 * img[:, 1:-1] + img[:, :-2]).max(),
                np.abs(img[:, :, 2:] - 2 * img[:, :, 1:-1] + img[:, :, :-2]).max())
    assert np.array_equal(padded[:, 1:-1, 1:-1], img)
    seams = {"x-": padded[:, 0, 1:-1] - 2 * img[:, 0] + img[:, 1], "x+": padded[:, -1, 1:-1] - 2 * img[:, -1] + img[:, -2],
             "y-": padded[:, 1:-1, 0] - 2 * img[:, :, 0] + img[:, :, 1],
             "y+": padded[:, 1:-1, -1] - 2 * img[:, :, -1] + img[:, :, -2]}
    for edge, d2 in seams.items():
        for f in range(12):
            assert np.abs(d2[f]).max() < 4 * inner, (f, edge, np.abs(d2[f]).max(), inner)
    # corners: the second difference along the diagonal (pad corner, face corner, next pixel in)
    n = nside
    for f in range(12):
        for (pi, pj), (ci, cj), (ni, nj) in [((0, 0), (0, 0), (1, 1)), ((0, -1), (0, n - 1), (1, n - 2)),
                                             ((-1, 0), (n - 1, 0), (n - 2, 1)), ((-1, -1), (n - 1, n - 1), (n - 2, n - 2))]:
            d2 = padded[f, pi, pj] - 2 * img[f, ci, cj] + img[f, ni, nj]
            assert abs(d2) < 8 * inner, (f, (ci, cj), d2, inner)
    wrong = padded[:, 0, 1:-1][:, ::-1] - 2 * img[:, 0] + img[:, 1]
    assert np.abs(wrong).max() > 4 * inner


def test_wider_padding_extends_the_narrow_one():
    nside = 8
    x = torch.randn(24, 3, nside, nside)
    p1, p2 = HealpixFacePad(nside, 1)(x), HealpixFacePad(nside, 2)(x)
    edge = torch.ones(nside + 2, nside + 2, dtype=torch.bool)
    edge[[0, 0, -1, -1], [0, -1, 0, -1]] = False  # the corners average differently at depth 2
    assert torch.equal(p2[:, :, 1:-1, 1:-1][..., edge], p1[..., edge])


def test_pad_module_behaves_like_a_module():
    pad = HealpixFacePad(4, 1)
    x = torch.randn(12, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    out = pad(x)
    assert out.dtype == torch.float64 and out.shape == (12, 2, 6, 6)
    out.sum().backward()  # every pixel feeds the pads: gradient = 1 + number of times it is copied
    assert (x.grad >= 1).all()
    for clone in (copy.deepcopy(pad), pickle.loads(pickle.dumps(pad))):
        assert torch.equal(clone(x), out)
    with pytest.raises(ValueError, match=r"expected face images \(B \* 12, C, 4, 4\)"):
        pad(torch.randn(6, 2, 4, 4))
    with pytest.raises(ValueError, match="pad must be an integer in"):
        HealpixFacePad(4, 4)
    with pytest.raises(ValueError, match="power of two"):
        face_index(6)


def test_face_net_starts_at_zero_and_trains():
    grid = HealpixGrid(8, nest=True)
    torch.manual_seed(0)
    model = FaceNet(grid, 2, 3, [2, 4])
    x = torch.randn(2, 2, grid.npix)
    assert torch.equal(model(x), torch.zeros(2, 3, grid.npix))
    loss = (model(x) - x[:, :1]).pow(2).mean()
    loss.backward()
    assert model.net.head[1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="NESTED"):
        FaceNet(HealpixGrid(8), 2, 2, [2, 4])
    with pytest.raises(ValueError, match="need nside >= 8"):
        FaceUNet(2, 2, 4, [2, 4, 8])


def test_disco_net_starts_at_zero_and_interpolates_smooth_fields():
    pytest.importorskip("torch_harmonics")
    from fiberconv.examples.wind.baselines import DiscoNet, _interp

    grid = HealpixGrid(16, nest=True)
    model = DiscoNet(grid, 2, 2, [2, 4])
    x = torch.randn(2, 2, grid.npix)
    assert torch.equal(model(x), torch.zeros_like(x))
    (model(x) - x).pow(2).mean().backward()
    assert model.head.weight.grad.abs().sum() > 0
    # HEALPix -> lat-lon -> HEALPix of a smooth field: close to the field (bilinear both ways, O(h^2))
    xyz = grid.xyz(dtype=torch.float32)
    f = (xyz[:, 0] + xyz[:, 1] * xyz[:, 2]).view(1, 1, -1)
    back = _interp(_interp(f, model.q_idx, model.q_w), model.p_idx, model.p_w)
    assert (back - f).abs().max() < 0.02

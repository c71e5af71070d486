"""Neighbourhoods in blocks (no M x M tensor) and farthest-point sampling independent of the order of the points
(issue 17): block search == dense reference, and permuting the input points leaves the outputs unchanged."""
from __future__ import annotations

import pytest
import torch

from fiberconv.nn.lieconv import LieConv, LieResNet
from fiberconv.nn.lieconv.lift import farthest_point_indices, lift_cloud, pair_logs
from fiberconv.spaces.lie_groups import SE2Action, SE3Action, TranslationAction, lie_action

F64 = torch.float64


def _cloud(B=3, N=23, d=2, C=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, N, d, dtype=F64, generator=g)
    f = torch.randn(B, N, C, dtype=F64, generator=g)
    mask = torch.ones(B, N, dtype=torch.bool)
    mask[1, N - 5:] = False
    return x, f, mask


@pytest.mark.parametrize("group, d", [("T2", 2), ("SE2", 2), ("SE3", 3), ("SO2", 2)])
@pytest.mark.parametrize("block_pairs", [1, 50, 10**9])
def test_block_search_equals_the_dense_reference(group, d, block_pairs):
    """Neighbours found one row (or a few rows) at a time equal a dense argsort of the full pair-distance matrix
    built here from pair_logs; the layer's outputs equal those of a single block."""
    action = lie_action(group)
    x, f, mask = _cloud(d=d)
    cloud = lift_cloud(action, x, f, mask, n_samples=2, seed=1)
    torch.manual_seed(0)
    conv = LieConv(action, 3, 4, nbhd=7, block_pairs=block_pairs).double()
    nd2, nidx = conv.neighbours(cloud)
    a = pair_logs(action, cloud.u)  # (B, M, M, A): the dense reference
    d2 = (a * a).sum(-1) + conv.alpha * torch.cdist(cloud.q, cloud.q).pow(2) if cloud.q.shape[-1] else (a * a).sum(-1)
    d2 = d2.masked_fill(~cloud.mask.unsqueeze(1), float("inf"))
    ref = torch.sort(d2, dim=-1).values[..., :7]
    assert torch.allclose(nd2, ref, atol=1e-12, rtol=0)
    assert torch.allclose(torch.gather(d2, 2, nidx), ref, atol=1e-12, rtol=0)  # the indices point at them
    dense = LieConv(action, 3, 4, nbhd=7, block_pairs=10**9).double()
    dense.load_state_dict(conv.state_dict())
    assert torch.equal(conv(cloud).f, dense(cloud).f)


def test_translation_neighbours_are_euclidean_knn():
    """For T(2), d is the Euclidean distance: an independent check with torch.cdist."""
    action = TranslationAction(2)
    x, f, mask = _cloud(B=2, N=40, seed=4)
    mask[:] = True
    cloud = lift_cloud(action, x, f, mask)
    conv = LieConv(action, 3, 2, nbhd=5, block_pairs=7).double()
    _, nidx = conv.neighbours(cloud)
    ref = torch.cdist(x, x).argsort(-1)[..., :5]
    assert torch.equal(nidx.sort(-1).values, ref.sort(-1).values)


@pytest.mark.parametrize("group, d, lift", [("T2", 2, {}), ("SE2", 2, {"stabilizer": "frame"}),
                                            ("T3", 3, {}), ("SE2", 2, {"stabilizer": "frame", "n_samples": 2})])
def test_permuting_points_leaves_the_output_unchanged(group, d, lift):
    """With ds_frac < 1 the farthest-point sampling used to start at the first point, so a permutation of the
    points changed the outputs (by up to 0.23); now the start is the most peripheral element."""
    action = lie_action(group, d)
    x, f, mask = _cloud(B=2, N=30, d=d, seed=7)
    torch.manual_seed(0)
    net = LieResNet(action, 3, 5, channels=16, num_layers=2, nbhd=8, ds_frac=0.5, lift_kwargs=lift).double()
    out = net(x, f, mask)
    for seed in range(3):
        perm = torch.randperm(30, generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(net(x[:, perm], f[:, perm], mask[:, perm]), out, atol=1e-12, rtol=0)
    # the chosen elements themselves follow the permutation
    cloud = lift_cloud(action, x, f, mask, **lift)
    conv = net.blocks[0].conv
    idx, valid = conv.query_indices(cloud)
    K = lift.get("n_samples", 1)
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(9))
    pcloud = lift_cloud(action, x[:, perm], f[:, perm], mask[:, perm], **lift)
    pidx, pvalid = conv.query_indices(pcloud)
    elem = (perm.repeat_interleave(K) * K + torch.arange(K).repeat(30))  # lifted element i of pcloud is elem[i]
    assert torch.equal(valid, pvalid) and torch.equal(elem[pidx][pvalid], idx[valid])


def test_farthest_point_blocks_and_callable_equal_the_dense_matrix():
    x, _, mask = _cloud(B=2, N=17, seed=3)
    d2 = torch.cdist(x, x).pow(2)
    dense = farthest_point_indices(d2, mask, 9)
    rows = lambda r: torch.cdist(torch.gather(x, 1, r.unsqueeze(-1).expand(-1, -1, 2)), x).pow(2)
    for block in (1, 4, 100):
        got = farthest_point_indices(rows, mask, 9, block_rows=block)
        assert torch.equal(got[0], dense[0]) and torch.equal(got[1], dense[1])


def test_se3_block_search_keeps_gradients_through_the_points():
    action = SE3Action()
    x, f, mask = _cloud(B=2, N=9, d=3, seed=2)
    x.requires_grad_(True)
    conv = LieConv(action, 3, 2, nbhd=4, block_pairs=5).double()
    out = conv(lift_cloud(action, x, f, mask, seed=0)).f
    out.square().sum().backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)


def test_block_pairs_is_checked():
    with pytest.raises(ValueError, match="block_pairs"):
        LieConv(SE2Action(), 2, 2, block_pairs=0)

"""SE(3)'s equivariant frames (the stabilizer quadrature of the QM9 example, issue 17): rotations, equivariant on QM9
molecules, degenerate exactly where no equivariant frame exists; an SE(3) LieConv network on molecules is then
invariant to rotations and translations up to rounding, while Haar-random frames are not."""
from __future__ import annotations

import pytest
import torch

from fiberconv.datasets.qm9 import load_qm9
from fiberconv.nn.lieconv import LieResNet
from fiberconv.nn.lieconv.lift import lift_cloud
from fiberconv.spaces import SO3
from fiberconv.spaces.lie_groups import SE3Action

F64 = torch.float64


@pytest.fixture(scope="module")
def molecules():
    ds = load_qm9(max_molecules=24, seed=5)
    w = ds.mask.to(F64).unsqueeze(-1)
    c = (ds.positions * w).sum(1, keepdim=True) / w.sum(1, keepdim=True)
    x = torch.where(ds.mask.unsqueeze(-1), ds.positions - c, torch.zeros((), dtype=F64))
    return x, ds.features(), ds.mask


def _move(x, mask, seed):
    R = SO3.sample((len(x),), seed=seed, dtype=F64)
    t = torch.randn(len(x), 1, 3, dtype=F64, generator=torch.Generator().manual_seed(seed))
    return R, t, torch.where(mask.unsqueeze(-1), x @ R.transpose(-1, -2) + t, torch.zeros((), dtype=F64))


def test_frames_are_rotations_and_equivariant(molecules):
    x, _, mask = molecules
    action = SE3Action()
    zero = torch.zeros(len(x), 1, 3, dtype=F64)
    h = action.frame_stabilizer(x, zero, 3, offset=0.4, mask=mask)  # (B, N, 3, 4, 4)
    rot = h[..., :3, :3][mask]
    eye = torch.eye(3, dtype=F64)
    assert torch.allclose(rot.transpose(-1, -2) @ rot, eye.expand_as(rot), atol=1e-12)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(rot.shape[:-2], dtype=F64), atol=1e-12)
    R, t, y = _move(x, mask, seed=1)
    h2 = action.frame_stabilizer(y, t, 3, offset=0.4, mask=mask)  # the centre moves with the molecule
    ok = mask & ~action.frame_is_degenerate(x, zero, mask)
    moved = R[:, None, None] @ h[..., :3, :3]
    assert bool(ok.sum() > 0.9 * mask.sum())
    assert torch.allclose(h2[..., :3, :3][ok], moved[ok], atol=1e-9)


def test_degenerate_frames_are_flagged_for_a_linear_molecule():
    x = torch.tensor([[[0.0, 0, -1.2], [0, 0, 0], [0, 0, 1.2], [0.0, 0, 2.3]]], dtype=F64)  # collinear: no frame
    deg = SE3Action().frame_is_degenerate(x, x.mean(1, keepdim=True))
    assert bool(deg.all())
    bent = x.clone()
    bent[0, 3, 0], bent[0, 0, 1] = 0.7, -0.3  # no symmetry left
    assert not bool(SE3Action().frame_is_degenerate(bent, bent.mean(1, keepdim=True)).any())


def test_se3_network_on_molecules_is_invariant_with_frames_not_with_haar(molecules):
    x, f, mask = molecules
    action = SE3Action()
    zero = torch.zeros(len(x), 1, 3, dtype=F64)
    ok = ~action.frame_is_degenerate(x, zero, mask).any(-1)
    torch.manual_seed(0)
    net = LieResNet(action, f.shape[-1], 3, channels=16, num_layers=2, nbhd=12,
                    lift_kwargs={"stabilizer": "frame", "n_samples": 2}).double()
    with torch.no_grad():
        out = net(x, f, mask)
        _, _, y = _move(x, mask, seed=2)
        moved = net(y, f, mask)
    scale = out.detach().abs().max()
    assert float((moved - out)[ok].abs().max()) < 1e-10 * float(scale)
    haar = LieResNet(action, f.shape[-1], 3, channels=16, num_layers=2, nbhd=12, lift_kwargs={"n_samples": 2}).double()
    haar.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert float((haar(y, f, mask, seed=0) - haar(x, f, mask, seed=0)).abs().max()) > 1e-4 * float(scale)


def test_frame_needs_batched_points():
    with pytest.raises(ValueError, match=r"\(batch, n_points, 3\)"):
        SE3Action().frame_stabilizer(torch.zeros(4, 3, dtype=F64), torch.zeros(3, dtype=F64), 1)


def test_lift_with_frames_uses_the_mask():
    """Padding points must not enter the other points' frames."""
    x = torch.randn(1, 6, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    f = torch.ones(1, 6, 1, dtype=F64)
    mask = torch.tensor([[True] * 4 + [False] * 2])
    a = lift_cloud(SE3Action(), x, f, mask, stabilizer="frame")
    x2 = x.clone()
    x2[0, 4:] = 100.0  # different padding
    b = lift_cloud(SE3Action(), x2, f, mask, stabilizer="frame")
    assert torch.allclose(a.u[mask], b.u[mask], atol=1e-14)

"""SphereConv's state and geometry (issue 13): dense module state, derived operators cached per (device,
dtype) on a shared SphereConvGeometry; deepcopy, AveragedModel, pickle, state_dict, .to(), meta, half
precision, autocast, torch.compile and torch.export."""
import copy
import pickle

import pytest
import torch
from torch.optim.swa_utils import AveragedModel

from fiberconv.fields import sphere_field_type
from fiberconv.nn import SphereConv, SphereConvGeometry, SphericalClassifier, SphericalUNet
from fiberconv.spaces import HealpixGrid

MIXED = sphere_field_type((0, 2), (1, 2), (2, 1))
VECTORS = sphere_field_type((1, 2))


def make(nside=4, in_type=MIXED, out_type=MIXED, seed=0, **kw):
    torch.manual_seed(seed)
    grid = HealpixGrid(nside, nest=True)
    return SphereConv(in_type, out_type, grid, **kw), torch.randn(2, in_type.dim, grid.npix)


def test_module_state_is_dense():
    conv, x = make()
    conv(x)
    assert all(t.layout == torch.strided for t in list(conv.buffers()) + list(conv.parameters()))
    state = conv.state_dict()  # the weights, and the field types as a small uint8 tensor (the extra state)
    assert set(state) == {"weight", "bias", "_extra_state"} and state["_extra_state"].dtype == torch.uint8
    assert all(t.layout == torch.strided for t in state.values()) and state["_extra_state"].numel() < 512


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m)), AveragedModel])
def test_copies_compute_the_same_map(copier):
    conv, x = make()
    ref = conv(x)
    assert torch.equal(copier(conv)(x), ref)


def test_pickle_is_small_and_state_dict_round_trips():
    conv, x = make(16, VECTORS, VECTORS)
    conv(x)  # derive the operators: they must not be pickled
    assert len(pickle.dumps(conv)) < 64 * 1024
    other, _ = make(16, VECTORS, VECTORS, seed=1)
    other.load_state_dict(conv.state_dict())
    assert torch.equal(other(x), conv(x))


def test_to_follows_device_and_dtype():
    conv, x = make(dtype=torch.float64)
    ref = conv(x.double())
    conv32 = copy.deepcopy(conv).float()
    out = conv32(x)
    assert out.dtype == torch.float32 and (out.double() - ref).abs().max() < 1e-5 * ref.abs().max()
    back = conv32.double()  # float64 operators again, from the float64 geometry (weights rounded once)
    conv.load_state_dict(back.state_dict())
    ref = conv(x.double())
    assert (back(x.double()) - ref).abs().max() < 1e-13 * ref.abs().max()


def test_meta_device():
    conv, x = make()
    for m in (SphereConv(MIXED, VECTORS, HealpixGrid(4, nest=True), device="meta"), copy.deepcopy(conv).to("meta")):
        out = m(x.to("meta"))
        assert out.device.type == "meta" and out.shape[0] == 2 and out.shape[2] == x.shape[2]


def test_geometry_is_shared_and_checked():
    grid = HealpixGrid(8, nest=True)
    geo = SphereConvGeometry(grid)
    a = SphereConv(MIXED, VECTORS, grid, geometry=geo)
    b = SphereConv(VECTORS, MIXED, grid, geometry=geo)
    assert a.geometry is b.geometry is geo and copy.deepcopy(a).geometry is geo
    with pytest.raises(ValueError, match="geometry is for"):
        SphereConv(MIXED, VECTORS, HealpixGrid(4, nest=True), geometry=geo)
    net = SphericalUNet(sphere_field_type((0, 1)), VECTORS, grid, widths=((2, 1), (2, 1)))
    convs = [m for m in net.modules() if isinstance(m, SphereConv)]
    fine = [c for c in convs if c.grid == grid]
    assert len(fine) == 3 and len({id(c.geometry) for c in fine}) == 1 and len(net.geometries) == 2
    clf = SphericalClassifier(sphere_field_type((0, 1)), grid, 3, widths=((2, 1), (2, 1)))
    assert len(clf.geometries) == 2


@pytest.mark.parametrize("nest", [False, True])
@pytest.mark.parametrize("stride", [1, 2])
def test_representatives_give_every_pixels_neighbourhood(nest, stride):
    """The pairs derived from the representatives (turned about the polar axis) are exactly the pairs of
    every output pixel's own neighbourhood, and the representatives are about 1 / 12 of the pixels."""
    grid = HealpixGrid(16, nest=nest)
    geo = SphereConvGeometry(grid, stride=stride)
    rows, cols, _ = geo.pairs()
    idx, mask = grid.neighbours_of(geo.out_grid.xyz(dtype=torch.float64), geo.radius)
    want = mask.nonzero(as_tuple=True)[0] * grid.npix + idx[mask]
    assert torch.equal(torch.sort(rows * grid.npix + cols).values, torch.sort(want).values)
    assert geo.n_reps < geo.out_grid.npix / 6


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_forward_and_backward(dtype):
    conv, x = make(8, MIXED, MIXED)
    ref = conv(x).detach()
    xh = x.to(dtype).requires_grad_(True)
    out = conv(xh)
    out.float().pow(2).sum().backward()
    tol = 2e-2 if dtype == torch.bfloat16 else 3e-3
    assert out.dtype == dtype and float((out.detach().float() - ref).norm() / ref.norm()) < tol
    x32 = x.clone().requires_grad_(True)
    conv(x32).pow(2).sum().backward()
    assert xh.grad.dtype == dtype and float((xh.grad.float() - x32.grad).norm() / x32.grad.norm()) < 5 * tol
    half = copy.deepcopy(conv).to(dtype)
    assert half(x.to(dtype)).dtype == dtype


def test_autocast_bf16():
    conv, x = make(8, MIXED, MIXED)
    ref = conv(x).detach()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.bfloat16 and float((out.float() - ref).detach().norm() / ref.norm()) < 2e-2


def test_compile_fullgraph_and_export():
    """The sparse product is one opaque custom op: no graph break, and it exports."""
    torch._dynamo.reset()
    grid = HealpixGrid(2, nest=True)
    torch.manual_seed(0)
    net = SphericalUNet(sphere_field_type((0, 1)), VECTORS, grid, widths=((2, 1), (2, 1))).eval()
    x = torch.randn(2, 1, grid.npix)
    ref = net(x)
    compiled = torch.compile(copy.deepcopy(net), fullgraph=True, backend="aot_eager")
    assert (compiled(x) - ref).abs().max() < 1e-5
    exported = torch.export.export(net, (x,))
    assert "fiberconv.csr_mm" in str(exported.graph)
    assert (exported.module()(x) - ref).abs().max() < 1e-6

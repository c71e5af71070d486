"""SphereConv (eq. 14): against eq. (14) and eq. (7) computed directly, exact equivariance under the grid
symmetries, bounded equivariance error under random rotations falling with resolution, gradients, errors."""

import math

import pytest
import torch

from fiberconv.fields import FibredSampling, lift, lift_inverse, mackey_defect, sphere_field_type
from fiberconv.fields.field_type import FieldType
from fiberconv.nn import SphereConv, group_cross_correlation, kc_to_kg
from fiberconv.spaces import SO3, HealpixGrid, SO2Regular
from fiberconv.testing import EquivarianceChecker, bandlimited_field, smooth_field, sphere_conv_dense

MIXED_IN = sphere_field_type((0, 2), (1, 2), (2, 1))
MIXED_OUT = sphere_field_type((1, 2), (0, 1), (2, 1), (3, 1))


def make_conv(in_type, out_type, grid, seed=0, **kw):
    torch.manual_seed(seed)
    conv = SphereConv(in_type, out_type, grid, dtype=torch.float64, **kw)
    if conv.bias is not None:
        with torch.no_grad():
            conv.bias.normal_()
    return conv


@pytest.mark.parametrize("by_batch", [False, True])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("nest", [False, True])
def test_matches_eq14_computed_directly(nest, stride, by_batch):
    """With ``quadrature=None`` the weights are the sampled kernel, ``w kappa(z)``: eq. (14) as written. Both
    layouts of the filter responses (``responses_by_batch``, chosen by size) give it, and the same gradients."""
    grid = HealpixGrid(4, nest=nest)
    conv = make_conv(MIXED_IN, MIXED_OUT, grid, radius=0.7, n_rings=3, stride=stride, quadrature=None)
    conv.responses_by_batch = by_batch
    f = torch.randn(2, MIXED_IN.dim, grid.npix, dtype=torch.float64, requires_grad=True)
    ref = sphere_conv_dense(conv, f)
    out = conv(f)
    assert out.is_contiguous() and (out - ref).abs().max() / ref.abs().max() < 1e-12
    g = torch.randn_like(out)
    gx, gw = torch.autograd.grad((out * g).sum(), (f, conv.weight))
    conv.responses_by_batch = not by_batch
    gx_other, gw_other = torch.autograd.grad((conv(f) * g).sum(), (f, conv.weight))
    assert torch.allclose(gx, gx_other, atol=1e-12) and torch.allclose(gw, gw_other, atol=1e-12)
    del conv.__dict__["responses_by_batch"]  # as unpickled from an earlier version
    assert torch.allclose(conv(f), out, atol=1e-12)


def test_matches_the_group_correlation_eq7():
    """Theorem 3.1 made concrete: Lambda2^-1 [kappa_G * Lambda1 f] = eq. (14), with kappa_G = eq. (10)
    of the K_C kernel; and kappa_G * (Mackey function) is a Mackey function."""
    grid = HealpixGrid(2)
    conv = make_conv(MIXED_IN, MIXED_OUT, grid, radius=0.9, n_rings=2, bias=False, quadrature=None)
    f = torch.randn(2, MIXED_IN.dim, grid.npix, dtype=torch.float64)
    sampling = FibredSampling(grid, MIXED_IN.bundle, 5)
    kg = kc_to_kg(lambda z: conv.basis.kappa_c(conv.kernel_weights().detach(), z), MIXED_IN, MIXED_OUT)
    out = group_cross_correlation(kg, lift(MIXED_IN, f, sampling), sampling)
    assert mackey_defect(MIXED_OUT, out, sampling) < 1e-12
    ref = lift_inverse(MIXED_OUT, out, sampling)
    assert (conv(f) - ref).abs().max() / ref.abs().max() < 1e-12


@pytest.mark.parametrize("nest", [False, True])
@pytest.mark.parametrize("stride", [1, 2])
def test_exact_under_grid_symmetries(nest, stride):
    grid = HealpixGrid(8, nest=nest)
    reg = FieldType(MIXED_IN.bundle, [SO2Regular(2)])
    for ti, to in [(MIXED_IN, MIXED_OUT), (reg, MIXED_IN), (sphere_field_type((0, 3)), sphere_field_type((1, 2)))]:
        conv = make_conv(ti, to, grid, stride=stride)
        check = EquivarianceChecker(ti, grid, to, conv.out_grid)
        f = torch.randn(2, ti.dim, grid.npix, dtype=torch.float64)  # any field, not band-limited
        for g in grid.symmetries(dtype=torch.float64):
            assert check(conv, f, g) < 1e-12


def test_x_rotation_by_pi_flips_the_sign_of_odd_frequencies():
    """For R = X(pi) the cocycle is a rotation by pi: rho_m(pi) = (-1)^m on the permuted components."""
    grid = HealpixGrid(4)
    conv = make_conv(sphere_field_type((0, 1)), sphere_field_type((1, 1), (2, 1)), grid)
    f = torch.randn(1, 1, grid.npix, dtype=torch.float64)
    R = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    perm = grid.symmetry_permutation(R.T)  # R^-1 x_i = x_perm[i]
    out, out_rot = conv(f), conv(f[..., perm])
    assert (out_rot[:, :2] + out[:, :2, perm]).abs().max() < 1e-12  # m = 1: -1
    assert (out_rot[:, 2:] - out[:, 2:, perm]).abs().max() < 1e-12  # m = 2: +1


CASES = {"scalar->vector": ((0, 3), (1, 3)), "vector->vector": ((1, 3), (1, 3)), "vector->scalar": ((1, 3), (0, 3))}


@pytest.mark.parametrize("case", CASES)
def test_random_rotation_error_falls_with_resolution(case):
    """A fixed angular kernel (the continuous operator) on band-limited inputs: the error shrinks with nside."""
    ti, to = (sphere_field_type(CASES[case][0]), sphere_field_type(CASES[case][1]))
    g = SO3.sample((), seed=11, dtype=torch.float64)
    errs = []
    for nside in (4, 8, 16):
        grid = HealpixGrid(nside, nest=True)
        conv = make_conv(ti, to, grid, radius=0.6, n_rings=2, bias=False)
        errs.append(EquivarianceChecker(ti, grid, to)(conv, bandlimited_field(ti, grid, 4), g))
    assert errs[2] < errs[1] < errs[0]
    assert errs[2] < 0.02


def test_default_kernel_error_is_bounded():
    grid = HealpixGrid(16, nest=True)
    g = SO3.sample((), seed=3, dtype=torch.float64)
    scalars, vectors = sphere_field_type((0, 3)), sphere_field_type((1, 3))
    for ti, to in [(scalars, vectors), (vectors, vectors)]:
        conv = make_conv(ti, to, grid)
        assert EquivarianceChecker(ti, grid, to)(conv, bandlimited_field(ti, grid, 6), g) < 2e-3


@pytest.mark.parametrize("case", CASES)
def test_default_kernel_is_equivariant_on_smooth_fields(case):
    """The default kernel (3 pixel spacings, 2 rings) with the moment-matched quadrature: smooth inputs
    (degree 1-3) under a random rotation, error < 1e-3 at nside 16 (sampled kernel: 1-4 %, at every
    nside), falling with nside (about 8x per doubling for degree 3)."""
    ti, to = (sphere_field_type(CASES[case][0]), sphere_field_type(CASES[case][1]))
    g = SO3.sample((), seed=5, dtype=torch.float64)
    errs = []
    for nside in (8, 16):
        grid = HealpixGrid(nside, nest=True)
        conv = make_conv(ti, to, grid, bias=False)
        errs.append(EquivarianceChecker(ti, grid, to)(conv, smooth_field(ti, grid), g))
    assert errs[1] < 1e-3
    assert errs[1] < errs[0] / 4
    grid = HealpixGrid(16, nest=True)
    sampled = make_conv(ti, to, grid, bias=False, quadrature=None)
    assert EquivarianceChecker(ti, grid, to)(sampled, smooth_field(ti, grid), g) > 5e-3  # what it replaces


def test_quadrature_integrates_low_degree_polynomials():
    """At every output point the corrected weights integrate rho^k trig(j alpha), k <= the default degree (4),
    to the moments."""
    from fiberconv.nn.sphere.geometry import pair_frames
    from fiberconv.nn.sphere.quadrature import MomentQuadrature, filter_moments, moment_polynomials

    grid = HealpixGrid(8, nest=True)
    conv = make_conv(sphere_field_type((0, 1)), sphere_field_type((0, 1), (1, 1), (2, 1)), grid)
    x = grid.xyz(dtype=torch.float64)
    idx, mask = grid.neighbours_of(x, conv.radius)
    rows, cols = mask.nonzero(as_tuple=True)[0], idx[mask]
    ca, sa, beta, ct, st = pair_frames(conv.in_type.bundle, x, x, rows, cols)
    d = conv.quadrature
    assert d == 4
    quad = MomentQuadrature(conv.basis, conv.filter_index, rows, grid.npix, ca, sa, beta, ct, st, d)
    psi = _dense(conv, 0).view(conv.n_filters, grid.npix, grid.npix)[:, rows, cols]  # (F, P)
    v = moment_polynomials(ca, sa, beta, conv.radius, d)
    got = torch.zeros(conv.n_filters, grid.npix, v.shape[1], dtype=torch.float64).index_add_(1, rows, psi[:, :, None] * v)
    filters = [(j, [(1.0, m2, cs)] if not (m2 == 0 and cs == "s") else []) for j, m2, cs in quad.keys]
    mu = filter_moments(conv.basis, filters, d)
    assert (got - mu[:, None, :]).abs().max() < 1e-12


def test_dtypes_batches_and_devices(device):
    grid = HealpixGrid(4, nest=True)
    conv = make_conv(MIXED_IN, MIXED_OUT, grid).to(device)
    f = torch.randn(3, MIXED_IN.dim, grid.npix, dtype=torch.float64, device=device)
    out64 = conv(f)
    out32 = conv.float()(f.float())
    assert out32.dtype == torch.float32 and out32.device.type == device.type
    assert (out32.double() - out64).abs().max() / out64.abs().max() < 1e-5
    assert torch.allclose(conv(f[:1].float()), out32[:1], atol=1e-6)  # batch independence


def test_neighbourhoods_stay_local():
    """Memory is O(N_pix x neighbours): the neighbourhood size does not grow with nside at a fixed pixel radius."""
    ks = [SphereConv(MIXED_IN, MIXED_OUT, HealpixGrid(n)).n_neighbours for n in (8, 16, 32)]
    assert max(ks) <= 40 and max(ks) - min(ks) <= 8


def test_bias_only_on_scalar_outputs():
    grid = HealpixGrid(2)
    assert SphereConv(MIXED_IN, sphere_field_type((1, 2)), grid).bias is None
    conv = SphereConv(MIXED_IN, MIXED_OUT, grid)
    assert conv.bias.shape == (1,) and conv.bias_index.tolist() == [4]


def test_gradcheck():
    grid = HealpixGrid(1)
    conv = make_conv(sphere_field_type((0, 1), (1, 1)), sphere_field_type((1, 1), (0, 1)), grid, radius=1.2)
    f = torch.randn(1, 3, grid.npix, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, w: torch.func.functional_call(conv, {"weight": w}, (f,)), (f, conv.weight))


@pytest.mark.parametrize("stride", [1, 2])
def test_gradcheck_mixed_types(stride):
    """Several fields per frequency and a batch of 2: every block of the transposed operators and of the
    twist's backward is exercised (input and weight gradients)."""
    grid = HealpixGrid(2)
    conv = make_conv(MIXED_IN, MIXED_OUT, grid, radius=0.9, stride=stride)
    f = torch.randn(2, MIXED_IN.dim, grid.npix, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, w: torch.func.functional_call(conv, {"weight": w}, (f,)), (f, conv.weight))


def test_bad_input():
    grid = HealpixGrid(4)
    conv = SphereConv(MIXED_IN, MIXED_OUT, grid)
    with pytest.raises(ValueError, match=r"shape \(batch, 8, 192\) for FieldType\(S\^2: 2xSO2Irrep\(0\)"):
        conv(torch.zeros(1, 6, 192))
    with pytest.raises(ValueError, match=r"HealpixGrid\(nside=4"):
        conv(torch.zeros(1, 8, 768))  # the wrong nside
    with pytest.raises(TypeError, match="floating"):
        conv(torch.zeros(1, 8, 192, dtype=torch.long))
    with pytest.raises(ValueError, match="power of two"):
        SphereConv(MIXED_IN, MIXED_OUT, grid, stride=3)
    with pytest.raises(TypeError, match="HealpixGrid"):
        SphereConv(MIXED_IN, MIXED_OUT, "grid")


def test_nan_reaches_only_the_neighbours_of_its_pixel():
    """The NaN policy (fiberconv.validation): no value check in the forward pass; a NaN at one pixel
    gives NaN exactly at the outputs whose neighbourhood contains it, and leaves the others unchanged."""
    grid = HealpixGrid(4)
    conv = make_conv(MIXED_IN, MIXED_OUT, grid, radius=0.5)
    f = torch.randn(1, MIXED_IN.dim, grid.npix)
    clean = conv(f)
    pixel = 37
    for bad in (float("nan"), float("inf")):
        g = f.clone()
        g[0, 3, pixel] = bad
        out = conv(g)
        idx, mask = grid.neighbours_of(grid.xyz()[None, pixel], conv.radius)
        near = torch.zeros(grid.npix, dtype=torch.bool)
        near[idx[mask]] = True  # the neighbourhood is symmetric: x sees y iff y sees x
        assert not torch.isfinite(out[0][:, near]).all(dim=0).any()
        assert torch.equal(out[0][:, ~near], clean[0][:, ~near])


def test_closed_form_twist_angles_match_the_bundle():
    from fiberconv.nn.sphere.geometry import twist_angles

    grid = HealpixGrid(4)
    bundle = MIXED_IN.bundle
    x = y = grid.xyz(dtype=torch.float64)
    idx, _ = grid.neighbourhoods(0.8)
    alpha, beta, tau = twist_angles(bundle, x, y, idx)
    z, h = bundle.twist(x.unsqueeze(1), y[idx])
    a2, b2 = bundle.space.to_angles(z)
    def same_angle(a, b):  # equal modulo 2 pi
        return (torch.polar(torch.ones_like(a), a) - torch.polar(torch.ones_like(b), b)).abs().max() < 1e-12

    assert same_angle(alpha, a2) and (beta - b2).abs().max() < 1e-12
    assert same_angle(torch.atan2(h[..., 1, 0], h[..., 0, 0]), tau)


def _dense(conv, m1, device=None, dtype=None):
    """The filter operator of input frequency ``m1`` as a dense matrix (from its CSR arrays)."""
    crow, col, values = conv.operator(m1, device, dtype)[:3]
    n_cols = conv.grid.npix * (1 if m1 == 0 else 2)
    rows = torch.repeat_interleave(torch.arange(crow.numel() - 1, device=crow.device), crow.diff().long())
    dense = values.new_zeros(crow.numel() - 1, n_cols)
    return dense.index_put_((rows, col.long()), values, accumulate=True)  # columns need not be sorted


def test_dtype_and_device_factory_arguments(device):
    """``dtype=`` forms the operators in that dtype from the float64 geometry: a float32 layer's operators
    equal the float64 layer's to float32 rounding, and it computes the same map."""
    grid = HealpixGrid(2)
    torch.manual_seed(0)
    c64 = SphereConv(MIXED_IN, MIXED_OUT, grid, radius=0.9, dtype=torch.float64)
    torch.manual_seed(0)
    c32 = SphereConv(MIXED_IN, MIXED_OUT, grid, radius=0.9, dtype=torch.float32, device=device)
    for name, buf in c32.named_buffers():
        assert buf.device.type == device.type, name
        if buf.is_floating_point():
            assert buf.dtype == torch.float32, name
            ref = dict(c64.named_buffers())[name]
            assert (buf.cpu().double() - ref).abs().max() <= 1e-6 * ref.abs().max(), name
    for m1 in c32.basis.in_groups:  # the derived operators, on the layer's device and dtype
        a, b = _dense(c32, m1), _dense(c64, m1)
        assert a.dtype == torch.float32 and a.device.type == device.type
        assert (a.cpu().double() - b).abs().max() <= 1e-6 * b.abs().max(), m1
    assert c32.weight.dtype == torch.float32 and c64.weight.dtype == torch.float64
    with torch.no_grad():
        c32.weight.copy_(c64.weight)
    f = torch.randn(2, MIXED_IN.dim, grid.npix, dtype=torch.float64)
    ref = c64(f)
    out = c32(f.float().to(device)).double().cpu()
    assert (out - ref).abs().max() / ref.abs().max() < 1e-5
    with pytest.raises(TypeError, match="floating torch.dtype"):
        SphereConv(MIXED_IN, MIXED_OUT, grid, dtype=torch.int64)


def test_empty_batches_and_kernels_smaller_than_a_pixel():
    """A batch of size 0 gives an empty batch (layer and U-Net); a radius below the pixel spacing is refused
    with the spacing named (it once gave an unpacking error, or outputs growing like 1 / r^2)."""
    from fiberconv.nn import SphericalClassifier, SphericalUNet

    grid = HealpixGrid(8)
    conv = SphereConv(MIXED_IN, MIXED_OUT, grid)
    assert conv(torch.zeros(0, MIXED_IN.dim, grid.npix)).shape == (0, MIXED_OUT.dim, grid.npix)
    v = sphere_field_type((1, 1))
    unet = SphericalUNet(v, v, grid, widths=((2, 1), (2, 1)))
    assert unet(torch.zeros(0, 2, grid.npix)).shape == (0, 2, grid.npix)
    for radius, stride in ((1e-4, 2), (1e-3, 1), (0.05, 2)):
        with pytest.raises(ValueError, match=r"below the pixel spacing 0\.1279 rad .* use radius >= 0\.1279"):
            SphereConv(MIXED_IN, MIXED_OUT, grid, radius=radius, stride=stride)
    spacing = math.sqrt(4 * math.pi / grid.npix)
    for stride in (1, 2):  # one spacing is enough for every output point to see an input pixel
        conv = SphereConv(MIXED_IN, MIXED_OUT, grid, radius=spacing, stride=stride, dtype=torch.float64)
        x = torch.randn(2, MIXED_IN.dim, grid.npix, dtype=torch.float64)
        assert float(conv(x).detach().abs().max()) < 10 * float(x.abs().max())
    with pytest.raises(ValueError, match="n_classes must be a positive int, got -1"):
        SphericalClassifier(sphere_field_type((0, 1)), grid, n_classes=-1)
    # an empty batch still backpropagates (zero gradients), like torch.nn's convolutions
    x0 = torch.zeros(0, MIXED_IN.dim, grid.npix, requires_grad=True)
    conv(x0).sum().backward()
    assert conv.weight.grad is not None and float(conv.weight.grad.abs().max()) == 0.0 and x0.grad.shape == x0.shape
    unet(torch.zeros(0, 2, grid.npix)).pow(2).mean().backward()


@pytest.mark.parametrize("bad, kind", [(-1, ValueError), (2.5, TypeError), ("3", TypeError), (True, TypeError),
                                       (float("nan"), TypeError), (5, ValueError)])
def test_quadrature_degree_is_checked(bad, kind):
    """None or a degree 0..4: above 4 the ~30 neighbours cannot carry the moments and the weights blow up."""
    with pytest.raises(kind, match="quadrature must be None or a degree from 0 to 4"):
        SphereConv(MIXED_IN, MIXED_OUT, HealpixGrid(4), quadrature=bad)


def test_checker_refuses_a_module_on_another_grid():
    """A RING map read on a NESTED grid would be measured as a large, meaningless error: refused instead."""
    conv = SphereConv(MIXED_IN, MIXED_OUT, HealpixGrid(4, nest=True), dtype=torch.float64)
    f = torch.randn(1, MIXED_IN.dim, 192, dtype=torch.float64)
    with pytest.raises(ValueError, match="the module's grid is HealpixGrid"):
        EquivarianceChecker(MIXED_IN, HealpixGrid(4, nest=False), MIXED_OUT)(conv, f, torch.eye(3, dtype=torch.float64))


def test_state_dict_of_other_field_types_is_refused():
    """(0,2) -> (0,1) and (0,1) -> (0,1) + (1,1) have parameters of the same sizes; loading one into the other
    would compute something else, so the field types travel with the state_dict and a mismatch is refused."""
    grid = HealpixGrid(4)
    a = SphereConv(sphere_field_type((0, 2)), sphere_field_type((0, 1)), grid)
    b = SphereConv(sphere_field_type((0, 1)), sphere_field_type((0, 1), (1, 1)), grid)
    assert {k: v.shape for k, v in a.state_dict().items() if k != "_extra_state"} == \
        {k: v.shape for k, v in b.state_dict().items() if k != "_extra_state"}
    with pytest.raises(ValueError, match=r"in_type"):
        b.load_state_dict(a.state_dict())
    c = SphereConv(sphere_field_type((0, 2)), sphere_field_type((0, 1)), grid)
    c.load_state_dict(a.state_dict())  # the same types load
    assert torch.equal(c.weight, a.weight)

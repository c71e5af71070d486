"""SphereBandLimit: an equivariant projection onto degrees <= lmax (and spectral pooling / unpooling)."""
import copy

import healpy as hp
import numpy as np
import pytest
import torch

from fiberconv.bundles import sphere_bundle
from fiberconv.fields import InducedRepresentation, sphere_field_type
from fiberconv.nn import SphereBandLimit, SphericalClassifier, r3_field_type
from fiberconv.spaces import SO3, HealpixGrid
from fiberconv.testing import EquivarianceChecker, bandlimited_field, invariance_report

FT = sphere_field_type((0, 2), (1, 2), (2, 1))
SCALAR, VECTOR = sphere_field_type((0, 1)), sphere_field_type((1, 1))


@pytest.mark.parametrize("nest", [False, True])
@pytest.mark.parametrize("out", ["same", "coarse", "fine"])
def test_exact_under_grid_symmetries(nest, out):
    grid = HealpixGrid(8, nest=nest)
    out_grid = {"same": grid, "coarse": grid.coarsen(), "fine": HealpixGrid(16, nest=not nest)}[out]
    layer = SphereBandLimit(FT, grid, 4, out_grid=out_grid, dtype=torch.float64)
    f = torch.randn(2, FT.dim, grid.npix, dtype=torch.float64)
    check = EquivarianceChecker(FT, grid, FT, out_grid)
    for g in grid.symmetries(dtype=torch.float64):
        assert check(layer, f, g) < 1e-12


@pytest.mark.parametrize("out", ["same", "coarse"])
def test_commutes_with_any_rotation(out):
    """On inputs band-limited to the fit's degree (2 nside) the projection of a scalar field commutes with every
    rotation to rounding; vector fields leave only the resampling of the (degree + 2) tangent projection."""
    grid = HealpixGrid(8, nest=True)
    out_grid = grid if out == "same" else grid.coarsen()
    rotations = SO3.sample((3,), seed=2, dtype=torch.float64)
    for ft, bound in ((SCALAR, 1e-10), (VECTOR, 5e-3)):
        layer = SphereBandLimit(ft, grid, 3, out_grid=out_grid, dtype=torch.float64)
        f = bandlimited_field(ft, grid, 2 * out_grid.nside)  # the checker resamples both grids at this degree
        errs = EquivarianceChecker(ft, grid, ft, out_grid, lmax=2 * out_grid.nside).errors(layer, f, rotations)
        assert max(errs) < bound, (ft, errs)
    # a sampled-weights fit (fit_lmax = lmax) aliases the degrees above lmax: the default fit matters
    layer = SphereBandLimit(SCALAR, grid, 3, fit_lmax=3, dtype=torch.float64)
    f = bandlimited_field(SCALAR, grid, 16)
    assert max(EquivarianceChecker(SCALAR, grid, SCALAR, lmax=16).errors(layer, f, rotations)) > 1e-3


def test_reproduces_band_limited_fields():
    grid = HealpixGrid(8, nest=False)
    f = bandlimited_field(SCALAR, grid, 5)
    assert (SphereBandLimit(SCALAR, grid, 5, dtype=torch.float64)(f) - f).abs().max() < 1e-12
    # the tangent field V_A(x) = P_x(A x) has ambient components of degree <= 3
    x = grid.xyz(dtype=torch.float64)
    frames = sphere_bundle().section(x)[..., :, :2].transpose(-1, -2)
    A = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    v = (frames @ (x @ A.T).unsqueeze(-1)).squeeze(-1).T.unsqueeze(0)  # (1, 2, N)
    assert (SphereBandLimit(VECTOR, grid, 3, dtype=torch.float64)(v) - v).abs().max() < 1e-12
    assert (SphereBandLimit(VECTOR, grid, 2, dtype=torch.float64)(v) - v).abs().max() > 1e-2


def test_scalar_projection_is_orthogonal_and_matches_healpy():
    grid = HealpixGrid(8, nest=False)
    layer = SphereBandLimit(SCALAR, grid, 6, fit_lmax=6, dtype=torch.float64)
    P = layer(torch.eye(grid.npix, dtype=torch.float64).unsqueeze(1)).squeeze(1)  # row i: P e_i
    assert (P - P.T).abs().max() < 1e-12 and (P @ P - P).abs().max() < 1e-12
    assert abs(torch.trace(P).item() - 49) < 1e-9  # rank (L + 1)^2
    # healpy: analysis of a degree-16 map (iterated), truncation to l <= 6 by a step filter, synthesis
    f = bandlimited_field(SCALAR, grid, 16, batch=1)
    alm = hp.map2alm(f[0, 0].numpy(), lmax=16, iter=20)
    ref = hp.alm2map(hp.almxfl(alm, (np.arange(17) <= 6).astype(float)), 8, lmax=16)
    ours = SphereBandLimit(SCALAR, grid, 6, dtype=torch.float64)(f)[0, 0].numpy()
    assert np.abs(ours - ref).max() < 1e-6 * np.abs(ref).max()


def test_module_behaviour():
    grid = HealpixGrid(4, nest=True)
    layer = SphereBandLimit(FT, grid, 3, out_grid=grid.coarsen())
    assert layer.state_dict() == {} and len(list(layer.parameters())) == 0
    f = torch.randn(2, FT.dim, grid.npix, dtype=torch.float64)
    out = layer(f)  # a float32 module follows the input's dtype
    assert out.shape == (2, FT.dim, grid.npix // 4) and out.dtype == torch.float64
    twin = copy.deepcopy(layer).double()
    assert torch.allclose(twin(f), out, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(f.float()).isfinite().all()
    f.requires_grad_(True)
    layer(f).square().sum().backward()
    assert f.grad is not None and f.grad.isfinite().all()


def test_bad_input():
    grid = HealpixGrid(4)
    with pytest.raises(ValueError, match=r"lmax must be <= 2 nside = 8"):
        SphereBandLimit(SCALAR, grid, 9)
    with pytest.raises(ValueError, match="fit_lmax"):
        SphereBandLimit(SCALAR, grid, 4, fit_lmax=3)
    with pytest.raises(TypeError, match="HealpixGrid"):
        SphereBandLimit(SCALAR, grid, 2, out_grid=16)
    with pytest.raises(TypeError, match="FieldType over SO\\(3\\) -> S\\^2"):
        SphereBandLimit(r3_field_type((0, 1)), grid, 2)
    with pytest.raises(ValueError, match=r"\(batch, 1, 192\)"):
        SphereBandLimit(SCALAR, grid, 2)(torch.zeros(1, 1, 48))


def test_band_limited_classifier_stays_invariant_after_training():
    """A classifier trained on random labels (nside 8, white inputs of degree <= 16): with spectral pooling its
    logits move by under 1 % under random rotations, with mean pooling by several times more (measured: median
    0.84 % and 3.1 % after 20 steps; 1.0 % and 8.4 % after 30 steps with three levels)."""
    grid = HealpixGrid(8, nest=True)
    x = bandlimited_field(SCALAR, grid, 16, batch=16, seed=0)
    labels = torch.randint(0, 3, (16,), generator=torch.Generator().manual_seed(0))
    pi, rotations = InducedRepresentation(SCALAR, grid), SO3.sample((3,), seed=1, dtype=torch.float64)
    medians = {}
    for band_limit in (None, 0.5):
        torch.manual_seed(0)
        model = SphericalClassifier(SCALAR, grid, 3, widths=((4, 2), (6, 3)), band_limit=band_limit, dtype=torch.float64)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(20):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), labels).backward()
            opt.step()
        medians[band_limit] = invariance_report(model.eval(), x, rotations, pi).median
    assert medians[0.5] < 0.015 and medians[None] > 2.5 * medians[0.5], medians


def test_classifier_band_limit_option():
    grid = HealpixGrid(4, nest=True)
    model = SphericalClassifier(SCALAR, grid, 2, widths=((2, 1), (2, 1)))
    kinds = [type(m).__name__ for m in model.features]
    assert kinds == ["SphereBandLimit", "SphereBlock", "SphereBandLimit", "SphereBlock", "SphereBandLimit"]
    assert [m.lmax for m in model.features if isinstance(m, SphereBandLimit)] == [4, 1, 1]
    assert "SpherePool" in [type(m).__name__ for m in SphericalClassifier(SCALAR, grid, 2, band_limit=None).features]
    for bad in (0, 1.5, "half"):
        with pytest.raises((ValueError, TypeError), match="band_limit"):
            SphericalClassifier(SCALAR, grid, 2, band_limit=bad)


def test_review_findings():
    """Integer dtypes are refused (they made every matrix entry 0), the classifier follows its input's dtype like
    its layers, and names a missing grid."""
    grid = HealpixGrid(4, nest=True)
    with pytest.raises(TypeError, match="floating-point dtype"):
        SphereBandLimit(SCALAR, grid, 2, dtype=torch.int64)
    model = SphericalClassifier(SCALAR, grid, 3, widths=((2, 1),))
    x = torch.randn(2, 1, grid.npix, dtype=torch.float64)
    out = model(x)
    assert out.dtype == torch.float64 and torch.allclose(out.float(), model(x.float()), atol=1e-4)
    with pytest.raises(TypeError, match="grid must be a HealpixGrid"):
        SphericalClassifier(SCALAR, None, 3)
    with pytest.raises(ValueError, match="or None for mean pooling"):
        SphericalClassifier(SCALAR, grid, 3, band_limit=float("nan"))


def test_block_gating_on_a_finer_grid():
    """SphereBlock(gate_grid=...): conv and batch norm on the block's grid, the gate on the finer one; exact
    under the grid symmetries (of both grids), and on band-limited inputs equivariant under any rotation to the
    accuracy of the convolution at that degree. Without the degree cut the gate would act on whatever the
    convolution put above its input's degree (its discretization error)."""
    from fiberconv.nn.sphere import SphereBlock

    grid, fine = HealpixGrid(4, nest=True), HealpixGrid(8, nest=False)
    ft = sphere_field_type((0, 2), (1, 1))
    block = SphereBlock(ft, grid, 3, 2, gate_grid=fine, gate_lmax=2, dtype=torch.float64).eval()
    assert block.out_grid == fine and block.resample.lmax == 2
    f = bandlimited_field(ft, grid, 2, batch=2, seed=3)
    out = block(f)
    assert out.shape == (2, block.out_type.dim, fine.npix)
    check = EquivarianceChecker(ft, grid, block.out_type, fine)
    for g in grid.symmetries(dtype=torch.float64):
        assert check(block, f, g) < 1e-12
    # what a classifier keeps of the gate's output (its projection onto degree 1 of the next level) commutes
    # with rotations ~10x better when the gate acts on the finer grid (measured 5e-4 against 5e-3)
    rotations, coarse = SO3.sample((3,), seed=4, dtype=torch.float64), grid.coarsen()
    f = bandlimited_field(ft, grid, 2, batch=4, seed=3)
    errs = {}
    for gate_grid in (fine, None):
        torch.manual_seed(0)
        b = SphereBlock(ft, grid, 3, 2, gate_grid=gate_grid, gate_lmax=gate_grid and 2, dtype=torch.float64).eval()
        with torch.no_grad():
            b.conv.weight.mul_(3)  # a trained block's gates are far from linear
        pooled = torch.nn.Sequential(b, SphereBandLimit(b.out_type, b.out_grid, 1, coarse, dtype=torch.float64))
        errs[gate_grid] = max(EquivarianceChecker(ft, grid, b.out_type, coarse, lmax=4).errors(pooled, f, rotations))
    assert errs[fine] < 2e-3 and errs[None] > 4 * errs[fine], errs
    assert SphereBlock(ft, grid, 3, 2, gate_grid=grid).resample is None  # its own grid: nothing to resample
    with pytest.raises(TypeError, match="gate_grid must be a HealpixGrid"):
        SphereBlock(ft, grid, 3, 2, gate_grid=8)


def test_classifier_nonlinearity_nside():
    """Levels coarser than nonlinearity_nside gate on that grid; the spectral pooling after them reads it there,
    and the last projection (before the invariant pooling) stays on it."""
    grid = HealpixGrid(8, nest=True)
    model = SphericalClassifier(SCALAR, grid, 2, widths=((2, 1), (2, 1), (2, 1)), nonlinearity_nside=8)
    blocks = [m for m in model.features if type(m).__name__ == "SphereBlock"]
    assert [(b.grid.nside, b.out_grid.nside) for b in blocks] == [(8, 8), (4, 8), (2, 8)]
    limits = [m for m in model.features if isinstance(m, SphereBandLimit)]
    assert [(m.grid.nside, m.out_grid.nside, m.lmax) for m in limits] == [(8, 8, 8), (8, 4, 2), (8, 2, 1), (8, 8, 1)]
    assert model(torch.randn(2, 1, grid.npix)).shape == (2, 2)
    plain = SphericalClassifier(SCALAR, grid, 2, widths=((2, 1), (2, 1)), nonlinearity_nside=None)
    assert all(m.out_grid == m.grid for m in plain.features if type(m).__name__ == "SphereBlock")
    for bad, err in ((0, ValueError), (6, ValueError), ("8", TypeError)):
        with pytest.raises(err, match="nonlinearity_nside"):
            SphericalClassifier(SCALAR, grid, 2, nonlinearity_nside=bad)


def test_review_findings_gating():
    """gate_grid must be finer and gate_lmax is checked by the block (naming it); nonlinearity_nside is bounded by
    the input's nside and stored; FieldBatchNorm's synced statistics stay accurate for channels with a large mean,
    old pickles (without the layout buffers) still run, and eps/momentum are checked."""
    from fiberconv.nn import FieldBatchNorm
    from fiberconv.nn.sphere import SphereBlock

    ft, g4 = sphere_field_type((0, 2), (1, 1)), HealpixGrid(4, nest=True)
    for coarse in (HealpixGrid(2, nest=True), HealpixGrid(4, nest=False)):
        with pytest.raises(ValueError, match="gate_grid must be finer"):
            SphereBlock(ft, g4, 3, 2, gate_grid=coarse)
    with pytest.raises(ValueError, match="gate_lmax.*needs a gate_grid"):
        SphereBlock(ft, g4, 3, 2, gate_lmax=2)
    with pytest.raises(ValueError, match="SphereBlock: gate_lmax must be an int from 0 to 2 nside = 8"):
        SphereBlock(ft, g4, 3, 2, gate_grid=HealpixGrid(8, nest=True), gate_lmax=9)
    with pytest.raises(ValueError, match=r"nonlinearity_nside must be a power of two <= max\(8, 2 nside\) = 16"):
        SphericalClassifier(SCALAR, HealpixGrid(8, nest=True), 2, nonlinearity_nside=32)
    assert SphericalClassifier(SCALAR, HealpixGrid(8, nest=True), 2, nonlinearity_nside=4).nonlinearity_nside == 4

    bn = FieldBatchNorm(ft).double()
    for name in ("field_channels", "channel_field", "field_dim"):  # as unpickled from an earlier version
        del bn.fields._buffers[name]
    x = torch.randn(4, ft.dim, 48, dtype=torch.float64)
    y = bn(x)
    assert torch.allclose(y[:, :2].mean((0, 2)), torch.zeros(2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose((y[:, 2:] ** 2).sum(1).mean() / 2, torch.tensor(1.0, dtype=torch.float64), atol=1e-4)
    for bad in (dict(eps=0.0), dict(momentum=None), dict(momentum=1.5)):
        with pytest.raises((ValueError, TypeError), match="FieldBatchNorm: (eps|momentum) must be"):
            FieldBatchNorm(ft, **bad)


def test_classifier_strided_convolutions():
    """strided=True: a level's convolution writes only the coarsest grid with nside >= its input's band limit,
    and the block resamples that onto the gate grid. In the continuum nothing changes (a degree-L input gives
    a degree-L output), so with the same weights the logits agree with the unstrided model's to the
    convolutions' discretization error, and the grid symmetries stay exact."""
    grid = HealpixGrid(8, nest=True)
    kw = dict(widths=((2, 1), (3, 1), (3, 1)), dtype=torch.float64)
    torch.manual_seed(0)
    strided = SphericalClassifier(SCALAR, grid, 3, **kw).eval()
    plain = SphericalClassifier(SCALAR, grid, 3, strided=False, **kw).eval()
    plain.load_state_dict(strided.state_dict())
    blocks = [m for m in strided.features if type(m).__name__ == "SphereBlock"]
    # band limits 8, 2, 1 on nside 8, 4, 2: convolution outputs on nside 8, 2, 1; the gates all on nside 8
    assert [(b.grid.nside, b.conv.out_grid.nside, b.out_grid.nside) for b in blocks] == [(8, 8, 8), (4, 2, 8), (2, 1, 8)]
    assert all(b.conv.out_grid == b.grid for b in plain.features if type(b).__name__ == "SphereBlock")
    f = bandlimited_field(SCALAR, grid, 6, batch=3, seed=1)
    a, b = strided(f), plain(f)
    assert (a - b).norm() < 1e-3 * b.norm(), float((a - b).norm() / b.norm())
    check = EquivarianceChecker(SCALAR, grid, None)
    for g in grid.symmetries(dtype=torch.float64):
        assert check(strided, f, g) < 1e-12
    # without a band limit there is nothing to stride to
    assert not SphericalClassifier(SCALAR, grid, 3, band_limit=None).strided
    with pytest.raises(TypeError, match="strided must be a bool"):
        SphericalClassifier(SCALAR, grid, 3, strided=1)


def test_channel_order_and_old_pickles():
    """Field types whose frequency groups interleave (vector, scalar, vector) take the gather path and give
    the per-channel result of the grouped type; a module pickled when ``order`` was always a tensor still runs."""
    grid = HealpixGrid(4, nest=True)
    mixed, grouped = sphere_field_type((1, 1), (0, 1), (1, 1)), sphere_field_type((0, 1), (1, 2))
    a = SphereBandLimit(mixed, grid, 3, grid.coarsen(), dtype=torch.float64)
    b = SphereBandLimit(grouped, grid, 3, grid.coarsen(), dtype=torch.float64)
    assert a.order is not None and b.order is None  # grouped: slices and one cat
    perm = torch.tensor([1, 2, 0, 3, 4])  # mixed channel i is grouped channel perm[i]
    f = torch.randn(2, 5, grid.npix, dtype=torch.float64)
    g = torch.empty_like(f)
    g[:, perm] = f
    assert torch.allclose(a(f), b(g)[:, perm], atol=1e-13)
    old = copy.deepcopy(b)
    old.order = torch.arange(5)  # as unpickled from an earlier version
    assert torch.allclose(old(g), b(g), atol=1e-13)


def test_models_refuse_per_level_settings():
    """stride, geometry and the gate grid are set by the models for each level: passing them is a TypeError
    naming the argument (not Python's 'multiple values' error, nor silently ignored)."""
    from fiberconv.nn import SphericalUNet

    grid = HealpixGrid(4, nest=True)
    for kw in (dict(stride=2), dict(gate_lmax=1)):
        with pytest.raises(TypeError, match=f"SphericalClassifier: {next(iter(kw))} is set by the model"):
            SphericalClassifier(SCALAR, grid, 3, **kw)
    with pytest.raises(TypeError, match="SphericalUNet: stride is set by the model"):
        SphericalUNet(SCALAR, VECTOR, grid, widths=((2, 1),), stride=2)

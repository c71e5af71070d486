import math

import healpy as hp
import numpy as np
import pytest
import torch

from fiberconv.spaces.groups import SO3, rot_y, rot_z
from fiberconv.spaces.healpix import HealpixGrid

NSIDES = [1, 2, 4, 8, 16]
NEST = [False, True]


# -- construction -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, 3, 6, -2, 12])
def test_nside_must_be_power_of_two(bad):
    with pytest.raises(ValueError, match=f"power of two, got {bad}"):
        HealpixGrid(bad)


@pytest.mark.parametrize("bad", [True, 2.0, "4", None])
def test_nside_must_be_int(bad):
    with pytest.raises(TypeError, match="nside must be an int"):
        HealpixGrid(bad)


def test_nest_must_be_bool():
    with pytest.raises(TypeError, match="nest must be a bool"):
        HealpixGrid(2, nest="yes")


def test_numpy_int_nside_accepted():
    assert HealpixGrid(np.int64(4)).nside == 4


@pytest.mark.parametrize("nest", NEST)
def test_identity(nest):
    g = HealpixGrid(4, nest)
    assert g.npix == 192 and g.nrings == 15
    assert g.ordering == ("NESTED" if nest else "RING")
    assert repr(g) == f"HealpixGrid(nside=4, nest={nest})"
    assert g == HealpixGrid(4, nest) and hash(g) == hash(HealpixGrid(4, nest))
    assert g != HealpixGrid(4, not nest) and g != HealpixGrid(8, nest)
    assert len({g, HealpixGrid(4, nest), HealpixGrid(2, nest)}) == 2


# -- geometry ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("nside", NSIDES)
@pytest.mark.parametrize("nest", NEST)
def test_angles_and_xyz_match_healpy(nside, nest):
    g = HealpixGrid(nside, nest)
    pix = np.arange(g.npix)
    theta, phi = hp.pix2ang(nside, pix, nest=nest)
    np.testing.assert_array_equal(g.theta.numpy(), theta)
    np.testing.assert_array_equal(g.phi.numpy(), phi)
    xyz = g.xyz()
    assert xyz.shape == (g.npix, 3) and xyz.dtype == torch.float64
    np.testing.assert_allclose(xyz.numpy(), np.stack(hp.pix2vec(nside, pix, nest=nest), -1), atol=1e-15)
    t, p = g.angles()
    direct = torch.stack([torch.sin(t) * torch.cos(p), torch.sin(t) * torch.sin(p), torch.cos(t)], -1)
    assert torch.allclose(direct, xyz, atol=1e-14)
    assert ((t > 0) & (t < math.pi)).all()  # no centre on a pole


def test_theta_is_a_copy():
    g = HealpixGrid(2)
    g.theta.zero_()
    assert g.theta.abs().min() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_device(dtype, device):
    g = HealpixGrid(2, nest=True)
    for t in (g.xyz(dtype, device), g.weights(dtype, device), g.frames(dtype, device), g.sections(dtype, device),
              g.angles(dtype, device)[0], g.ring_theta(dtype, device)):
        assert t.dtype == dtype and t.device.type == device.type


@pytest.mark.parametrize("nside", [1, 4])
def test_weights(nside):
    g = HealpixGrid(nside)
    w = g.weights()
    assert w.shape == (g.npix,)
    assert torch.allclose(w.sum(), torch.tensor(4 * math.pi, dtype=torch.float64))
    assert torch.all(w == w[0])


@pytest.mark.parametrize("nside", [1, 2, 8])
@pytest.mark.parametrize("nest", NEST)
def test_frames_are_the_section_images(nside, nest):
    g = HealpixGrid(nside, nest)
    t, p = g.angles()
    s = rot_z(p) @ rot_y(t)  # s(alpha, beta) = Z(alpha) Y(beta)
    fr = g.frames()
    assert fr.shape == (g.npix, 2, 3)
    assert torch.allclose(fr[:, 0], s[:, :, 0], atol=1e-14)  # e_theta = s e_x
    assert torch.allclose(fr[:, 1], s[:, :, 1], atol=1e-14)  # e_phi = s e_y
    assert torch.allclose(s[:, :, 2], g.xyz(), atol=1e-14)  # s o = x
    assert torch.allclose(g.sections(), s, atol=1e-14)
    # e_theta points south (decreasing z), e_phi east (positive rotation about z)
    assert (fr[:, 0, 2] < 0).all()
    east = torch.cross(torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(g.npix, 3), g.xyz(), dim=-1)
    assert ((fr[:, 1] * east).sum(-1) > 0).all()


# -- neighbourhoods -------------------------------------------------------------------------------
@pytest.mark.parametrize("nside", [1, 2, 4, 8])
@pytest.mark.parametrize("nest", NEST)
@pytest.mark.parametrize("rel_radius", [0.7, 1.9, 3.3])
def test_neighbourhoods_match_query_disc(nside, nest, rel_radius):
    g = HealpixGrid(nside, nest)
    radius = rel_radius * g.resolution
    idx, mask = g.neighbourhoods(radius)
    assert idx.dtype == torch.int64 and mask.dtype == torch.bool
    assert idx.shape == mask.shape and idx.shape[0] == g.npix
    counts = mask.sum(1)
    assert idx.shape[1] == counts.max()
    assert torch.equal(idx[:, 0], torch.arange(g.npix)) and mask[:, 0].all()
    xyz = g.xyz()
    for i in range(g.npix):
        expected = set(hp.query_disc(nside, xyz[i].numpy(), radius, inclusive=False, nest=nest).tolist())
        got = idx[i][mask[i]].tolist()
        assert len(got) == len(set(got)) == len(expected)
        assert set(got) == expected
        # padding repeats the centre; neighbours sorted by distance
        assert (idx[i][~mask[i]] == i).all()
        d = (xyz[idx[i][mask[i]]] - xyz[i]).norm(dim=-1)
        assert (d[1:] >= d[:-1] - 1e-15).all()


@pytest.mark.parametrize("guess", [None, 1, 3])
def test_neighbours_of_matches_brute_force(guess):
    """Arbitrary points, any first guess of the count (1 and 3 force the re-query of short rows)."""
    g = HealpixGrid(4, nest=True)
    pts = torch.nn.functional.normalize(torch.randn(50, 3, generator=torch.Generator().manual_seed(1),
                                                    dtype=torch.float64), dim=-1)
    radius = 2.5 * g.resolution
    idx, mask = g.neighbours_of(pts, radius, guess=guess)
    d = torch.arccos((pts @ g.xyz().T).clamp(-1, 1))  # (50, npix) angular distances
    assert idx.shape[1] == int((d < radius).sum(1).max())
    for i in range(len(pts)):
        assert set(idx[i][mask[i]].tolist()) == set(torch.nonzero(d[i] < radius).view(-1).tolist())
        di = d[i, idx[i][mask[i]]]
        assert (di[1:] >= di[:-1] - 1e-15).all()  # sorted by distance


def test_neighbourhoods_large_radius_is_everything():
    g = HealpixGrid(2)
    idx, mask = g.neighbourhoods(4.0)
    assert mask.all() and idx.shape == (g.npix, g.npix)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_neighbourhoods_bad_radius(bad):
    with pytest.raises(ValueError, match="radius must be a positive finite angle"):
        HealpixGrid(2).neighbourhoods(bad)


def test_neighbourhoods_bad_radius_type():
    with pytest.raises(TypeError, match="radius must be a positive finite angle in radians, got str"):
        HealpixGrid(2).neighbourhoods("0.3")


@pytest.mark.parametrize("nest", NEST)
def test_neighbourhoods_are_symmetric_under_grid_symmetries(nest):
    g = HealpixGrid(8, nest)
    # a radius equal to a centre-to-centre distance: ties must be decided consistently (this one
    # breaks the symmetry if ties are decided by raw floating-point comparison)
    xyz = HealpixGrid(8).xyz()
    radius = float(torch.acos((xyz[100] * xyz[103]).sum().clamp(-1, 1)))
    idx, mask = g.neighbourhoods(radius)
    sets = [set(idx[i][mask[i]].tolist()) for i in range(g.npix)]
    for R in g.symmetries():
        perm = g.symmetry_permutation(R)
        for i in range(g.npix):
            assert {int(perm[j]) for j in sets[i]} == sets[int(perm[i])]


# -- hierarchy --------------------------------------------------------------------------------------
@pytest.mark.parametrize("nside", [2, 4, 8, 16])
@pytest.mark.parametrize("nest", NEST)
def test_parent_and_children(nside, nest):
    g = HealpixGrid(nside, nest)
    c = g.coarsen()
    assert c == HealpixGrid(nside // 2, nest)
    parent = g.parent_indices()
    children = g.child_indices()
    assert parent.shape == (g.npix,) and children.shape == (c.npix, 4)
    # the parent contains the child's centre
    t, p = g.angles()
    np.testing.assert_array_equal(parent.numpy(), hp.ang2pix(c.nside, t.numpy(), p.numpy(), nest=nest))
    # children partition the fine grid and point back to their parent
    assert torch.equal(torch.sort(children.reshape(-1)).values, torch.arange(g.npix))
    assert torch.equal(parent[children], torch.arange(c.npix)[:, None].expand(-1, 4))
    # the parent's centre is the closest coarse centre to the mean of its children's centres
    mean = g.xyz()[children].mean(1)
    assert torch.equal((mean @ c.xyz().T).argmax(1), torch.arange(c.npix))
    if nest:
        assert torch.equal(parent, torch.arange(g.npix) // 4)


def test_coarsen_nside1_raises():
    with pytest.raises(ValueError, match="nside=1"):
        HealpixGrid(1, nest=True).coarsen()


# -- rings and reordering ---------------------------------------------------------------------------
@pytest.mark.parametrize("nside", NSIDES)
@pytest.mark.parametrize("nest", NEST)
def test_ring_structure(nside, nest):
    g = HealpixGrid(nside, nest)
    ring, pos = g.ring_index(), g.ring_position()
    npr, start = g.ring_npix(), g.ring_start()
    assert int(npr.sum()) == g.npix and len(npr) == 4 * nside - 1
    assert torch.equal(npr, npr.flip(0))  # north/south symmetric
    assert torch.allclose(g.ring_theta()[ring], g.theta, atol=1e-14, rtol=0)
    phi = g.ring_phi0()[ring] + 2 * math.pi * pos.double() / npr[ring].double()
    assert torch.allclose(phi, g.phi, atol=1e-12, rtol=0)
    ring_pix = start[ring] + pos  # RING index of each pixel
    expected = np.arange(g.npix) if not nest else hp.nest2ring(nside, np.arange(g.npix))
    np.testing.assert_array_equal(ring_pix.numpy(), expected)
    assert (g.ring_theta()[1:] > g.ring_theta()[:-1]).all()


@pytest.mark.parametrize("nside", [1, 4, 8])
@pytest.mark.parametrize("nest", NEST)
def test_reordering(nside, nest):
    g = HealpixGrid(nside, nest)
    f = torch.randn(3, g.npix, dtype=torch.float64)
    f_ring = g.to_ring(f)
    f_nest = f[..., g.to_nest_permutation()]
    if nest:
        np.testing.assert_array_equal(f_ring.numpy(), hp.reorder(f.numpy(), n2r=True))
        assert torch.equal(f_nest, f)
    else:
        assert torch.equal(f_ring, f)
        np.testing.assert_array_equal(f_nest.numpy(), hp.reorder(f.numpy(), r2n=True))
    assert torch.equal(g.from_ring(f_ring), f)
    assert torch.equal(f_ring[..., g.from_ring_permutation()], f)
    assert torch.equal(f_nest[..., g.from_nest_permutation()], f)
    with pytest.raises(ValueError, match="N_pix"):
        g.to_ring(torch.zeros(g.npix + 1))


# -- symmetries -------------------------------------------------------------------------------------
def test_symmetries_form_the_dihedral_group():
    S = HealpixGrid.symmetries()
    assert S.shape == (8, 3, 3) and S.dtype == torch.float64
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(S @ S.transpose(-1, -2), eye.expand(8, 3, 3))
    assert torch.allclose(torch.linalg.det(S), torch.ones(8, dtype=torch.float64))
    keys = {tuple(m.round().int().reshape(-1).tolist()) for m in S}
    assert len(keys) == 8
    for a in S:
        for b in S:
            assert tuple((a @ b).round().int().reshape(-1).tolist()) in keys
    assert torch.allclose(S[1], rot_z(torch.tensor(math.pi / 2, dtype=torch.float64)), atol=1e-15)


@pytest.mark.parametrize("nside", NSIDES)
@pytest.mark.parametrize("nest", NEST)
def test_symmetry_permutations_are_exact(nside, nest):
    g = HealpixGrid(nside, nest)
    xyz = g.xyz()
    for R in g.symmetries():
        perm = g.symmetry_permutation(R)
        assert perm.dtype == torch.int64
        assert torch.equal(torch.sort(perm).values, torch.arange(g.npix))
        assert (xyz @ R.T - xyz[perm]).abs().max() < 1e-12
    # composition: perm(R1 R2) = perm(R1)[perm(R2)]
    S = g.symmetries()
    for i, j in [(1, 5), (6, 3), (4, 4)]:
        assert torch.equal(g.symmetry_permutation(S[i] @ S[j]), g.symmetry_permutation(S[i])[g.symmetry_permutation(S[j])])


@pytest.mark.parametrize("nest", NEST)
def test_non_symmetry_raises(nest):
    g = HealpixGrid(4, nest)
    with pytest.raises(ValueError, match="not a symmetry"):
        g.symmetry_permutation(SO3.sample(seed=0, dtype=torch.float64))
    with pytest.raises(ValueError, match="not a symmetry"):
        g.symmetry_permutation(rot_z(torch.tensor(math.pi / 4, dtype=torch.float64)))
    with pytest.raises(ValueError, match="3x3"):
        g.symmetry_permutation(torch.eye(4))


def test_symmetry_permutation_accepts_numpy_and_float32():
    g = HealpixGrid(2)
    R = HealpixGrid.symmetries()[5]
    assert torch.equal(g.symmetry_permutation(R.numpy()), g.symmetry_permutation(R.float()))


def test_nside_limits_are_clear(monkeypatch):
    """Issue 14: HealpixGrid(2**31) raised numpy's "Maximum allowed size exceeded"; HealpixGrid(4096)
    allocated until memory ran out."""
    import fiberconv.spaces.healpix as hpx

    with pytest.raises(ValueError, match=r"nside must be at most 8192 \(2\*\*13\), got 2147483648: .* GiB"):
        HealpixGrid(2**31)
    monkeypatch.setattr(hpx, "_available_memory", lambda: 2 * 2**30)
    with pytest.raises(MemoryError, match=r"nside = 4096 needs about 22.5 GiB .* only 2 GiB are available"):
        HealpixGrid(4096)
    HealpixGrid(8)

"""Real Wigner-D matrices: the defining identity Y(R x) = D(R) Y(x), closed forms, homomorphism and
orthogonality up to l = 128 (also at gimbal lock), lie_learn as an independent reference, batching,
dtypes, gradients and input errors."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import fiberconv.spaces.wigner as wigner_module
from fiberconv.spaces.groups import SO3, rot_y, rot_z
from fiberconv.spaces.harmonics import real_sph_harm_xyz
from fiberconv.spaces.wigner import WignerD, real_j_matrix, real_y_generator, wigner_D, wigner_D_euler

F64 = torch.float64
P = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=F64)  # (x, y, z) -> (y, z, x)
Q = P.clone()  # e_x -> e_z, e_y -> e_x, e_z -> e_y (the same matrix)


def maxerr(a, b):
    return (a - b).abs().max().item()


def gimbal_rotations():
    """Rotations at and near beta = 0 and beta = pi, as matrices, plus their ZYZ angles."""
    beta = torch.tensor([0.0, 1e-12, 1e-8, 1e-5, math.pi - 1e-5, math.pi - 1e-8, math.pi - 1e-12, math.pi], dtype=F64)
    alpha = torch.linspace(-3.0, 3.0, len(beta), dtype=F64)
    gamma = torch.linspace(2.5, -2.0, len(beta), dtype=F64)
    return SO3.from_euler(alpha, beta, gamma), (alpha, beta, gamma)


def test_degree_0_and_1_closed_forms():
    R = SO3.sample((4, 5), seed=0, dtype=F64)
    d = WignerD(1).blocks(R)
    assert d[0].shape == (4, 5, 1, 1) and d[1].shape == (4, 5, 3, 3)
    assert maxerr(d[0], torch.ones(())) == 0.0
    assert maxerr(d[1], P @ R @ P.T) < 1e-14
    assert maxerr(wigner_D(1, R), P @ R @ P.T) < 1e-14
    Rg, angles = gimbal_rotations()
    assert maxerr(wigner_D(1, Rg), P @ Rg @ P.T) < 1e-14
    assert maxerr(wigner_D_euler(1, *angles), P @ Rg @ P.T) < 1e-14
    assert maxerr(wigner_D(0, Rg), torch.ones(())) < 1e-15


@pytest.fixture(scope="module")
def w16():
    return WignerD(16)


@pytest.fixture(scope="module")
def w128():
    return WignerD(128)


def check_definition(w, R, tol=1e-10):
    """Y_l(R x) == D^l(R) Y_l(x) at random unit x, every degree."""
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    x = x / x.norm(dim=-1, keepdim=True)
    y = real_sph_harm_xyz(w.lmax, x)  # (P, n)
    y_rot = real_sph_harm_xyz(w.lmax, torch.einsum("...ij,pj->...pi", R, x))  # (..., P, n)
    full = torch.einsum("...ij,pj->...pi", w.matrix(R), y)
    assert maxerr(full, y_rot) < tol


def test_definition_haar_and_gimbal(w16):
    check_definition(w16, SO3.sample(6, seed=2, dtype=F64))
    check_definition(w16, gimbal_rotations()[0])


@settings(max_examples=25, deadline=None)
@given(
    st.floats(-10.0, 10.0), st.floats(0.0, math.pi), st.floats(-10.0, 10.0),
)
def test_definition_euler_hypothesis(w16, alpha, beta, gamma):
    a, b, g = (torch.tensor(t, dtype=F64) for t in (alpha, beta, gamma))
    R = SO3.from_euler(a, b, g)
    check_definition(w16, R)
    for d_e, d_m in zip(w16.blocks_euler(a, b, g), w16.blocks(R)):
        assert maxerr(d_e, d_m) < 1e-12


def check_homomorphism(blocks, R1, R2, ls, tol):
    """D(R1 R2) = D(R1) D(R2), D D^T = I and D(R^T) = D(R)^T at every degree in ls."""
    b1, b2, b12, b1inv = blocks(R1), blocks(R2), blocks(R1 @ R2), blocks(R1.transpose(-1, -2))
    for l in ls:
        d1, d2, d12 = b1[l], b2[l], b12[l]
        eye = torch.eye(2 * l + 1, dtype=F64)
        assert maxerr(d12, d1 @ d2) < tol, l
        assert maxerr(d1 @ d1.transpose(-1, -2), eye) < tol, l
        assert maxerr(b1inv[l], d1.transpose(-1, -2)) < tol, l


def test_homomorphism_orthogonality_up_to_16(w16):
    R1, R2 = SO3.sample(10, seed=3, dtype=F64), SO3.sample(10, seed=4, dtype=F64)
    check_homomorphism(w16.blocks, R1, R2, range(17), 1e-12)
    Rg = gimbal_rotations()[0]
    check_homomorphism(w16.blocks, Rg, R1[: len(Rg)], range(17), 1e-12)
    check_homomorphism(w16.blocks, R1[: len(Rg)], Rg, range(17), 1e-12)
    check_homomorphism(w16.blocks, Rg, Rg.flip(0), range(17), 1e-12)
    # the Euler path agrees with the matrix path at (and near) gimbal lock
    Rg, angles = gimbal_rotations()
    for d_e, d_m in zip(w16.blocks_euler(*angles), w16.blocks(Rg)):
        assert maxerr(d_e, d_m) < 1e-12


def test_homomorphism_orthogonality_high_degree(w128):
    R1, R2 = SO3.sample(2, seed=5, dtype=F64), SO3.sample(2, seed=6, dtype=F64)
    Rg = gimbal_rotations()[0][[0, 2, 5, 7]]
    R1, R2 = torch.cat([R1, Rg[:2]]), torch.cat([Rg[2:], R2])
    check_homomorphism(w128.blocks, R1, R2, [64, 128], 1e-12)
    for l in (64, 128):
        assert maxerr(w128.J[l] @ w128.J[l].T, torch.eye(2 * l + 1, dtype=F64)) < 1e-13


def test_j_is_d_of_q_and_generator(w16):
    """J_l = D^l(Q) (so J^3 = I), and d/dbeta D(0, beta, 0) at 0 is the closed-form G_y."""
    for l, j in enumerate(w16.J):
        assert maxerr(w16.blocks(Q)[l], j) < 1e-13
        assert maxerr(j @ j @ j, torch.eye(2 * l + 1, dtype=F64)) < 1e-13
    for l in (1, 2, 5):
        zero = torch.zeros((), dtype=F64)
        jac = torch.autograd.functional.jacobian(lambda b: wigner_D_euler(l, zero, b, zero), zero)
        assert maxerr(jac, torch.from_numpy(real_y_generator(l))) < 1e-12
    assert maxerr(torch.from_numpy(real_j_matrix(7)), w16.J[7]) == 0.0


def test_dense_and_j_routes_agree(w16, monkeypatch):
    """For l <= 16, d(beta) comes from precomputed C_k, S_k; above from (J X(beta)) J^T. Same result."""
    R = torch.cat([SO3.sample(5, seed=14, dtype=F64), gimbal_rotations()[0]])
    angles = SO3.to_euler(R)
    monkeypatch.setattr(wigner_module, "_DENSE_LMAX", -1)
    w_j = WignerD(16)
    assert w_j.W == [] and len(w16.W) == 17
    for a, b in zip(w16.blocks(R), w_j.blocks(R)):
        assert maxerr(a, b) < 1e-13
    for a, b in zip(w16.blocks_euler(*angles), w_j.blocks_euler(*angles)):
        assert maxerr(a, b) < 1e-13
    assert maxerr(wigner_D(5, R), w16.blocks(R)[5]) < 1e-13  # the functional, now on the J route
    args = [t[:2].clone().requires_grad_() for t in angles]
    assert torch.autograd.gradcheck(lambda a, b, g: tuple(w_j.blocks_euler(a, b, g)[:4]), args)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 10),
    st.floats(-2 * math.pi, 4 * math.pi),
    st.floats(0.0, math.pi),
    st.floats(-2 * math.pi, 4 * math.pi),
)
def test_lie_learn_agreement(l, alpha, beta, gamma):
    """lie_learn 0.0.2's real D (field='real', normalization='quantum', order='centered', default
    condon_shortley='cs') at (alpha, beta, gamma) equals D^l(Z(alpha) Y(beta) Z(gamma)) exactly:
    the change of basis is the identity (S = I, R' = R)."""
    wd = pytest.importorskip("lie_learn.representations.SO3.wigner_d")
    ref = wd.wigner_D_matrix(l, alpha, beta, gamma, field="real", normalization="quantum", order="centered")
    a, b, g = (torch.tensor(t, dtype=F64) for t in (alpha, beta, gamma))
    np.testing.assert_allclose(wigner_D_euler(l, a, b, g).numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(wigner_D(l, SO3.from_euler(a, b, g)).numpy(), ref, atol=1e-12)


def test_batched_shapes_and_matrix():
    w = WignerD(3)
    R = SO3.sample((2, 3, 4), seed=7, dtype=F64)
    blocks = w.blocks(R)
    assert [b.shape for b in blocks] == [(2, 3, 4, 2 * l + 1, 2 * l + 1) for l in range(4)]
    flat = w.blocks(R.reshape(-1, 3, 3))
    for b, f in zip(blocks, flat):
        assert maxerr(b.reshape(f.shape), f) == 0.0
    M = w.matrix(R)
    assert M.shape == (2, 3, 4, 16, 16)
    for l, b in enumerate(blocks):
        s = slice(l * l, (l + 1) ** 2)
        assert maxerr(M[..., s, s], b) == 0.0
        M[..., s, s] = 0
    assert M.abs().max().item() == 0.0
    # Euler angles broadcast; floats are accepted
    a = torch.rand(2, 1, dtype=F64)
    bg = torch.rand(5, dtype=F64)
    be = w.blocks_euler(a, bg, 0.3)
    assert be[2].shape == (2, 5, 5, 5)
    assert maxerr(be[2], w.blocks(SO3.from_euler(a, bg, torch.tensor(0.3, dtype=F64)))[2]) < 1e-13
    assert w.blocks_euler(0.1, 0.2, 0.3)[3].shape == (7, 7)
    assert wigner_D(2, torch.eye(3, dtype=F64)).shape == (5, 5)
    assert w.blocks(torch.zeros(0, 3, 3, dtype=F64))[3].shape == (0, 7, 7)


def test_rotate_coefficients_rotates_functions():
    """f = c . Y rotated as f(R^-1 x) has coefficients D(R) c; leading dims broadcast."""
    L = 6
    w = WignerD(L)
    gen = torch.Generator().manual_seed(8)
    c = torch.randn(3, 2, w.dim, generator=gen, dtype=F64)
    x = torch.randn(40, 3, generator=gen, dtype=F64)
    x = x / x.norm(dim=-1, keepdim=True)
    R = SO3.sample((), seed=9, dtype=F64)
    rc = w.rotate_coefficients(R, c)
    assert rc.shape == (3, 2, w.dim)
    lhs = rc @ real_sph_harm_xyz(L, x).T
    rhs = c @ real_sph_harm_xyz(L, x @ R).T  # rows of x @ R are R^T x
    assert maxerr(lhs, rhs) < 1e-12
    Rb = SO3.sample((3, 1), seed=10, dtype=F64)
    rb = w.rotate_coefficients(Rb, c)
    assert rb.shape == (3, 2, w.dim)
    for i in range(3):
        assert maxerr(rb[i], w.rotate_coefficients(Rb[i, 0], c[i])) < 1e-13
    one_c = torch.stack([w.rotate_coefficients(Rb[i, 0], c[0, 0]) for i in range(3)])[:, None]
    assert maxerr(w.rotate_coefficients(Rb, c[0, 0]), one_c) < 1e-13
    # at and near gimbal lock (the factorised path switches charts there) it matches D(R) c
    Rg = torch.cat([gimbal_rotations()[0], SO3.sample(4, seed=11, dtype=F64)])
    cg = torch.randn(len(Rg), 2, w.dim, generator=gen, dtype=F64)
    expect = (w.matrix(Rg)[:, None] @ cg.unsqueeze(-1)).squeeze(-1)
    assert maxerr(w.rotate_coefficients(Rg[:, None], cg), expect) < 1e-13
    for i in range(len(Rg)):
        assert maxerr(w.rotate_coefficients(Rg[i], cg[i]), expect[i]) < 1e-13


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes_and_devices(dtype, device):
    w64 = WignerD(8)
    R = SO3.sample(20, seed=11, dtype=F64)
    ref = w64.blocks(R)
    for w in (w64, w64.to(dtype=dtype, device=device)):  # converted on the fly / ahead of time
        out = w.blocks(R.to(dtype=dtype, device=device))
        tol = 1e-12 if dtype == F64 else 2e-5
        for o, r in zip(out, ref):
            assert o.dtype == dtype and o.device.type == device.type
            assert maxerr(o.cpu().double(), r) < tol
        a, b, g = (t.to(dtype=dtype, device=device) for t in SO3.to_euler(R))
        for o, r in zip(w.blocks_euler(a, b, g), ref):
            assert o.dtype == dtype and maxerr(o.cpu().double(), r) < tol
    assert w64.dtype == F64 and w64.device.type == "cpu"
    w32 = WignerD(2, dtype=torch.float32)
    assert w32.J[2].dtype == torch.float32 and w32.to(dtype=F64).J[2].dtype == F64
    assert repr(w32) == "WignerD(lmax=2, dtype=torch.float32, device=cpu)"


def test_gradcheck_euler_matrix_and_rotate():
    w = WignerD(3)
    gen = torch.Generator().manual_seed(12)
    angles = [torch.rand(2, generator=gen, dtype=F64).requires_grad_() for _ in range(3)]
    assert torch.autograd.gradcheck(lambda a, b, g: tuple(w.blocks_euler(a, b, g)), angles)
    zero = torch.zeros(2, dtype=F64, requires_grad=True)  # beta = 0: the Euler path stays smooth
    assert torch.autograd.gradcheck(lambda b: tuple(w.blocks_euler(angles[0], b, angles[2])), (zero,))
    R = SO3.sample(3, seed=13, dtype=F64).requires_grad_()
    # derivatives with respect to the raw entries: finite differences leave SO(3), so no value check
    assert torch.autograd.gradcheck(lambda r: tuple(w.blocks(r, check=False)), (R,))
    # through exp at the identity (gimbal-locked) and near beta = pi: gradients stay exact
    for v in (torch.zeros(2, 3, dtype=F64), torch.tensor([[0.0, math.pi - 1e-3, 0.0], [1e-9, 0.0, 0.5]], dtype=F64)):
        assert torch.autograd.gradcheck(lambda v: tuple(w.blocks(SO3.exp(v))), (v.requires_grad_(),))
    c = torch.randn(2, w.dim, generator=gen, dtype=F64, requires_grad=True)
    v = torch.randn(3, generator=gen, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v, c: w.rotate_coefficients(SO3.exp(v), c), (v, c))
    v0 = torch.zeros(2, 1, 3, dtype=F64, requires_grad=True)  # identity: the near-lock chart
    assert torch.autograd.gradcheck(lambda v, c: w.rotate_coefficients(SO3.exp(v), c), (v0, c))
    assert torch.autograd.gradcheck(lambda r: w.matrix(r, check=False), (R,))


def test_bad_input():
    R = SO3.sample(2, seed=0, dtype=F64)
    with pytest.raises(ValueError, match="non-negative int"):
        wigner_D(-1, R)
    with pytest.raises(TypeError, match="non-negative int"):
        wigner_D(1.5, R)
    with pytest.raises(TypeError, match="non-negative int"):
        WignerD(True)
    with pytest.raises(ValueError, match=r"lmax must be a non-negative int"):
        WignerD(-2)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3, 3\)"):
        wigner_D(1, torch.zeros(3, 4, dtype=F64))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3, 3\)"):
        WignerD(1).blocks(torch.zeros(3, dtype=F64))
    with pytest.raises(TypeError, match="floating dtype"):
        WignerD(1).blocks(torch.eye(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        wigner_D(1, np.eye(3))
    with pytest.raises(TypeError, match="floating torch.dtype"):
        WignerD(1, dtype=torch.int32)
    with pytest.raises(TypeError, match="floating dtype"):
        wigner_D_euler(1, torch.tensor(1), 0.0, 0.0)
    with pytest.raises(TypeError, match="tensors or floats"):
        WignerD(1).blocks_euler("a", 0.0, 0.0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 16\).*lmax=3"):
        WignerD(3).rotate_coefficients(R, torch.zeros(2, 9, dtype=F64))
    with pytest.raises(TypeError, match="dtype"):
        WignerD(1).rotate_coefficients(R, torch.zeros(2, 4, dtype=torch.float32))


def test_sanity_rotations_about_axes():
    """D(Z(a)) mixes only m and -m with cos(m a), sin(m a); D(Y(pi)) maps Y_{l,0} to (-1)^l Y_{l,0}."""
    a = torch.tensor(0.37, dtype=F64)
    for l, d in enumerate(WignerD(5).blocks(rot_z(a))):
        m = torch.arange(-l, l + 1, dtype=F64)
        expect = torch.diag(torch.cos(m * a)) - torch.fliplr(torch.diag(torch.sin(m * a)))
        assert maxerr(d, expect) < 1e-14
    for l, d in enumerate(WignerD(5).blocks(rot_y(torch.tensor(math.pi, dtype=F64)))):
        assert abs(d[l, l].item() - (-1) ** l) < 1e-13

"""Fig. 3 of the paper: equivariant convolutions between scalar and vector fields can represent the
gradient and the rotated gradient r x grad (scalar -> vector), and the divergence and the curl
(vector -> scalar). Each conv is fitted by least squares to the exact operator on band-limited fields."""
import pytest
import torch

from fiberconv.fields import sphere_field_type
from fiberconv.nn import SphereConv
from fiberconv.spaces import HealpixGrid, real_sph_harm

NSIDE, L = 16, 6


def scalar_and_gradient(grid, seed):
    """Band-limited f, its gradient (f_theta, f_phi / sin theta) and its Laplacian -l(l+1) f_l."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.randn((L + 1) ** 2, dtype=torch.float64, generator=gen)
    theta, phi = grid.angles(dtype=torch.float64)
    theta.requires_grad_(True)
    phi.requires_grad_(True)
    f = real_sph_harm(L, theta, phi) @ c
    d_theta, d_phi = torch.autograd.grad(f.sum(), (theta, phi))
    grad = torch.stack([d_theta, d_phi / torch.sin(theta)])
    ell = torch.cat([torch.full((2 * l + 1,), float(l * (l + 1)), dtype=torch.float64) for l in range(L + 1)])
    lap = real_sph_harm(L, theta.detach(), phi.detach()) @ (-ell * c)
    return f.detach(), grad.detach(), lap


def fit(conv, inputs, targets):
    """Least-squares weights of a bias-free conv; returns the relative error on held-out pairs."""
    def design(x):
        cols = []
        for b in range(conv.basis.dim):
            with torch.no_grad():
                conv.weight.zero_()
                conv.weight[b] = 1.0
                cols.append(conv(x).reshape(-1))
        return torch.stack(cols, dim=1)

    train_x, test_x = inputs[:-1], inputs[-1:]
    train_y, test_y = targets[:-1], targets[-1:]
    w = torch.linalg.lstsq(design(train_x), train_y.reshape(-1, 1)).solution
    pred = design(test_x) @ w
    return float((pred.reshape(-1) - test_y.reshape(-1)).norm() / test_y.norm())


@pytest.fixture(scope="module")
def fields():
    grid = HealpixGrid(NSIDE, nest=True)
    data = [scalar_and_gradient(grid, s) for s in range(6)]
    return grid, data


def rotated(grad):
    """r x grad: components (-g_phi, g_theta)."""
    return torch.stack([-grad[1], grad[0]])


@pytest.mark.parametrize("operator", ["gradient", "rotated gradient"])
def test_scalar_to_vector_represents_gradients(fields, operator):
    grid, data = fields
    conv = SphereConv(sphere_field_type((0, 1)), sphere_field_type((1, 1)), grid, n_rings=3, bias=False, dtype=torch.float64)
    x = torch.stack([f for f, _, _ in data])[:, None]
    y = torch.stack([g if operator == "gradient" else rotated(g) for _, g, _ in data])
    assert fit(conv, x, y) < 0.05


@pytest.mark.parametrize("operator", ["divergence", "curl"])
def test_vector_to_scalar_represents_divergence_and_curl(fields, operator):
    """v = grad a + r x grad b: div v = lap a and curl v = lap b; the conv must pick the right one."""
    grid, data = fields
    conv = SphereConv(sphere_field_type((1, 1)), sphere_field_type((0, 1)), grid, n_rings=3, bias=False, dtype=torch.float64)
    pairs = [(data[i], data[(i + 1) % len(data)]) for i in range(len(data))]
    x = torch.stack([a[1] + rotated(b[1]) for a, b in pairs])
    y = torch.stack([(a[2] if operator == "divergence" else b[2]) for a, b in pairs])[:, None]
    assert fit(conv, x, y) < 0.05


def test_a_scalar_to_scalar_conv_cannot_represent_a_gradient_component(fields):
    """Control: isotropic scalar kernels cannot produce the (frame-dependent) theta-component."""
    grid, data = fields
    conv = SphereConv(sphere_field_type((0, 1)), sphere_field_type((0, 1)), grid, n_rings=3, bias=False, dtype=torch.float64)
    x = torch.stack([f for f, _, _ in data])[:, None]
    y = torch.stack([g[:1] for _, g, _ in data])
    assert fit(conv, x, y) > 0.5

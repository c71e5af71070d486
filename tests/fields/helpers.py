"""Analytic band-limited fields on S^2, built without any fiberconv resampling."""
import torch

from fiberconv.fields.tangent import from_ambient


def frames_of(g):
    return g[..., :, :2].transpose(-1, -2)


def polynomial_vector_field(x, seed=0, degree=2):
    """A smooth tangent field: (I - x x^T) w(x), w a random polynomial of the given degree; band-limited."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.randn(degree + 1, 3, 3, dtype=x.dtype, generator=gen).to(x.device)
    w = sum(((x**k) @ c[k].T) for k in range(degree + 1))
    return w - (w * x).sum(-1, keepdim=True) * x


def polynomial_scalar_field(x, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(10, dtype=x.dtype, generator=gen).to(x.device)
    X, Y, Z = x.unbind(-1)
    return (a[0] + a[1] * X + a[2] * Y + a[3] * Z + a[4] * X * Y + a[5] * Y * Z + a[6] * Z * Z
            + a[7] * X * X * Z + a[8] * X * Y * Z + a[9] * Z**3)


def polynomial_spin2_tensor(x, seed=0):
    """A smooth symmetric traceless tangent 2-tensor P M(x) P with P = I - x x^T, then made traceless."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.randn(2, 3, 3, dtype=x.dtype, generator=gen).to(x.device)
    M = c[0] + torch.einsum("...i,ij->...j", x, c[1]).unsqueeze(-1) * torch.eye(3, dtype=x.dtype, device=x.device)
    M = M + M.transpose(-1, -2)
    P = torch.eye(3, dtype=x.dtype, device=x.device) - x.unsqueeze(-1) * x.unsqueeze(-2)
    T = P @ M @ P
    tr = torch.diagonal(T, dim1=-2, dim2=-1).sum(-1)
    T = T - 0.5 * tr[..., None, None] * P
    return T.flatten(-2)


def ambient_field(field_type, x, seed=0):
    """Ambient tensors (A, N) for every SO(2)-irrep block of field_type at points x (N, 3)."""
    out = []
    for i, (_, r) in enumerate(field_type.irrep_blocks()):
        if r.m == 0:
            out.append(polynomial_scalar_field(x, seed + i)[None])
        elif r.m == 1:
            out.append(polynomial_vector_field(x, seed + i).T)
        elif r.m == 2:
            out.append(polynomial_spin2_tensor(x, seed + i).T)
        else:
            raise ValueError("helpers cover m <= 2")
    return torch.cat(out, 0)


def mackey_from_ambient(field_type, t_fn, g):
    """F(g) = components of the ambient tensor at g o in the frame (g e_x, g e_y): a Mackey function."""
    x = g[..., :, 2]
    t = t_fn(x.reshape(-1, 3)).reshape((-1,) + x.shape[:-1])  # (A, *P)
    return from_ambient(field_type, t.unsqueeze(0), frames_of(g))[0]

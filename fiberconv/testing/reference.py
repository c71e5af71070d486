r"""Dense references for the fast layers: slow, literal, for small grids (as torch-harmonics keeps a
pure-torch reference beside its optimized path).

:func:`sphere_conv_dense` evaluates eq. (14) pair by pair,

.. math:: [\kappa \star f](x) = \sum_{y:\ d(x, y) \le r} w\ \kappa\big(s(x)^{-1} y\big)\,
          \rho_1\big(h_1(s(x)^{-1} s(y))\big)\, f(y), \qquad w = 4\pi / N_\text{pix},

with the kernel from the layer's ``K_C`` basis (:meth:`SphereKernelBasis.kappa_c`) and the relative point and
twist from the principal bundle (:meth:`PrincipalBundle.twist`): none of the layer's closed-form geometry or
sparse operators enters.
"""
from __future__ import annotations

import torch

__all__ = ["sphere_conv_dense"]


def sphere_conv_dense(conv, f: torch.Tensor) -> torch.Tensor:
    """Eq. (14) for the :class:`~fiberconv.nn.SphereConv` ``conv`` at ``f (B, C_in, N_in)``, in float64:
    ``(B, C_out, N_out)``. Memory ``O(N_out N_in)``: small grids only."""
    bundle = conv.in_type.bundle
    x, y = conv.out_grid.xyz(dtype=torch.float64), conv.grid.xyz(dtype=torch.float64)
    i, j = torch.nonzero(torch.arccos((x @ y.T).clamp(-1, 1)) <= conv.radius + 1e-9, as_tuple=True)
    z, h = bundle.twist(x[i], y[j])
    k = conv.basis.kappa_c(conv.kernel_weights().detach().double(), z) @ conv.in_type.rho(h)  # (pairs, C2, C1)
    contrib = (4 * torch.pi / conv.grid.npix) * torch.einsum("pij,bjp->bip", k, f.double()[:, :, j])
    out = torch.zeros(f.shape[0], conv.out_type.dim, x.shape[0], dtype=torch.float64).index_add(2, i, contrib)
    if conv.bias is not None:
        out[:, conv.bias_index] += conv.bias.detach().double()[None, :, None]
    return out

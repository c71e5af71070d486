r"""Equivariance of R^3 convolutions under continuous rotations, measured without interpolation.

Rotating a voxel field by a rotation that is not one of the cube's needs resampling, whose error would hide
the layer's own. :func:`r3_rotation_errors` avoids it: the input is an analytic smooth field (a sum of Gaussian
blobs), so its rotation is sampled exactly on the grid, and the rotated output

.. math:: [\pi_2(R)\, \kappa \star f](x) = \rho_2(R) \sum_d \kappa(d)\, f(R^{-1} x + d)

is evaluated directly at the off-grid points :math:`R^{-1} x` with the layer's expanded kernel. What remains
is the layer's discretization error: it falls as the input gets smoother or the kernel finer.
"""
from __future__ import annotations

import torch

__all__ = ["gaussian_blobs", "r3_rotation_errors"]


def gaussian_blobs(points: torch.Tensor, centres: torch.Tensor, coeffs: torch.Tensor, width: float) -> torch.Tensor:
    r"""The analytic field :math:`f(x) = \sum_k c_k \exp(-|x - p_k|^2 / 2 s^2)` at ``points (..., 3)``.

    Parameters
    ----------
    points : ``(..., 3)`` evaluation points
    centres : ``(K, 3)`` blob centres :math:`p_k`
    coeffs : ``(B, C, K)`` channel coefficients :math:`c_k`
    width : the blobs' standard deviation :math:`s`, in voxels

    Returns
    -------
    ``(B, C, ...)``
    """
    d2 = ((points[..., None, :] - centres) ** 2).sum(-1)
    return torch.einsum("bck,...k->bc...", coeffs, torch.exp(-d2 / (2 * width * width)))


def r3_rotation_errors(conv, in_type=None, out_type=None, n: int = 16, width: float = 2.0, n_rotations: int = 3,
                       seed: int = 0, n_blobs: int = 40, rmax: float = 4.0) -> list[float]:
    r"""Relative errors :math:`|\Phi(\pi_1(R) f) - \pi_2(R) \Phi(f)| / |\pi_2(R) \Phi(f)|` of an R^3
    convolution under Haar-random rotations :math:`R`, for analytic smooth inputs :math:`f` (module docstring).

    Parameters
    ----------
    conv : a convolution on voxel fields with ``conv(x)`` mapping ``(B, C_in, n, n, n)`` to ``(B, C_out, n, n,
        n)`` on the same grid (stride 1, ``"same"`` padding) and ``conv.expand_parameters()`` returning the
        dense kernel ``(C_out, C_in, k, k, k)`` and the bias ``(C_out,)`` or ``None``, as
        :class:`~fiberconv.nn.R3Conv`
    in_type, out_type : field types on R^3 (default ``conv.in_type`` and ``conv.out_type``)
    n : the cubic grid's side, in voxels (spacing 1, centred at 0)
    width : the Gaussian blobs' standard deviation in voxels: smoother inputs give smaller errors
    n_rotations : number of random rotations (one input field each)
    seed : seeds the blobs and the rotations
    n_blobs : blobs per input field, centred uniformly at least 3 voxels inside the grid
    rmax : the errors are measured at the grid points with :math:`|x| \le` ``rmax``, far from the boundary
        (where zero padding breaks the symmetry)

    Returns
    -------
    list of ``n_rotations`` floats
    """
    from ..nn.r3.kernels import kernel_offsets  # testing sits above nn
    from ..spaces.groups import SO3
    from ..spaces.voxels import VoxelGrid

    in_type = conv.in_type if in_type is None else in_type
    out_type = conv.out_type if out_type is None else out_type
    f64 = torch.float64
    gen = torch.Generator().manual_seed(seed)
    co = VoxelGrid(n).coordinates(f64)
    inside = co.norm(dim=-1) <= rmax
    kernel, bias = conv.expand_parameters()
    like = kernel  # the layer's dtype and device: its input is cast to them, the reference stays float64 on the CPU
    kernel = kernel.detach().cpu().to(f64)
    off = kernel_offsets(kernel.shape[-1]).to(f64)
    errs = []
    for _ in range(n_rotations):
        centres = (torch.rand(n_blobs, 3, generator=gen, dtype=f64) * 2 - 1) * (n / 2 - 3)
        coeffs = torch.randn(1, in_type.dim, n_blobs, generator=gen, dtype=f64)
        R = SO3.sample((), seed=gen, dtype=f64)
        rho1, rho2 = in_type.rho(R), out_type.rho(R)
        with torch.no_grad():
            moved = gaussian_blobs(co, centres @ R.T, torch.einsum("oc,bck->bok", rho1, coeffs), width)
            lhs = conv(moved.to(like))[..., inside].cpu().to(f64)
            y = co[inside] @ R  # the points R^{-1} x
            fy = gaussian_blobs(y[:, None, None, None, :] + off, centres, coeffs, width)  # (1, C1, P, k, k, k)
            out = torch.einsum("oiuvw,niPuvw->noP", kernel, fy)
            if bias is not None:
                out = out + bias.detach().cpu().to(f64)[None, :, None]
            rhs = torch.einsum("oc,bcP->boP", rho2, out)
        errs.append(float((lhs - rhs).norm() / rhs.norm()))
    return errs

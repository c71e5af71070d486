r"""One equivariance check for every base space.

A module ``Phi`` is equivariant when ``Phi(pi_in(g) x) = pi_out(g) Phi(x)`` for every group element ``g``
(Cohen, Geiger & Weiler 2019, eq. 5). The check measures the relative error

.. math:: e(g) = \frac{\| \Phi(\pi_\text{in}(g) x) - \pi_\text{out}(g) \Phi(x) \|}{\| \pi_\text{out}(g) \Phi(x) \|}

for actions given as callables ``act(g, x)``: an :class:`~fiberconv.fields.InducedRepresentation` (fields on
HEALPix), a :class:`VoxelAction` (fields on voxel grids), a :class:`CloudAction` (lifted point clouds), a
:class:`PointAction` (raw point coordinates), a :class:`FibreAction` (the fibre only, for pointwise layers), or
:data:`invariant` (outputs that must not change). Outputs may be tensors or objects with a tensor attribute
named by ``output=`` (e.g. ``"f"`` for a :class:`~fiberconv.nn.LiftedCloud`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

__all__ = ["equivariance_error", "equivariance_errors", "assert_equivariant", "invariant", "VoxelAction", "CloudAction",
           "PointAction", "FibreAction"]

Action = Callable[[torch.Tensor, object], object]


def invariant(g, y):
    """The trivial action ``pi_out(g) = id``: use it as ``act_out`` for invariant outputs (logits, energies)."""
    return y


class VoxelAction:
    """``[pi(R) f](x) = rho(R) f(R^{-1} x)`` on a :class:`~fiberconv.spaces.VoxelGrid`: exact for the cube
    rotations that map the grid onto itself, resampled otherwise (:meth:`VoxelGrid.rotate`)."""

    def __init__(self, grid, field_type):
        self.grid, self.field_type = grid, field_type

    def __call__(self, R: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return self.grid.rotate(f, self.field_type, R)


class CloudAction:
    """Left translation of a lifted point cloud, ``u_i -> w u_i`` for every lifted element (one ``w`` per
    cloud, ``(B, *element_shape)``); the layers compute the pair logs ``log(u_i^{-1} u_j)`` from the moved
    elements, which leaves them unchanged (Finzi et al. 2020, Sec. 4)."""

    def __init__(self, action):
        self.action = action

    def __call__(self, w: torch.Tensor, cloud):
        G = self.action.group
        w = w.reshape((w.shape[0], 1) + tuple(G.element_shape))
        u = G.compose(w.expand(cloud.u.shape), cloud.u)
        return cloud._replace(u=u)


class PointAction:
    """``x_i -> g x_i`` on raw points ``x (B, N, d)`` of a :class:`~fiberconv.spaces.lie_groups.LieAction`:
    one element ``g (*element_shape)`` for the whole batch, or one per cloud ``(B, *element_shape)``. For
    models called on raw points, e.g. ``module = lambda x: net(x, f, mask)`` for a
    :class:`~fiberconv.nn.LieResNet`."""

    def __init__(self, action):
        self.action = action

    def __call__(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(self.action.group.element_shape)
        per_cloud = g.dim() > len(shape)
        g = g.reshape(((g.shape[0],) if per_cloud else ()) + (1,) * (x.dim() - 1 - per_cloud) + shape)
        return self.action.act(g.expand(tuple(x.shape[:-1]) + shape).to(x), x)


class FibreAction:
    """``[pi(g) f](x) = rho(g) f(x)``: the group acting on the fibre of every point at once (channel axis 1 of
    ``f (B, C, ...)``), the base left alone. The action to test pointwise layers with (nonlinearities, products),
    under any ``g`` and without resampling. ``rho(g)`` returns the ``(C, C)`` matrix, e.g. ``field_type.rho`` or
    ``representation.of_angle``."""

    def __init__(self, rho: Callable[[torch.Tensor], torch.Tensor]):
        self.rho = rho

    def __call__(self, g: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oc,bc...->bo...", self.rho(g).to(f), f)


def _tensor(y, output: str | None) -> torch.Tensor:
    return getattr(y, output) if output is not None else y


def equivariance_errors(module: Callable, x, elements: Iterable, act_in: Action, act_out: Action,
                        output: str | None = None) -> list[float]:
    """Relative errors :math:`e(g)` (module docstring) for each ``g`` in ``elements``, in a list.

    Parameters
    ----------
    module : callable ``x -> y`` (an ``nn.Module``; called under ``torch.no_grad``)
    x : input (a tensor, or what ``act_in`` acts on)
    elements : iterable of group elements, e.g. a ``(n, 3, 3)`` tensor of rotations
    act_in, act_out : ``act(g, x)``, the group actions on inputs and outputs (:data:`invariant` for outputs
        that must not change)
    output : attribute of the module's output that holds the tensor to compare (default: the output itself)
    """
    errs = []
    with torch.no_grad():
        y = _tensor(module(x), output) if act_out is invariant else None
        for g in elements:
            moved = _tensor(module(act_in(g, x)), output)
            expected = y if y is not None else _tensor(act_out(g, module(x)), output)
            denom = expected.norm().clamp_min(torch.finfo(expected.dtype).tiny)
            errs.append(float((moved - expected).norm() / denom))
    return errs


def equivariance_error(module: Callable, x, g, act_in: Action, act_out: Action, output: str | None = None) -> float:
    """:math:`e(g)` for one group element ``g`` (see :func:`equivariance_errors`)."""
    return equivariance_errors(module, x, [g], act_in, act_out, output)[0]


def assert_equivariant(module: Callable, x, elements: Iterable, act_in: Action, act_out: Action, tol: float,
                       output: str | None = None) -> list[float]:
    """Raise ``AssertionError`` naming the worst element unless every :math:`e(g) \\le` ``tol``; returns the errors."""
    errs = equivariance_errors(module, x, elements, act_in, act_out, output)
    worst = max(range(len(errs)), key=errs.__getitem__)
    if errs[worst] > tol:
        raise AssertionError(f"equivariance error {errs[worst]:.3e} > {tol:.1e} at element #{worst} "
                             f"(errors: {', '.join(f'{e:.2e}' for e in errs)})")
    return errs

r"""Whole-model invariance as a measured quantity: how much a model's invariant outputs (class logits,
energies) move when its inputs are transformed, per sample, and how often its predictions change.

For each sample :math:`b` and group element :math:`g`, the relative change of the outputs is

.. math:: \delta_b(g) = \frac{\| \Phi(\pi(g) x)_b - \Phi(x)_b \|}{\| \Phi(x)_b \|},

and a prediction flips when :math:`\arg\max \Phi(\pi(g) x)_b \ne \arg\max \Phi(x)_b`. An exactly invariant
model has :math:`\delta = 0` and no flips; a model trained with augmentation, or one invariant only up to
discretization (continuous rotations of a pixelized sphere), has small :math:`\delta` and few flips.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch

__all__ = ["InvarianceReport", "invariance_report"]


class InvarianceReport(NamedTuple):
    """The result of :func:`invariance_report`: statistics over ``n`` pairs (sample, group element)."""

    median: float
    """median relative change of the outputs, :math:`\\delta_b(g)`"""
    max: float
    """largest relative change of the outputs"""
    flip_fraction: float
    """fraction of pairs whose argmax prediction differs from the untransformed one"""
    n: int
    """number of pairs (samples x group elements)"""

    def __str__(self) -> str:
        return (f"relative output change: median {self.median:.3e}, max {self.max:.3e}; "
                f"predictions flipped: {self.flip_fraction:.1%} of {self.n}")


def invariance_report(model: Callable, x: torch.Tensor, elements: Iterable, act_in: Callable,
                      batch_size: int | None = None) -> InvarianceReport:
    r"""Measure how much ``model``'s invariant outputs change when its inputs are transformed (module docstring).

    Parameters
    ----------
    model : callable ``x (B, ...) -> (B, K)``, e.g. a classifier returning logits. Called under
        ``torch.no_grad`` and in the mode it is in: call ``model.eval()`` first to measure a trained model
        as it predicts.
    x : ``(B, ...)`` inputs, e.g. a test set
    elements : iterable of group elements, e.g. a ``(n, 3, 3)`` tensor of rotations
    act_in : ``act(g, x)``, the group action on inputs (an
        :class:`~fiberconv.fields.InducedRepresentation`, a :class:`~fiberconv.testing.VoxelAction`, ...)
    batch_size : evaluate the inputs in chunks of this many samples (default: all at once)

    Returns
    -------
    InvarianceReport
        ``median`` and ``max`` of the relative changes :math:`\delta_b(g)` over all samples and elements,
        ``flip_fraction`` of argmax predictions that change, and ``n``, the number of pairs.
    """
    chunks = [x] if batch_size is None else list(torch.split(x, batch_size))
    deltas, flips = [], []
    with torch.no_grad():
        base = [model(c) for c in chunks]
        for g in elements:
            for c, y in zip(chunks, base):
                moved = model(act_in(g, c))
                if moved.shape != y.shape or y.dim() != 2:
                    raise ValueError(f"invariance_report: the model must return (batch, outputs) for both the input and "
                                     f"the transformed input, got {tuple(y.shape)} and {tuple(moved.shape)}")
                norm = y.norm(dim=1).clamp_min(torch.finfo(y.dtype).tiny)
                deltas.append(((moved - y).norm(dim=1) / norm).double().cpu())
                flips.append((moved.argmax(1) != y.argmax(1)).cpu())
    if not deltas:
        raise ValueError("invariance_report: no group elements given")
    delta, flip = torch.cat(deltas), torch.cat(flips)
    return InvarianceReport(float(delta.quantile(0.5)), float(delta.max()), float(flip.double().mean()), delta.numel())

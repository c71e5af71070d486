r"""Metrics and rotated test sets for the wind example.

Metrics (on tangent fields ``(M, 2, N)`` in the section frame; all are frame-independent, so they mean
the same on a rotated globe):

* ``rmse`` — ``sqrt(mean over months and pixels of |w_pred - w_true|^2)`` in m/s (the vector error's length;
  HEALPix pixels have equal areas, so the mean is an area mean);
* ``angle`` — mean over months and pixels of the angle between the predicted and the true wind vector, in
  degrees (``|atan2(cross, dot)|``; every pixel counts, calm ones included);
* ``rel_error`` — ``||pred - true|| / ||true||`` per channel, for the vorticity / divergence scalars.

Rotating the globe (:func:`rotated_fine`) rotates the *fine* wind with the induced representation
(:class:`~fiberconv.fields.InducedRepresentation`, eq. 4: a pixel permutation and the cocycle twist for the
grid's 8 symmetries, exact; spherical-harmonic resampling at ``lmax = 2 nside`` for any other rotation);
the model input is then made from the rotated fine wind exactly as for the unrotated one (pool, unpool),
so inputs *and* targets are rotated.
"""
from __future__ import annotations

import math

import torch

from fiberconv.fields import InducedRepresentation
from fiberconv.spaces import SO3, HealpixGrid, rot_x

from .models import WIND

__all__ = [
    "wind_metrics", "polar_caps", "rel_error", "predict", "rotated_fine", "grid_symmetry", "x_rotation", "random_rotations",
]


def wind_metrics(pred: torch.Tensor, truth: torch.Tensor, polar: torch.Tensor | None = None) -> dict[str, float]:
    """``{"rmse": m/s, "angle": degrees}`` of predicted against true winds ``(M, 2, N)``, and ``"rmse_polar"``, the
    RMSE over the pixels where the boolean mask ``polar (N,)`` is set (see :func:`polar_caps`), if given."""
    p, t = pred.double(), truth.double()
    sq = ((p - t) ** 2).sum(1)
    out = {"rmse": float(sq.mean().sqrt())}
    dot = (p * t).sum(1)
    cross = p[:, 0] * t[:, 1] - p[:, 1] * t[:, 0]
    out["angle"] = float(torch.rad2deg(torch.atan2(cross, dot).abs()).mean())
    if polar is not None:
        out["rmse_polar"] = float(sq[:, polar.to(sq.device)].mean().sqrt())
    return out


def polar_caps(grid: HealpixGrid, degrees: float = 20.0, device=None) -> torch.Tensor:
    """Boolean mask ``(N,)`` of the pixels within ``degrees`` of the grid's poles: where the frames
    ``(e_theta, e_phi)`` turn fastest, so where treating frame components as scalars goes most wrong."""
    z = grid.xyz(dtype=torch.float64)[:, 2]
    return (z.abs() > math.cos(math.radians(degrees))).to(device)


def rel_error(pred: torch.Tensor, truth: torch.Tensor) -> list[float]:
    """``||pred_c - true_c|| / ||true_c||`` for every channel ``c`` of ``(M, C, N)`` tensors."""
    p, t = pred.double(), truth.double()
    return [float((p[:, c] - t[:, c]).norm() / t[:, c].norm()) for c in range(t.shape[1])]


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """``model`` in eval mode on ``x`` in batches, on ``x``'s device."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])
    model.train(was_training)
    return out


def grid_symmetry(name: str, dtype=torch.float64, device=None) -> torch.Tensor:
    """``"z90"``: ``Z(pi/2)``; ``"x180"``: ``X(pi)`` — two of the 8 rotations of :meth:`HealpixGrid.symmetries`."""
    index = {"identity": 0, "z90": 1, "z180": 2, "z270": 3, "x180": 4}[name]
    return HealpixGrid.symmetries(dtype=dtype, device=device)[index]


def x_rotation(degrees: float, dtype=torch.float64, device=None) -> torch.Tensor:
    """Rotation by ``degrees`` about the x-axis (through the equator at longitude 0): it moves the poles.
    0 and 180 degrees are grid symmetries and returned exactly."""
    if degrees % 360 == 0:
        return grid_symmetry("identity", dtype, device)
    if degrees % 360 == 180:
        return grid_symmetry("x180", dtype, device)
    return rot_x(torch.tensor(math.radians(degrees), dtype=dtype, device=device))


def random_rotations(n: int, seed: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """``n`` Haar-random rotations ``(n, 3, 3)``, reproducible from ``seed`` (drawn on the CPU)."""
    return SO3.sample((n,), seed=seed, dtype=dtype).to(device)


def rotated_fine(pi: InducedRepresentation, fine: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    r"""Rotate the fine wind ``(M, 2, N)``: month ``i`` by ``rotations[i % K]`` (``K = len(rotations)``).

    One call of ``pi`` per rotation (its cost is per call, not per month), computed in float64 and returned
    in ``fine``'s dtype. ``rotations`` may be one ``(3, 3)`` matrix.
    """
    if rotations.dim() == 2:
        rotations = rotations.unsqueeze(0)
    out = torch.empty_like(fine)
    k = rotations.shape[0]
    for j in range(k):
        idx = torch.arange(j, fine.shape[0], k, device=fine.device)
        if idx.numel():
            out[idx] = pi(rotations[j].to(device=fine.device, dtype=torch.float64), fine[idx].double()).to(fine.dtype)
    return out


def make_pi(grid: HealpixGrid) -> InducedRepresentation:
    """The induced representation on winds over ``grid``."""
    return InducedRepresentation(WIND, grid)

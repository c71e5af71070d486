"""Random affine jitter of training digits, shared by the MNIST examples: ``x -> (I + s U) x`` with ``U``
uniform in ``[-1, 1]^(2x2)`` (random scaling, shear and stretch), which a rotation-invariant model does not
see through, unlike rotations. ``det(I + s U) >= 1 - 2s``, so ``s < 0.5`` keeps every map invertible and
orientation-preserving."""
from __future__ import annotations

import math

import torch

__all__ = ["add_augment_option", "check_augment", "random_affine"]


def add_augment_option(parser, when: str) -> None:
    """``--augment S`` (default 0: none); ``when`` says when the maps are drawn (for the help)."""
    parser.add_argument("--augment", type=float, default=0.0,
                        help=f"train on digits mapped by x -> (I + s U) x, U uniform in [-1, 1]^(2x2), drawn {when}: "
                             "random scaling, shear and stretch of strength s in [0, 0.5), which a rotation-invariant "
                             "model does not see through, unlike rotations (default 0: none)")


def check_augment(value: float, error) -> None:
    """``error`` (``parser.error``) unless ``0 <= value < 0.5`` (at 0.5 ``I + s U`` can be singular)."""
    if not (0 <= value < 0.5) or math.isnan(value):
        error(f"--augment must lie in [0, 0.5) (at 0.5 the map I + s U can be singular), got {value!r}")
        raise SystemExit(2)  # in case ``error`` returned


def random_affine(n: int, strength: float, generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """``(n, 2, 2)`` maps ``I + strength U``, ``U`` uniform in ``[-1, 1]^(2x2)``, drawn from ``generator``."""
    U = torch.rand(n, 2, 2, generator=generator, dtype=dtype) * 2 - 1
    return torch.eye(2, dtype=dtype) + strength * U

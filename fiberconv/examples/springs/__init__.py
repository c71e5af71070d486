"""The spring benchmark of Hamiltonian LieConv (Finzi et al. 2020, Sec. 6.2): ``python -m fiberconv.examples.springs``
or the console script ``fiberconv-springs`` (:func:`main`; ``--help`` lists the options). The data generator is
:mod:`fiberconv.datasets.springs`; the run is :mod:`fiberconv.examples.springs.run`."""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (:func:`fiberconv.examples.springs.run.main`); returns 0, the console script's exit status."""
    from .run import main as run_main

    run_main(argv)
    return 0

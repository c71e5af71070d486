"""QM9 HOMO / LUMO / gap with LieConv (T(3), SE(3), a non-equivariant baseline): ``python -m fiberconv.examples.qm9``
or the console script ``fiberconv-qm9`` (:func:`main`; ``--help`` lists the options). The full data needs the
``qm9`` extra (``pip install "fiberconv[qm9]"``); ``--source subset`` runs on the 500 committed molecules. The
loader is :mod:`fiberconv.datasets.qm9`, the run :mod:`fiberconv.examples.qm9.run`."""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Train and test (:func:`fiberconv.examples.qm9.run.main`); returns 0, the console script's exit status."""
    from .run import main as run_main

    run_main(argv)
    return 0

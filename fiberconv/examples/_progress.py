"""Progress bars of the examples' training loops: :mod:`tqdm` (the ``examples`` extra), on stderr, switched off
by each example's ``--quiet``."""
from __future__ import annotations

import sys

__all__ = ["progress", "require_tqdm"]

_HINT = 'the examples show progress with tqdm, an optional dependency of fiberconv: `pip install "fiberconv[examples]"`'


def require_tqdm():
    """The :class:`tqdm.tqdm` class, or SystemExit naming the extra (checked before any long work)."""
    try:
        from tqdm import tqdm
    except ImportError as e:
        raise SystemExit(f"{_HINT} (or `pip install tqdm`)") from e
    return tqdm


def progress(total: int, desc: str, quiet: bool = False, stream=None):
    """A :class:`tqdm.tqdm` bar of ``total`` steps labelled ``desc``; ``quiet`` disables it (nothing is written).
    Use ``bar.set_postfix_str("loss ...")``, ``bar.update()`` and ``bar.close()`` (or ``with``)."""
    tqdm = require_tqdm()
    return tqdm(total=max(int(total), 1), desc=f"{desc:<20s}", disable=quiet, file=stream or sys.stderr,
                dynamic_ncols=True, mininterval=0.5, leave=True)

"""``python -m fiberconv.examples.tetris``: 3-D Tetris (see :mod:`fiberconv.examples.tetris.tetris`)."""
from . import main

if __name__ == "__main__":
    raise SystemExit(main())

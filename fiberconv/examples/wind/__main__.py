"""``python -m fiberconv.examples.wind``: the wind example (see :mod:`fiberconv.examples.wind.train` and its README)."""
from . import main

if __name__ == "__main__":
    raise SystemExit(main())

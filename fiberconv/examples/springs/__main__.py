"""``python -m fiberconv.examples.springs``: the spring benchmark (see :mod:`fiberconv.examples.springs.run`)."""
from . import main

if __name__ == "__main__":
    raise SystemExit(main())

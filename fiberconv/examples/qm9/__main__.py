"""``python -m fiberconv.examples.qm9``: QM9 with LieConv (see :mod:`fiberconv.examples.qm9.run`)."""
from . import main

if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m fiberconv.examples.mnist_points``: point-cloud MNIST (see :mod:`fiberconv.examples.mnist_points.run`)."""
from . import main

if __name__ == "__main__":
    raise SystemExit(main())

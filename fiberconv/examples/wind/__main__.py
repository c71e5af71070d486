"""``python -m examples.wind``: the wind example (see :mod:`examples.wind.train` and ``examples/wind/README.md``)."""
from .train import main

if __name__ == "__main__":
    main()

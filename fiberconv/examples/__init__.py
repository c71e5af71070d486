"""Runnable end-to-end examples, importable after ``pip install`` (the optional dependencies they use:
``pip install "fiberconv[examples]"``; point-cloud MNIST also ``fiberconv[mnist]``).

=====================================  =============================================  =============================
module                                 what                                           console script
=====================================  =============================================  =============================
``python -m fiberconv.examples.wind``  real winds on HEALPix: vorticity/divergence     ``fiberconv-wind``
                                       and equivariant downscaling on rotated globes
``... .springs``                       Hamiltonian LieConv on the spring benchmark    ``fiberconv-springs``
``... .mnist_points``                  LieConv on MNIST point clouds, rotated tests   ``fiberconv-mnist-points``
``... .tetris``                        SE(3)-steerable CNN on 3-D Tetris              ``fiberconv-tetris``
``... .spherical_digits``              spherical CNN on MNIST digits projected onto   ``fiberconv-spherical-digits``
                                       the sphere, rotated tests (s2cnn's benchmark)
``... .lift_and_rotate``               the lifting and the induced representation    —
                                       on a wind-like field, checked
=====================================  =============================================  =============================

Each takes ``--help``. Reusable parts live in :mod:`fiberconv.datasets` (data loaders) and :mod:`fiberconv.plot`
(maps).
"""

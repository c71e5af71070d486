r"""HEALPix-native xarray objects, following the xdggs conventions.

A field on a :class:`~fiberconv.spaces.healpix.HealpixGrid` becomes an :class:`xarray.DataArray` whose last
dimension ``cells`` carries the coordinate ``cell_ids`` (the HEALPix pixel index of each value) with the
attributes that `xdggs <https://xdggs.readthedocs.io>`_ reads::

    cell_ids.attrs = {"grid_name": "healpix", "level": log2(nside), "indexing_scheme": "nested" | "ring"}

so the ordering travels with the data: reading it back into a grid of the other ordering raises (or, with
``reorder=True``, permutes the values), instead of feeding a RING map to a NESTED layer. ``level`` is xdggs'
refinement level (``nside = 2**level``); older xdggs files with ``resolution`` or healpy-minded ones with
``nside`` are read too. ``cell_ids`` may come in any order (values are sorted by cell id on reading), but
must cover the sphere.

Winds are written as the two CF variables ``u`` (``eastward_wind``) and ``v`` (``northward_wind``) on
``cells``; in fiberconv they are the tangent components ``(v_theta, v_phi) = (-v, u)`` in the section frame
(south, east), ``(..., 2, N_pix)`` (:mod:`fiberconv.fields.tangent`).
"""
from __future__ import annotations

import numpy as np
import torch

from ..spaces.healpix import HealpixGrid
from ..validation import as_native_array
from ._xarray import require_xarray

__all__ = ["CELL_DIM", "cell_ids_coord", "grid_of", "to_dataarray", "to_tensor", "wind_to_dataset",
           "wind_tensor", "HealpixMetadataError"]

xr = require_xarray()

CELL_DIM = "cells"
_SCHEMES = {"nested": True, "nest": True, "ring": False}


class HealpixMetadataError(ValueError):
    """An xarray object whose HEALPix metadata (``cell_ids`` and its attributes) is missing or contradicts
    the grid asked for; the message says what was found and what was expected."""


def cell_ids_coord(grid: HealpixGrid) -> xr.Variable:
    """The ``cell_ids`` coordinate of ``grid``: ``0 .. N_pix - 1`` on ``cells`` with the xdggs attributes."""
    if not isinstance(grid, HealpixGrid):
        raise TypeError(f"cell_ids_coord: grid must be a HealpixGrid, got {type(grid).__name__}")
    attrs = {"grid_name": "healpix", "level": int(grid.nside).bit_length() - 1,
             "indexing_scheme": "nested" if grid.nest else "ring"}
    return xr.Variable(CELL_DIM, np.arange(grid.npix, dtype=np.int64), attrs)


def _cells(obj):
    if "cell_ids" not in obj.coords:
        dims = dict(obj.sizes)
        raise HealpixMetadataError(
            f"not a HEALPix-native xarray object: no 'cell_ids' coordinate (dimensions {dims}); expected the "
            "xdggs conventions (cell_ids on a 'cells' dimension with attrs grid_name='healpix', level, "
            "indexing_scheme)")
    c = obj.coords["cell_ids"]
    if c.ndim != 1:
        raise HealpixMetadataError(f"cell_ids must be 1-D, got dimensions {c.dims}")
    return c


def grid_of(obj) -> HealpixGrid:
    """The :class:`HealpixGrid` an xdggs-style DataArray / Dataset lives on (from its ``cell_ids`` attributes).

    Raises
    ------
    HealpixMetadataError
        No ``cell_ids``, ``grid_name`` not ``healpix``, no ``level`` / ``resolution`` / ``nside``, an unknown
        ``indexing_scheme``, or cell ids that do not cover the sphere once each.
    """
    c = _cells(obj)
    a = {k.lower(): v for k, v in c.attrs.items()}
    name = str(a.get("grid_name", "")).lower()
    if name != "healpix":
        raise HealpixMetadataError(f"cell_ids has grid_name {a.get('grid_name')!r}, expected 'healpix'")
    if "level" in a or "resolution" in a:
        nside = 2 ** int(a.get("level", a.get("resolution")))
    elif "nside" in a:
        nside = int(a["nside"])
    else:
        raise HealpixMetadataError(f"cell_ids attributes {dict(c.attrs)} give no level (or nside)")
    scheme = str(a.get("indexing_scheme", "nested")).lower()  # xdggs' default is nested
    if scheme not in _SCHEMES:
        raise HealpixMetadataError(f"cell_ids has indexing_scheme {scheme!r}, expected 'nested' or 'ring'")
    grid = HealpixGrid(nside, nest=_SCHEMES[scheme])
    ids = np.asarray(c.values)
    if ids.size != grid.npix or not np.array_equal(np.sort(ids), np.arange(grid.npix)):
        raise HealpixMetadataError(
            f"cell_ids must hold every pixel of nside {nside} once ({grid.npix} cells), got {ids.size} values in "
            f"[{ids.min() if ids.size else '-'}, {ids.max() if ids.size else '-'}]; regional subsets are not supported")
    return grid


def to_dataarray(values, grid: HealpixGrid, dims=None, name: str | None = None, attrs: dict | None = None,
                 coords: dict | None = None):
    """A HEALPix-native DataArray of ``values (..., N_pix)`` (tensor or array, in ``grid``'s ordering).

    ``dims`` names the leading dimensions (default ``dim_0, dim_1, ...``); the last is ``cells`` with the
    ``cell_ids`` coordinate of :func:`cell_ids_coord`. Tensors are detached and copied to the CPU.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    values = as_native_array(values, "values", who="to_dataarray")
    if values.ndim < 1 or values.shape[-1] != grid.npix:
        raise ValueError(f"to_dataarray: values must have shape (..., N_pix) = (..., {grid.npix}) for {grid!r}, "
                         f"got {values.shape}")
    lead = list(dims) if dims is not None else [f"dim_{i}" for i in range(values.ndim - 1)]
    if len(lead) != values.ndim - 1:
        raise ValueError(f"to_dataarray: dims {lead} name {len(lead)} leading dimensions, values have "
                         f"{values.ndim - 1} (shape {values.shape})")
    return xr.DataArray(values, dims=[*lead, CELL_DIM], coords={"cell_ids": cell_ids_coord(grid), **(coords or {})},
                        name=name, attrs=dict(attrs or {}))


def _ordered(da, grid: HealpixGrid | None, reorder: bool):
    """``(values (..., N) as numpy in the target grid's ordering, target grid)``."""
    own = grid_of(da)
    target = own if grid is None else grid
    if target.nside != own.nside:
        raise HealpixMetadataError(f"the data is on nside {own.nside}, the grid asked for has nside {target.nside}")
    if da.dims[-1] != CELL_DIM and CELL_DIM in da.dims:
        da = da.transpose(..., CELL_DIM)
    if da.dims[-1] != da.coords["cell_ids"].dims[0]:
        raise HealpixMetadataError(f"cell_ids is on dimension {da.coords['cell_ids'].dims[0]!r}, not the last "
                                   f"dimension of {da.dims}")
    vals = as_native_array(da.values, "values")[..., np.argsort(np.asarray(da.coords["cell_ids"].values))]
    if own.nest != target.nest:
        if not reorder:
            have, want = ("NESTED", "RING") if own.nest else ("RING", "NESTED")
            raise HealpixMetadataError(
                f"the data's cell_ids are {have} (indexing_scheme={'nested' if own.nest else 'ring'!r}) but the grid "
                f"is {want}: the values would be on the wrong pixels. Pass reorder=True to permute them, or use "
                f"HealpixGrid({own.nside}, nest={own.nest})")
        vals = vals[..., _perm(target)]
    return vals, target


def _perm(target: HealpixGrid) -> np.ndarray:
    """``values_target = values_other[..., perm]`` between the two orderings: target NESTED pixel ``i`` is RING
    pixel ``nest2ring(i)`` of the other ordering, target RING pixel ``i`` is NESTED pixel ``ring2nest(i)``."""
    import healpy as hp

    pix = np.arange(target.npix)
    return hp.nest2ring(target.nside, pix) if target.nest else hp.ring2nest(target.nside, pix)


def to_tensor(da, grid: HealpixGrid | None = None, *, reorder: bool = False, dtype=torch.float32,
              device=None) -> torch.Tensor:
    """``(..., N_pix)`` tensor of a HEALPix-native DataArray, in ``grid``'s ordering (default: the data's).

    Raises
    ------
    HealpixMetadataError
        The metadata is missing, the nside differs, or the ordering differs from ``grid``'s and ``reorder`` is
        False.
    """
    vals, _ = _ordered(da, grid, reorder)
    return torch.as_tensor(np.ascontiguousarray(vals), dtype=dtype, device=device)


def wind_to_dataset(wind, grid: HealpixGrid, time=None, units: str = "m s-1", attrs: dict | None = None):
    """HEALPix-native Dataset of tangent winds ``(T, 2, N_pix)`` (``(v_theta, v_phi)``, ``grid``'s ordering):
    variables ``u`` (eastward) and ``v`` (northward) on ``(time, cells)`` with CF standard names."""
    if isinstance(wind, torch.Tensor):
        wind = wind.detach().cpu().numpy()
    wind = as_native_array(wind, "wind", who="wind_to_dataset")
    if not isinstance(grid, HealpixGrid):
        raise TypeError(f"wind_to_dataset: grid must be a HealpixGrid, got {type(grid).__name__}")
    if wind.ndim != 3 or wind.shape[1:] != (2, grid.npix):
        raise ValueError(f"wind_to_dataset: wind must have shape (T, 2, {grid.npix}) (v_theta, v_phi) for {grid!r}, "
                         f"got {wind.shape}")
    if time is not None and np.asarray(time).shape != (wind.shape[0],):
        raise ValueError(f"wind_to_dataset: time must hold one label per step, shape ({wind.shape[0]},), got shape "
                         f"{np.asarray(time).shape}")
    coords = {} if time is None else {"time": ("time", np.asarray(time))}
    u = to_dataarray(wind[:, 1], grid, dims=["time"], coords=coords,
                     attrs={"standard_name": "eastward_wind", "units": units})
    v = to_dataarray(-wind[:, 0], grid, dims=["time"], coords=coords,
                     attrs={"standard_name": "northward_wind", "units": units})
    return xr.Dataset({"u": u, "v": v}, attrs=dict(attrs or {}))


def wind_tensor(ds, grid: HealpixGrid | None = None, *, reorder: bool = False, dtype=torch.float32,
                device=None, u_name: str = "u", v_name: str = "v") -> torch.Tensor:
    """``(..., 2, N_pix)`` tangent components ``(v_theta, v_phi) = (-v, u)`` of a HEALPix-native wind Dataset
    (:func:`wind_to_dataset`, :func:`fiberconv.io.open_wind`), in ``grid``'s ordering; errors as
    :func:`to_tensor`. Dask-backed data is computed here: select the time steps first."""
    if grid is not None and not isinstance(grid, HealpixGrid):
        raise TypeError(f"wind_tensor: grid must be a HealpixGrid (or None for the data's own), got {type(grid).__name__}")
    for n in (u_name, v_name):
        if n not in ds.data_vars:
            raise KeyError(f"wind_tensor: no variable {n!r} in the dataset (variables {list(ds.data_vars)})")
    u = to_tensor(ds[u_name], grid, reorder=reorder, dtype=dtype, device=device)
    v = to_tensor(ds[v_name], grid, reorder=reorder, dtype=dtype, device=device)
    return torch.stack([-v, u], dim=-2)

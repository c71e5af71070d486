r"""Ready-made spherical CNNs on HEALPix, built only from equivariant layers.

* :class:`SphereBlock`: ``SphereConv -> FieldBatchNorm -> GatedNonlinearity`` (scalars and gated
  ``m``-fields out).
* :class:`SphericalClassifier`: blocks with spectral pooling (:class:`SphereBandLimit`) between ``nside``
  levels, then invariant pooling and a linear layer: rotation-invariant logits from any input field type.
* :class:`SphericalUNet`: an encoder/decoder over ``nside`` levels with skip connections, mapping any
  field type to any field type (scalar -> vector, vector -> vector, ...).

Every model is a plain ``nn.Module``: its ``state_dict`` is the same in train and eval mode, it holds no
hidden state, and it pickles. ``dtype`` and ``device`` are factory arguments as in ``torch.nn``: pass
``dtype=torch.float64`` for float64 accuracy (the convolutions' filter operators are formed in ``dtype``;
``.double()`` on a float32 model derives float64 operators from the same float64 geometry). Hidden widths are given as
``(n_scalars, n_vectors)`` per level; vectors are ``m = 1`` fields (tangent vectors), gated by their own
scalar gates.

The models build one :class:`~fiberconv.nn.sphere.SphereConvGeometry` per ``nside`` level (from the
``radius``, ``n_rings`` and ``quadrature`` in ``conv_kwargs``) and hand it to every convolution of that level,
so the neighbourhoods, quadrature and derived filter operators exist once per level (``model.geometries``).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ...fields import FieldType
from ...spaces.healpix import HealpixGrid
from ...spaces.representations import SO2Irrep
from ...validation import check_float, check_int, check_positive_int
from ..nonlinear import FieldBatchNorm, GatedNonlinearity, InvariantPooling
from .bandlimit import SphereBandLimit
from .conv import SphereConv
from .conv_geometry import SphereConvGeometry
from .pool import SpherePool, SphereUnpool

__all__ = ["SphereBlock", "SphericalClassifier", "SphericalUNet"]

Width = tuple[int, int]


def _check_widths(widths: Sequence[Width], who: str):
    widths = [tuple(w) for w in widths]
    if not widths or any(len(w) != 2 or min(w) < 0 or sum(w) == 0 for w in widths):
        raise ValueError(f"{who}: widths must be a non-empty list of (n_scalars, n_vectors) with a positive sum, got {widths}")
    return widths


def _level_geometries(conv_kwargs: dict):
    """``(grid, stride) -> SphereConvGeometry`` for the geometry settings in ``conv_kwargs`` (built on first
    use), and the dict of those built, keyed by ``(grid, stride)``."""
    settings = {k: conv_kwargs[k] for k in ("radius", "n_rings", "quadrature") if k in conv_kwargs}
    cache: dict = {}

    def get(grid, stride: int = 1):
        key = (grid, stride)
        if key not in cache:
            cache[key] = SphereConvGeometry(grid, stride=stride, **settings)
        return cache[key]
    return get, cache


def _band_limit(band_limit, who: str):
    """``None`` or ``grid -> degree``: ``band_limit nside`` rounded, at least 1."""
    if band_limit is None:
        return None
    expected = "a fraction of nside in (0, 1], or None for mean pooling"
    band_limit = check_float(band_limit, "band_limit", minimum=0.0, strict=True, who=who, expected=expected)
    if band_limit > 1:
        raise ValueError(f"{who}: band_limit must be {expected}, got {band_limit!r}")
    return lambda grid: max(1, round(band_limit * grid.nside))


def check_nonlinearity_nside(value, nside: int, name: str, who: str | None = None) -> int:
    """``value`` if it is a power of two ``<= max(8, 2 nside)`` (finer gate grids cost more to build than they
    gain); ``ValueError`` / ``TypeError`` naming ``name`` otherwise."""
    check_positive_int(value, name, who=who)
    top = max(8, 2 * nside)
    if value & (value - 1) or value > top:
        raise ValueError(f"{who + ': ' if who else ''}{name} must be a power of two <= max(8, 2 nside) = {top}, or None, "
                         f"got {value}")
    return value


def _conv_kwargs(conv_kwargs: dict, who: str) -> dict:
    """The keyword arguments for the blocks' convolutions (the geometry settings go to the level geometries);
    ``TypeError`` for those the model sets per level itself."""
    for k in ("stride", "geometry", "gate_grid", "gate_lmax"):
        if k in conv_kwargs:
            raise TypeError(f"{who}: {k} is set by the model for each level; pass radius, n_rings, quadrature or bias")
    return {k: v for k, v in conv_kwargs.items() if k not in ("radius", "n_rings", "quadrature")}


class SphereBlock(nn.Module):
    """``SphereConv(in_type -> scalars + gates + vectors) -> FieldBatchNorm -> gate``: output
    ``n_scalars`` scalars and ``n_vectors`` tangent vector fields.

    Parameters
    ----------
    in_type : FieldType of the input; grid : HealpixGrid of the input
    n_scalars, n_vectors : the output's scalar and (gated) tangent vector fields
    stride : int; the convolution's stride (its output grid has ``nside // stride``)
    dtype, device : factory arguments
    gate_grid : HealpixGrid, optional
        A grid finer than the convolution's output grid (any ordering). The normalized convolution output is
        band-limited to degree ``gate_lmax`` and resampled there (:class:`SphereBandLimit`) before the gate, so
        the nonlinearity acts on a grid that resolves the products it forms: a following projection onto low
        degrees does not fold them back (alias-free). The block's output then lives on ``gate_grid``
        (``out_grid``). Default (or the convolution's output grid itself): the gate acts where the convolution
        writes.
    gate_lmax : int, optional
        The band limit of that resampling, ``0 <= gate_lmax <= 2 nside`` of the convolution's output grid
        (default: that ``nside``); give the block input's band limit, so that what the convolution puts above it
        (its discretization error) is dropped too. Only with ``gate_grid``.
    **conv_kwargs : passed to :class:`SphereConv`

    Raises
    ------
    TypeError
        ``gate_grid`` is not a HealpixGrid, ``gate_lmax`` not an int.
    ValueError
        ``gate_grid`` not finer than the convolution's output grid; ``gate_lmax`` out of range, or given without
        ``gate_grid``.
    """

    def __init__(self, in_type: FieldType, grid: HealpixGrid, n_scalars: int, n_vectors: int, stride: int = 1,
                 dtype: torch.dtype | None = None, device=None, gate_grid: HealpixGrid | None = None,
                 gate_lmax: int | None = None, **conv_kwargs):
        super().__init__()
        self.gate = GatedNonlinearity(in_type.bundle, n_scalars, [SO2Irrep(1)] * n_vectors, SO2Irrep(0))
        self.conv = SphereConv(in_type, self.gate.in_type, grid, stride=stride, dtype=dtype, **conv_kwargs)
        self.norm = FieldBatchNorm(self.gate.in_type)
        self.in_type, self.out_type = in_type, self.gate.out_type
        self.grid, self.out_grid = grid, self.conv.out_grid
        self.resample = None
        if gate_grid is not None and not isinstance(gate_grid, HealpixGrid):
            raise TypeError(f"SphereBlock: gate_grid must be a HealpixGrid, got {type(gate_grid).__name__}")
        if gate_grid is None or gate_grid == self.out_grid:
            if gate_lmax is not None:
                raise ValueError("SphereBlock: gate_lmax is the band limit of the resampling onto gate_grid; it needs a "
                                 f"gate_grid finer than the convolution's output grid {self.out_grid!r}")
        else:
            if gate_grid.nside <= self.out_grid.nside:
                raise ValueError(f"SphereBlock: gate_grid must be finer than the convolution's output grid (nside "
                                 f"{self.out_grid.nside}), got {gate_grid!r}")
            top = 2 * self.out_grid.nside
            lmax = self.out_grid.nside if gate_lmax is None else check_int(
                gate_lmax, "gate_lmax", 0, who="SphereBlock", expected=f"an int from 0 to 2 nside = {top}")
            if lmax > top:
                raise ValueError(f"SphereBlock: gate_lmax must be an int from 0 to 2 nside = {top} of the convolution's "
                                 f"output grid, got {gate_lmax}")
            self.resample = SphereBandLimit(self.gate.in_type, self.out_grid, lmax, gate_grid, dtype=dtype)
            self.out_grid = gate_grid
        self.to(dtype=self.conv.weight.dtype, device=device)

    def forward(self, x):
        x = self.norm(self.conv(x))
        return self.gate(x if self.resample is None else self.resample(x))


class SphericalClassifier(nn.Module):
    """Rotation-invariant classifier: ``(B, in_type.dim, N_pix) -> (B, n_classes)``.

    Parameters
    ----------
    in_type : FieldType of the input (e.g. ``sphere_field_type((0, 1))`` for one scalar map)
    grid : HealpixGrid of the input
    n_classes : int
    widths : ``(n_scalars, n_vectors)`` per level; ``nside`` halves between levels
    band_limit : float in (0, 1] or None
        Spectral pooling (default ``0.5``): the input is projected onto degrees ``<= 2 L(nside)``, every
        level's output onto degrees ``<= L(nside')`` of the *next* level's ``nside'`` and resampled there
        (:class:`SphereBandLimit`), the last level's onto ``L(nside)`` before the invariant pooling, with
        ``L(n) = max(1, round(band_limit n))``. Every convolution then sees content well below its grid scale,
        where it is accurate to ~1e-4 under any rotation; with mean pooling (``None``: :class:`SpherePool`) the
        nonlinearities' grid-scale content reaches the next convolution and a trained model's logits move by
        ~10 % under random rotations instead of ~1 % (``docs/sphere_cnn.md``, "Band-limited features").
        Exact under the grid symmetries either way. Cost: the input projection is dense,
        ``(nside + 1)^2 x N_pix``; it builds in 0.3 s at nside 16 and 11 s (~1.8 GiB) at nside 32; above, pass
        ``None`` (or band-limit the data yourself and start at a coarser grid).
    nonlinearity_nside : int or None
        With spectral pooling: the coarsest grid on which the nonlinearities and the invariant pooling act
        (default 8; a power of two, at most ``max(8, 2 nside)`` of the input). A level coarser than that gates its
        band-limited features resampled to this grid (:class:`SphereBlock` ``gate_grid``) and the next
        projection reads them there, so the gate's products do not alias back onto the level's few pixels; the
        last level's fields are pooled on it. On spherical digits (nside 16, 4 levels) it takes a trained
        model's logit change under rotations from 1.13 % to 0.91 % on the same weights, and with the degree-4
        quadrature to 0.56 % (``docs/sphere_cnn.md``); a training step costs ~25 % more. ``None``: every level
        gates on its own grid. Mean pooling (``band_limit=None``) has no band limit to resample with: it
        ignores this option.
    strided : bool
        With spectral pooling (default True): every convolution evaluates its output only on the coarsest grid
        whose ``nside`` is at least its input's band limit ``L`` (a strided :class:`SphereConv`; the quadrature
        still runs over the level's own pixels), and the block resamples it onto the gate grid. In the continuum
        the output of a degree-``L`` input has degree ``<= L``, which that grid holds, so nothing but the
        convolution's discretization error above ``L`` changes when the level gates on a finer grid anyway (the
        default ``nonlinearity_nside=8`` for the levels coarser than nside 8: 6e-4 relative on the logits with the
        same weights); a level that gates on its own grid gains a projection onto degree ``L`` before its gate
        (~5 % on the logits with ``nonlinearity_nside=None``; invariant all the same). The convolutions of the
        levels after the first cost ~3x less (spherical digits, nside 16: a training step 118 ms unstrided, 79 ms
        strided; the trained model as invariant as before, ``docs/sphere_cnn.md``). ``False``: each level's
        convolution writes every pixel of its own grid (the same parameters: a state_dict loads either way).
    dtype, device : factory arguments, as in ``torch.nn`` (see the module docstring)
    **conv_kwargs : passed to every :class:`SphereConv` (``radius``, ``n_rings``, ``quadrature`` through the
        level's geometry; ``bias``)
    """

    def __init__(self, in_type: FieldType, grid: HealpixGrid, n_classes: int, widths: Sequence[Width] = ((8, 4), (16, 8)),
                 band_limit: float | None = 0.5, nonlinearity_nside: int | None = 8, strided: bool = True,
                 dtype: torch.dtype | None = None, device=None, **conv_kwargs):
        super().__init__()
        check_positive_int(n_classes, "n_classes", who="SphericalClassifier")
        if not isinstance(grid, HealpixGrid):
            raise TypeError(f"SphericalClassifier: grid must be a HealpixGrid, got {type(grid).__name__}")
        if nonlinearity_nside is not None:
            check_nonlinearity_nside(nonlinearity_nside, grid.nside, "nonlinearity_nside", "SphericalClassifier")
        widths = _check_widths(widths, "SphericalClassifier")
        if grid.nside < 2 ** (len(widths) - 1):
            raise ValueError(f"SphericalClassifier: {len(widths)} levels need nside >= {2 ** (len(widths) - 1)}, "
                             f"got {grid.nside}")
        degree = _band_limit(band_limit, "SphericalClassifier")
        if not isinstance(strided, bool):
            raise TypeError(f"SphericalClassifier: strided must be a bool, got {strided!r}")
        self.in_type, self.grid, self.band_limit, self.nonlinearity_nside = in_type, grid, band_limit, nonlinearity_nside
        self.strided = strided and degree is not None
        geometry, self.geometries = _level_geometries(conv_kwargs)
        conv_kwargs = _conv_kwargs(conv_kwargs, "SphericalClassifier")
        kw = dict(dtype=dtype, device=device)
        layers, t, g = [], in_type, grid
        src, lmax = g, None  # where the last block's output lives (its gate grid); the band limit of its input
        if degree is not None:
            lmax = min(2 * g.nside, 2 * degree(g))
            layers.append(SphereBandLimit(t, g, lmax, **kw))
        for i, (ns, nv) in enumerate(widths):
            if i > 0:
                coarse = g.coarsen()
                layers.append(SpherePool(t, g) if degree is None else SphereBandLimit(t, src, degree(coarse), coarse, **kw))
                g, lmax = coarse, None if degree is None else degree(coarse)
            gate = self._gate_grid(g, nonlinearity_nside if degree is not None else None)
            stride = self._stride(g, lmax) if self.strided else 1
            if stride > 1 and gate is None:  # resampled back onto the level's grid for the gate
                gate = g
            block = SphereBlock(t, g, ns, nv, stride=stride, dtype=dtype, geometry=geometry(g, stride), gate_grid=gate,
                                gate_lmax=None if gate is None else lmax, **conv_kwargs)
            layers.append(block)
            t, src = block.out_type, block.out_grid
        if degree is not None:
            layers.append(SphereBandLimit(t, src, degree(g), **kw))
        self.features = nn.Sequential(*layers)
        self.pool = InvariantPooling(t)
        self.head = nn.Linear(self.pool.n_out, n_classes, dtype=dtype)
        self.to(dtype=self.head.weight.dtype, device=device)

    @staticmethod
    def _gate_grid(grid: HealpixGrid, nside: int | None):
        """The grid a level's nonlinearity acts on: ``grid``, or the one with ``nside`` if that is finer."""
        return None if nside is None or nside <= grid.nside else HealpixGrid(nside, nest=grid.nest)

    @staticmethod
    def _stride(grid: HealpixGrid, lmax: int) -> int:
        """The stride to the coarsest grid with ``nside >= lmax`` (at least 1), no finer than ``grid``."""
        nside = grid.nside
        while nside > 1 and nside // 2 >= max(lmax, 1):
            nside //= 2
        return grid.nside // nside

    def forward(self, x):
        # the layers follow the input's dtype (as SphereConv does); so does the linear head
        p = self.pool(self.features(x))
        w, b = self.head.weight, self.head.bias
        return nn.functional.linear(p, w.to(p.dtype), None if b is None else b.to(p.dtype))


class SphericalUNet(nn.Module):
    """Equivariant encoder/decoder: ``(B, in_type.dim, N_pix) -> (B, out_type.dim, N_pix)``.

    Level ``i`` works at ``nside / 2^i`` with ``widths[i] = (n_scalars, n_vectors)``; the decoder unpools,
    concatenates the encoder's fields at the same level and applies a block; a last ``SphereConv`` maps to
    ``out_type`` (no nonlinearity, so outputs are unbounded fields).
    """

    def __init__(self, in_type: FieldType, out_type: FieldType, grid: HealpixGrid,
                 widths: Sequence[Width] = ((8, 8), (16, 16), (32, 16)), dtype: torch.dtype | None = None, device=None,
                 **conv_kwargs):
        super().__init__()
        widths = _check_widths(widths, "SphericalUNet")
        if grid.nside < 2 ** (len(widths) - 1):
            raise ValueError(f"SphericalUNet: {len(widths)} levels need nside >= {2 ** (len(widths) - 1)}, got {grid.nside}")
        self.in_type, self.out_type, self.grid, self.out_grid = in_type, out_type, grid, grid
        geometry, self.geometries = _level_geometries(conv_kwargs)
        conv_kwargs = _conv_kwargs(conv_kwargs, "SphericalUNet")
        self.down, self.pools = nn.ModuleList(), nn.ModuleList()
        t, g, skips = in_type, grid, []
        for i, (ns, nv) in enumerate(widths):
            if i > 0:
                self.pools.append(SpherePool(t, g))
                g = g.coarsen()
            block = SphereBlock(t, g, ns, nv, dtype=dtype, geometry=geometry(g), **conv_kwargs)
            self.down.append(block)
            t = block.out_type
            skips.append((t, g))
        self.unpools, self.up = nn.ModuleList(), nn.ModuleList()
        for i in range(len(widths) - 2, -1, -1):
            skip_type, g = skips[i]
            self.unpools.append(SphereUnpool(t, g))
            ns, nv = widths[i]
            block = SphereBlock(t + skip_type, g, ns, nv, dtype=dtype, geometry=geometry(g), **conv_kwargs)
            self.up.append(block)
            t = block.out_type
        self.head = SphereConv(t, out_type, grid, dtype=dtype, geometry=geometry(grid), **conv_kwargs)
        self.to(dtype=self.head.weight.dtype, device=device)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                x = self.pools[i - 1](x)
            x = block(x)
            skips.append(x)
        for unpool, block, skip in zip(self.unpools, self.up, reversed(skips[:-1])):
            x = block(torch.cat([unpool(x), skip], dim=1))
        return self.head(x)

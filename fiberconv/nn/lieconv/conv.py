r"""LieConv layers (Finzi et al. 2020, Algorithm 2) on lifted point clouds.

The layer computes, for every (query) element ``u_i``,

.. math::

    h_i = \frac{1}{n_i} \sum_{j \in \mathrm{nbhd}(i)} k_\theta(a_{ij}) f_j, \qquad
    a_{ij} = [e(u_i^{-1} u_j),\ q_i,\ q_j],

with ``e`` a smooth embedding of the group element (:meth:`Group.embed_log <fiberconv.spaces.groups.Group.embed_log>`,
e.g. ``(t, cos w, sin w)`` for SE(2)) by default, or the paper's ``log(u_i^{-1} u_j)``
(``pair_input="log"``), which jumps at the cut locus ``|w| = pi`` of a rotation part; or, with
``pair_input="smooth"`` (SO(2)), ``a_ij`` is replaced by a regularised version
(:meth:`~fiberconv.spaces.lie_groups.LieAction.smooth_pair_input`), smooth also at the fixed point
``x = 0``, where the section and hence ``e(u_i^{-1} u_j)`` and ``q = |x|`` are singular;
and the neighbourhood ``nbhd(i)``: the ``nbhd`` nearest valid elements in the distance
``d_ij^2 = ||log(u_i^{-1} u_j)||^2 + alpha ||q_i - q_j||^2`` that also satisfy ``d_ij <= radius``
(``n_i`` counts them). ``d`` is left-invariant, ``d(w u, w v) = d(u, v)``, so the layer is
equivariant: moving every element ``u -> w u`` leaves its output unchanged at each element.

The kernel ``k_theta: R^P -> R^{c_out x c_in}`` is ``W . m_theta`` with an MLP
``m_theta: R^P -> R^{c_mid}`` (Swish activations); the Efficient-PointConv reordering sums first,

.. math:: h_i = W \,\mathrm{vec}\Big(\frac{1}{n_i}\sum_j m_\theta(a_{ij})\, f_j^{\top}\Big),

so the ``(c_out x c_in)`` kernel is never formed per pair: memory ``O(B M k c_mid c_in)``.

Neighbourhoods are found without ``O(M^2)`` memory: the distances ``d_ij`` are computed for blocks of query
rows (at most ``block_pairs`` pairs at a time), each block keeps its ``k`` nearest, and the pair inputs
``a_ij`` are then formed for the chosen neighbours only. Memory is ``O(B M k + block_pairs)``; time stays
``O(B M^2)`` distance evaluations (a group logarithm each). Why not a library: torch-cluster's and pykeops'
k-NN search Euclidean (or fixed-formula) distances, while ``d`` needs the group's logarithm of
``u_i^{-1} u_j``; and torch-cluster has no wheel for torch 2.13 on PyPI (only a source package whose isolated
build fails for want of torch), while pykeops (a source package that compiles C++ kernels at run time) was not
tried for that reason.

Clouds are :class:`~fiberconv.nn.lieconv.lift.LiftedCloud` tuples; every module here maps a cloud
to a cloud (features ``(B, M, C)``), except :class:`GlobalPool` and :class:`LieResNet`.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.profiler import record_function

from ...spaces.groups import Seed
from ...spaces.lie_groups import LieAction
from ...validation import (
    check_float,
    check_matches,
    check_nonnegative_float,
    check_positive_float,
    check_positive_int,
    check_tensor,
)
from ..signature import TypeSignature
from .lift import LiftedCloud, _gather_rows, farthest_point_indices, lift_cloud, relative_logs, subsample

__all__ = ["Swish", "KernelMLP", "LieConv", "PointwiseLinear",
           "CloudSwish", "CloudLayerNorm", "BottleBlock", "GlobalPool", "LieResNet"]


class Swish(nn.Module):
    """``x sigmoid(x)``: smooth (twice differentiable, as Hamiltonian models need)."""

    def forward(self, x):
        return x * torch.sigmoid(x)


class KernelMLP(nn.Sequential):
    """``m_theta: R^P -> R^{c_mid}``: Linear-Swish-Linear-Swish-Linear."""

    def __init__(self, in_dim: int, c_mid: int = 16, hidden: int = 32):
        super().__init__(nn.Linear(in_dim, hidden), Swish(), nn.Linear(hidden, hidden), Swish(), nn.Linear(hidden, c_mid))


def _check_cloud_type(cloud, who: str, channels: int | None = None, module: nn.Module | None = None):
    if not isinstance(cloud, LiftedCloud):
        raise TypeError(f"{who}: expected a LiftedCloud (from lift_cloud), got {type(cloud).__name__}")
    check_tensor(cloud.f, "features", ("B", "M", "C" if channels is None else channels), who=who)
    check_matches(cloud.f, module, "features", who=who)


class LieConv(TypeSignature, nn.Module):
    r"""One LieConv layer: ``(B, M, c_in)`` features on lifted elements -> ``(B, M', c_out)``.

    Parameters
    ----------
    action : LieAction
        The group and its action (it fixes ``P = algebra_dim + 2 orbit_dim``).
    c_in, c_out : int
        Channels.
    nbhd : int or None
        Maximal neighbourhood size ``k`` (the nearest elements); ``None``: every element (no
        locality, so no neighbourhood membership can change as the points move).
    radius : float
        Neighbours farther than this (in ``d``) are dropped. Stored as a buffer; never changed by
        the layer (``inf``: only ``nbhd`` limits the neighbourhood).
    alpha : float
        Weight of the orbit distance ``alpha ||q_i - q_j||^2`` (a buffer).
    c_mid, hidden : int
        Width of ``m_theta``'s output and hidden layers.
    pair_input : str
        What ``m_theta`` sees of ``u_i^{-1} u_j``: ``"embed"`` (default) a smooth embedding of the
        element (:meth:`Group.embed_log <fiberconv.spaces.groups.Group.embed_log>`: e.g. ``(t, cos w, sin w)`` for SE(2)),
        continuous across the cut locus of ``log``; ``"log"`` the paper's raw ``log(u_i^{-1} u_j)``,
        which jumps where a relative angle crosses ``pi``; ``"smooth"`` (SO(2) only) *instead of*
        ``[e, q_i, q_j] = (cos w, sin w, r_i, r_j)`` its regularisation at the length ``smooth_scale``
        (:meth:`~fiberconv.spaces.lie_groups.SO2Action.smooth_pair_input`), smooth in the points also
        at the fixed point ``x = 0``, where ``e`` and ``q`` are not (needed where smoothness in ``x``
        matters, e.g. Hamiltonians). All are exactly equivariant.
    smooth_scale : float
        The length ``s`` of ``pair_input="smooth"`` (about the data's scale).
    ds_frac : float
        If ``< 1``, outputs only at ``ceil(ds_frac M_b)`` query elements per cloud (``M_b`` its valid
        elements), chosen by farthest-point subsampling in ``d`` (independent of the elements' order).
    block_pairs : int
        At most this many pair distances ``(batch x rows x M)`` are held at once by the neighbour search and
        the farthest-point sampling (at least one row per block). Changes memory and speed, never the result.
    """

    _signature_attrs = ("action", "pair_input")
    #: buffers that hold settings, not learned or running values (``radius`` may be inf)
    setting_buffers = ("radius", "alpha")

    def __init__(self, action: LieAction, c_in: int, c_out: int, nbhd: int | None = 32, radius: float = math.inf,
                 alpha: float = 0.2, c_mid: int = 16, hidden: int = 32, ds_frac: float = 1.0,
                 pair_input: str = "embed", smooth_scale: float = 1.0, block_pairs: int = 2**18):
        super().__init__()
        if not isinstance(action, LieAction):
            raise TypeError(f"LieConv: expected a LieAction, got {type(action).__name__}")
        c_in = check_positive_int(c_in, "c_in", who="LieConv")
        c_out = check_positive_int(c_out, "c_out", who="LieConv")
        c_mid = check_positive_int(c_mid, "c_mid", who="LieConv")
        hidden = check_positive_int(hidden, "hidden", who="LieConv")
        if nbhd is not None:
            nbhd = check_positive_int(nbhd, "nbhd", who="LieConv")
        radius = check_positive_float(radius, "radius", allow_inf=True, who="LieConv")
        alpha = check_nonnegative_float(alpha, "alpha", who="LieConv")
        in_01 = "a number in (0, 1]"
        ds_frac = check_float(ds_frac, "ds_frac", minimum=0.0, strict=True, who="LieConv", expected=in_01)
        if ds_frac > 1:
            raise ValueError(f"LieConv: ds_frac must be {in_01}, got {ds_frac!r}")
        if pair_input not in ("embed", "log", "smooth"):
            raise ValueError(f"LieConv: pair_input must be 'embed', 'log' or 'smooth', got {pair_input!r}")
        if pair_input == "smooth" and action.smooth_pair_dim is None:
            raise ValueError(f"LieConv: pair_input='smooth' is not implemented for {action.name} "
                             "(only for SO(2) on R^2); use 'embed'")
        self.smooth_scale = check_positive_float(smooth_scale, "smooth_scale", who="LieConv")
        self.block_pairs = check_positive_int(block_pairs, "block_pairs", who="LieConv")
        self.action, self.c_in, self.c_out, self.nbhd, self.ds_frac = action, c_in, c_out, nbhd, ds_frac
        self.pair_input = pair_input
        self.register_buffer("radius", torch.tensor(radius))
        self.register_buffer("alpha", torch.tensor(alpha))
        if pair_input == "smooth":
            in_dim = action.smooth_pair_dim
        else:
            pair_dim = action.group.embedding_dim if pair_input == "embed" else action.group.algebra_dim
            in_dim = pair_dim + 2 * action.orbit_dim
        self.kernel = KernelMLP(in_dim, c_mid, hidden)
        self.linear = nn.Linear(c_mid * c_in, c_out)

    def extra_repr(self):
        return (f"{self.action.name}, {self.c_in} -> {self.c_out}, nbhd={self.nbhd}, "
                f"radius={float(self.radius):g}, alpha={float(self.alpha):g}, ds_frac={self.ds_frac}, "
                f"pair_input={self.pair_input}")

    def relative_logs(self, ui: torch.Tensor, uj: torch.Tensor) -> torch.Tensor:
        """``log(u_i^{-1} u_j)`` (broadcasting): what the distance and the kernel input are made of."""
        return relative_logs(self.action, ui, uj)

    def distance2(self, cloud: LiftedCloud, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``d_ij^2 = ||log(u_i^{-1} u_j)||^2 + alpha ||q_i - q_j||^2`` for the rows ``i`` in ``rows (B, R)`` (default:
        all) and every ``j``: ``(B, R, M)``."""
        ne = len(self.action.group.element_shape)
        ui = cloud.u if rows is None else _gather_rows(cloud.u, rows)
        a = self.relative_logs(ui.unsqueeze(-ne - 1), cloud.u.unsqueeze(-ne - 2))
        d2 = (a * a).sum(-1)
        if cloud.q.shape[-1]:
            qi = cloud.q if rows is None else _gather_rows(cloud.q, rows)
            d2 = d2 + self.alpha.to(d2.dtype) * (qi.unsqueeze(2) - cloud.q.unsqueeze(1)).pow(2).sum(-1)
        return d2

    def _block_rows(self, cloud: LiftedCloud) -> int:
        B, M = cloud.mask.shape
        return max(1, self.block_pairs // (B * M))

    def query_indices(self, cloud: LiftedCloud):
        """Farthest-point query elements ``(idx, valid)`` if ``ds_frac < 1``, else ``None``."""
        if self.ds_frac >= 1:
            return None
        # per cloud, keep ceil(ds_frac * its valid count): independent of the padding
        n = max(1, math.ceil(self.ds_frac * cloud.mask.shape[1]))
        keep = torch.ceil(self.ds_frac * cloud.mask.sum(-1).to(torch.float64)).clamp_min(1).long()
        return farthest_point_indices(lambda rows: self.distance2(cloud, rows), cloud.mask, n, keep,
                                      block_rows=self._block_rows(cloud))

    def neighbours(self, cloud: LiftedCloud, rows: torch.Tensor | None = None):
        """The ``k`` nearest valid elements of each query element ``rows (B, Mq)`` (default: all), searched in
        blocks of rows: ``(nd2, nidx)``, both ``(B, Mq, k)``, nearest first. NaN distances (NaN/Inf points) rank
        first, so that they propagate to the outputs instead of silently leaving the neighbourhood; padding
        ranks last (the caller masks it)."""
        B, M = cloud.mask.shape
        Mq = M if rows is None else rows.shape[1]
        k = M if self.nbhd is None else min(self.nbhd, M)
        step = self._block_rows(cloud)
        out_d, out_i = [], []
        with torch.no_grad():  # the neighbourhood is a discrete choice: no gradient through it
            for r0 in range(0, Mq, step):
                block = torch.arange(r0, min(Mq, r0 + step), device=cloud.mask.device).expand(B, -1)
                if rows is not None:
                    block = torch.gather(rows, 1, block)
                d2 = self.distance2(cloud, block)
                d2 = torch.where(torch.isnan(d2), torch.full((), -math.inf, dtype=d2.dtype, device=d2.device), d2)
                d2 = d2.masked_fill(~cloud.mask.unsqueeze(1), math.inf)
                nd2, nidx = torch.topk(d2, k, dim=-1, largest=False)
                out_d.append(nd2)
                out_i.append(nidx)
        return torch.cat(out_d, 1), torch.cat(out_i, 1)

    def forward(self, cloud: LiftedCloud, query=None) -> LiftedCloud:
        """Convolve; ``query=(idx, valid)`` overrides the farthest-point choice of output elements."""
        _check_cloud_type(cloud, "LieConv", self.c_in, self)
        if query is None:
            query = self.query_indices(cloud)
        out_cloud = cloud if query is None else subsample(cloud, *query)
        with record_function("lieconv.neighbours"):  # labels for torch.profiler (bench/bench_lieconv_parts.py)
            nd2, nidx = self.neighbours(cloud, None if query is None else query[0])  # (B, Mq, k)
        B, Mq, k = nidx.shape
        r2 = self.radius.to(nd2.dtype) ** 2
        nb_mask = _gather_rows(cloud.mask, nidx) & ~(nd2 > r2) & out_cloud.mask.unsqueeze(-1)
        with record_function("lieconv.pair_input"):
            # pair inputs a_ij for the chosen neighbours only: (B, Mq, k, A), with gradients through u
            ne = len(self.action.group.element_shape)
            a = self.relative_logs(out_cloud.u.unsqueeze(-ne - 1), _gather_rows(cloud.u, nidx))
            qi = out_cloud.q.unsqueeze(2).expand(B, Mq, k, out_cloud.q.shape[-1])
            qj = _gather_rows(cloud.q, nidx)
            if self.pair_input == "smooth":
                inp = self.action.smooth_pair_input(a, qi, qj, self.smooth_scale)
            else:
                inp = torch.cat([self.action.group.embed_log(a) if self.pair_input == "embed" else a, qi, qj], dim=-1)
        with record_function("lieconv.kernel_mlp"):
            kern = self.kernel(inp)  # (B, Mq, k, c_mid)
        # mask with where, not a product: NaN/Inf at a non-neighbour (padding) must not leak (NaN * 0 = NaN)
        keep = nb_mask.unsqueeze(-1)
        kern = torch.where(keep, kern, torch.zeros((), dtype=kern.dtype, device=kern.device))
        fj = _gather_rows(cloud.f, nidx)  # (B, Mq, k, c_in)
        fj = torch.where(keep, fj, torch.zeros((), dtype=fj.dtype, device=fj.device))
        n_i = nb_mask.sum(-1).clamp_min(1).to(kern.dtype)
        agg = torch.einsum("bikm,bikc->bimc", kern, fj) / n_i[..., None, None]
        h = self.linear(agg.reshape(B, Mq, -1))
        return out_cloud.with_features(h)


class PointwiseLinear(nn.Linear):
    """``nn.Linear`` on the features of a cloud (padding stays zero)."""

    def forward(self, cloud: LiftedCloud) -> LiftedCloud:
        _check_cloud_type(cloud, "PointwiseLinear", self.in_features, self)
        return cloud.with_features(super().forward(cloud.f))


class CloudSwish(nn.Module):
    """Swish on the features of a cloud."""

    def forward(self, cloud: LiftedCloud) -> LiftedCloud:
        return cloud.with_features(cloud.f * torch.sigmoid(cloud.f))


class CloudLayerNorm(nn.LayerNorm):
    """Per-element ``LayerNorm`` over the channels: pointwise, so equivariant, and with no running statistics."""

    def forward(self, cloud: LiftedCloud) -> LiftedCloud:
        return cloud.with_features(super().forward(cloud.f))


class BottleBlock(nn.Module):
    """Residual bottleneck: ``f + Linear(Swish(N(LieConv(Swish(N(Linear(Swish(N(f)))))))))``, width ``c / 4``.

    ``N`` is :class:`CloudLayerNorm` if ``norm`` (else the identity). With ``ds_frac < 1`` the shortcut
    is restricted to the same farthest-point query elements.
    """

    def __init__(self, action: LieAction, channels: int, bottleneck: int = 4, norm: bool = True, **conv_kwargs):
        super().__init__()
        channels = check_positive_int(channels, "channels", who="BottleBlock")
        bottleneck = check_positive_int(bottleneck, "bottleneck", who="BottleBlock")
        mid = max(1, channels // bottleneck)
        N = (lambda c: CloudLayerNorm(c)) if norm else (lambda c: nn.Identity())
        self.pre = nn.Sequential(N(channels), CloudSwish(), PointwiseLinear(channels, mid), N(mid), CloudSwish())
        self.conv = LieConv(action, mid, mid, **conv_kwargs)
        self.post = nn.Sequential(N(mid), CloudSwish(), PointwiseLinear(mid, channels))

    def forward(self, cloud: LiftedCloud) -> LiftedCloud:
        query = self.conv.query_indices(cloud)
        out = self.post(self.conv(self.pre(cloud), query=query))
        short = cloud if query is None else subsample(cloud, *query)
        return out.with_features(out.f + short.f)


class GlobalPool(nn.Module):
    """Masked mean (or sum) over the elements: ``(B, M, C) -> (B, C)``."""

    def __init__(self, mean: bool = True):
        super().__init__()
        self.mean = mean

    def forward(self, cloud: LiftedCloud) -> torch.Tensor:
        m = cloud.mask.unsqueeze(-1)
        total = torch.where(m, cloud.f, torch.zeros((), dtype=cloud.f.dtype, device=cloud.f.device)).sum(1)
        return total / m.sum(1).clamp_min(1).to(total.dtype) if self.mean else total


class LieResNet(nn.Module):
    """Lift -> Linear -> ``num_layers`` :class:`BottleBlock` -> Swish -> Linear -> :class:`GlobalPool`.

    ``norm``: per-element layer norms inside the blocks (needed for classification to train; the
    Hamiltonian model leaves them out).

    ``forward(x (B, N, d), f (B, N, c_in), mask (B, N) or None, seed=None) -> (B, c_out)``; the lift
    (and its stabilizer samples) is redone on every call. ``lift_kwargs`` go to
    :func:`~fiberconv.nn.lieconv.lift.lift_cloud` (``n_samples``, ``stabilizer``); ``conv_kwargs`` to
    :class:`LieConv` (``nbhd``, ``radius``, ``alpha``, ``ds_frac``, ...).
    """

    def __init__(self, action: LieAction, c_in: int, c_out: int, channels: int = 64, num_layers: int = 2,
                 pool_mean: bool = True, norm: bool = True, lift_kwargs: dict | None = None, **conv_kwargs):
        super().__init__()
        c_in = check_positive_int(c_in, "c_in", who="LieResNet")
        check_positive_int(c_out, "c_out", who="LieResNet")
        channels = check_positive_int(channels, "channels", who="LieResNet")
        num_layers = check_positive_int(num_layers, "num_layers", who="LieResNet")
        self.action, self.c_in = action, c_in
        self.lift_kwargs = dict(lift_kwargs or {})
        self.embed = PointwiseLinear(c_in, channels)
        self.blocks = nn.Sequential(*[BottleBlock(action, channels, norm=norm, **conv_kwargs) for _ in range(num_layers)])
        self.head = nn.Sequential(CloudSwish(), PointwiseLinear(channels, c_out))
        self.pool = GlobalPool(pool_mean)

    def lift(self, x, f, mask=None, seed: Seed = None) -> LiftedCloud:
        return lift_cloud(self.action, x, f, mask, seed=seed, **self.lift_kwargs)

    def forward(self, x, f, mask=None, seed: Seed = None):
        check_tensor(f, "features f", ("batch", "n_points", self.c_in), who="LieResNet")
        cloud = self.lift(x, f, mask, seed)
        return self.pool(self.head(self.blocks(self.embed(cloud))))

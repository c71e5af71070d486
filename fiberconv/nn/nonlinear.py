r"""Equivariant nonlinearities, batch normalization and invariant pooling for any field type.

All modules act on tensors ``(batch, C, *points)`` with ``C = field_type.dim`` (the local-section
encoding of :mod:`fiberconv.fields`), for fields over any bundle (``S^2`` with SO(2) irreps, ``R^3``
with SO(3) irreps). They rely only on each field's representation being orthogonal, so that the norm
of a field is invariant and scalars (trivial 1-d fields) are unchanged by the group:

* :class:`NormNonlinearity`: scalars ``-> act(f)``; other fields ``f -> f act(|f| + b) / |f|``;
* :class:`GatedNonlinearity`: ``(scalars, gates, fields) -> (act(scalars), sigmoid(gates) * fields)``;
* :class:`FieldBatchNorm`: scalars standardised; other fields divided by their RMS norm;
* :class:`InvariantPooling`: the mean over points of scalars and of field norms.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..fields import FieldType
from ..spaces.representations import Representation, SO2Regular
from ..validation import check_float, check_nonnegative_int
from .signature import TypeSignature

__all__ = ["NormNonlinearity", "GatedNonlinearity", "FieldBatchNorm", "sync_field_batch_norm", "InvariantPooling",
           "check_field_tensor"]


def check_field_tensor(x: torch.Tensor, field_type: FieldType, who: str) -> torch.Tensor:
    """Validate ``x (batch, C, *points)`` against ``field_type``: type, shape and floating dtype only.

    NaN and Inf are not checked; they propagate (the NaN policy of :mod:`fiberconv.validation`)."""
    return field_type.check_tensor(x, who)


class FieldGroups(nn.Module):
    """Channel indices of the scalar fields and of the other fields grouped by dimension (buffers)."""

    def __init__(self, field_type: FieldType):
        super().__init__()
        self.field_type = field_type
        scalars: list[int] = []
        by_dim = {}
        for sl, rep in zip(field_type.slices, field_type.fields):
            if rep.is_scalar:
                scalars.append(sl.start)
            else:
                by_dim.setdefault(rep.dim, []).append(list(range(sl.start, sl.stop)))
        self.register_buffer("scalar_idx", torch.tensor(scalars, dtype=torch.long), persistent=False)
        self.dims = sorted(by_dim)
        for d in self.dims:
            self.register_buffer(f"idx_{d}", torch.tensor(by_dim[d], dtype=torch.long), persistent=False)
        self.n_fields = sum(len(by_dim[d]) for d in self.dims)
        for name, t in zip(("field_channels", "channel_field", "field_dim"), self._layout()):
            self.register_buffer(name, t, persistent=False)

    def field_layout(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(field_channels, channel_field, field_dim)``: the non-scalar fields' channels (grouped as in
        :meth:`groups`), each one's field index, and every field's dimension (float64); rebuilt here for
        modules pickled before these buffers existed."""
        if "field_channels" in self._buffers:
            return self.field_channels, self.channel_field, self.field_dim
        return self._layout()

    def _layout(self):
        groups = self.groups()
        device = self.scalar_idx.device
        if not groups:
            empty = torch.zeros(0, dtype=torch.long, device=device)
            return empty, empty, torch.zeros(0, dtype=torch.float64, device=device)
        channels = torch.cat([idx.reshape(-1) for _, idx, _ in groups])
        field = torch.cat([off + torch.arange(idx.shape[0], device=device).repeat_interleave(d) for d, idx, off in groups])
        dims = torch.cat([torch.full((idx.shape[0],), float(d), dtype=torch.float64, device=device) for d, idx, _ in groups])
        return channels, field, dims

    def groups(self):
        """``[(d, idx (n_d, d), offset)]``: offset counts the non-scalar fields before this group."""
        out, offset = [], 0
        for d in self.dims:
            idx = getattr(self, f"idx_{d}")
            out.append((d, idx, offset))
            offset += idx.shape[0]
        return out


class NormNonlinearity(TypeSignature, nn.Module):
    r"""Norm nonlinearity: ``f -> f * act(|f| + b_f) / |f|`` for every non-scalar field (one learnable
    bias per field), and ``act`` pointwise on scalar fields. Equivariant because ``|rho(h) f| = |f|``.

    Parameters
    ----------
    field_type : FieldType
    activation : callable, default ``torch.relu``
    scalar_activation : callable, default ``torch.relu``
    """

    def __init__(self, field_type: FieldType, activation: Callable = torch.relu, scalar_activation: Callable = torch.relu,
                 eps: float = 1e-12):
        super().__init__()
        self.in_type = self.out_type = field_type
        self.fields = FieldGroups(field_type)
        self.activation, self.scalar_activation, self.eps = activation, scalar_activation, eps
        self.bias = nn.Parameter(torch.zeros(self.fields.n_fields))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_field_tensor(x, self.in_type, "NormNonlinearity")
        out = torch.empty_like(x)
        if self.fields.scalar_idx.numel():
            out[:, self.fields.scalar_idx] = self.scalar_activation(x[:, self.fields.scalar_idx])
        spatial = (1,) * (x.dim() - 2)
        for d, idx, off in self.fields.groups():
            f = x[:, idx]  # (B, n, d, *P)
            norm = torch.sqrt((f * f).sum(2, keepdim=True) + self.eps)
            b = self.bias[off : off + idx.shape[0]].view(1, -1, 1, *spatial).to(x.dtype)
            out[:, idx.reshape(-1)] = (f * (self.activation(norm + b) / norm)).flatten(1, 2)
        return out


class GatedNonlinearity(TypeSignature, nn.Module):
    r"""Gated nonlinearity: input ``scalars + gates + fields``, output ``scalars + fields``.

    ``scalars -> act(scalars)``, ``field_i -> sigmoid(gate_i) field_i``: the gates are scalar fields,
    so their sigmoid is invariant.

    Parameters
    ----------
    bundle : the principal bundle of the fields
    n_scalars : number of plain scalar fields (may be 0)
    gated : representations of the gated fields (one gate each)
    scalar : the scalar representation of the bundle's fibre group (``SO2Irrep(0)`` / ``SO3Irrep(0)``)
    """

    def __init__(self, bundle, n_scalars: int, gated: Sequence[Representation], scalar: Representation,
                 activation: Callable = torch.relu, gate_activation: Callable = torch.sigmoid):
        super().__init__()
        if not scalar.is_scalar:
            raise ValueError(f"GatedNonlinearity: `scalar` must be the trivial representation, got {scalar!r}")
        check_nonnegative_int(n_scalars, "n_scalars", who="GatedNonlinearity")
        gated = list(gated)
        if not gated and n_scalars == 0:
            raise ValueError("GatedNonlinearity: needs at least one scalar or gated field")
        self.n_scalars, self.n_gated = n_scalars, len(gated)
        self.in_type = FieldType(bundle, [(scalar, n_scalars + len(gated))] + gated)
        self.out_type = FieldType(bundle, [(scalar, n_scalars)] + gated)
        gate_of_channel = []
        for i, rep in enumerate(gated):
            gate_of_channel += [i] * rep.dim
        self.register_buffer("gate_index", torch.tensor(gate_of_channel, dtype=torch.long), persistent=False)
        self.activation, self.gate_activation = activation, gate_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_field_tensor(x, self.in_type, "GatedNonlinearity")
        s, g = self.n_scalars, self.n_gated
        # split, not three slices: its backward is one cat, where each slice's would fill a zero tensor of x's size
        scalars, gates, fields = x.split([s, g, x.shape[1] - s - g], dim=1)
        fields = fields * self.gate_activation(gates).index_select(1, self.gate_index)
        return torch.cat([self.activation(scalars), fields], dim=1)


class FieldBatchNorm(TypeSignature, nn.Module):
    r"""Equivariant batch normalization, per field.

    Scalar fields: ``(f - mean) / sqrt(var + eps) * w + b``. Other fields: ``f / sqrt(E|f|^2 / d + eps) * w``
    (no mean subtraction and no bias, which would break equivariance). Statistics are averaged over the
    batch and all points; running averages are buffers, present in train and eval alike.

    With ``sync_stats = True`` (:func:`sync_field_batch_norm`) and a :mod:`torch.distributed` process group
    initialised, training statistics are averaged over the batches of all processes (as
    :class:`torch.nn.SyncBatchNorm` does), so that data-parallel training normalises as one process would.
    """

    def __init__(self, field_type: FieldType, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True):
        super().__init__()
        self.in_type = self.out_type = field_type
        self.fields = FieldGroups(field_type)
        self.eps = check_float(eps, "eps", minimum=0.0, strict=True, who="FieldBatchNorm", expected="a positive number")
        self.momentum = check_float(momentum, "momentum", minimum=0.0, who="FieldBatchNorm",
                                    expected="a number in [0, 1] (None, torch's cumulative average, is not supported)")
        if self.momentum > 1:
            raise ValueError(f"FieldBatchNorm: momentum must be a number in [0, 1], got {momentum!r}")
        self.sync_stats = False
        ns, nf = self.fields.scalar_idx.numel(), self.fields.n_fields
        self.register_buffer("running_mean", torch.zeros(ns))
        self.register_buffer("running_var", torch.ones(ns))
        self.register_buffer("running_sq", torch.ones(nf))
        self.affine = affine
        if affine:
            self.scalar_weight = nn.Parameter(torch.ones(ns))
            self.scalar_bias = nn.Parameter(torch.zeros(ns))
            self.field_weight = nn.Parameter(torch.ones(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_field_tensor(x, self.in_type, "FieldBatchNorm")
        if x.numel() == 0:  # an empty batch has no statistics: running averages untouched (as torch's BatchNorm)
            return x.clone()
        # per-channel statistics, then one fused x * scale + shift over x as it lies in memory: no gathers,
        # concatenations or permutes of the features
        reduce = [0] + list(range(2, x.dim()))
        g = self.fields
        sidx, (fidx, field, field_dim) = g.scalar_idx, g.field_layout()
        if self.training:
            # two plain passes (torch.var_mean, Welford, is ~10x slower on the CPU); the variance from the centred
            # values, not E[x^2] - E[x]^2, which cancels catastrophically for channels with a large mean
            view = (1, -1) + (1,) * (x.dim() - 2)
            mean = self._global_mean(x, reduce) if self._synced() else x.mean(reduce)
            centred = x - mean.view(view)
            var = self._global_mean(centred * centred, reduce) if self._synced() else (centred * centred).mean(reduce)
            sq = var + mean * mean
            s_mean, s_var = mean.index_select(0, sidx), var.index_select(0, sidx)
            # a field's E|f|^2 / d: the mean of its components' second moments
            f_sq = sq.new_zeros(g.n_fields).index_add(0, field, sq.index_select(0, fidx)) / field_dim.to(x.dtype)
            with torch.no_grad():
                self.running_mean.lerp_(s_mean.detach().to(self.running_mean.dtype), self.momentum)
                self.running_var.lerp_(s_var.detach().to(self.running_var.dtype), self.momentum)
                self.running_sq.lerp_(f_sq.detach().to(self.running_sq.dtype), self.momentum)
        else:
            s_mean, s_var = self.running_mean.to(x.dtype), self.running_var.to(x.dtype)
            f_sq = self.running_sq.to(x.dtype)
        s_scale, f_scale = torch.rsqrt(s_var + self.eps), torch.rsqrt(f_sq + self.eps)
        if self.affine:
            s_scale = s_scale * self.scalar_weight.to(x.dtype)
            f_scale = f_scale * self.field_weight.to(x.dtype)
        s_shift = -s_mean * s_scale
        if self.affine:
            s_shift = s_shift + self.scalar_bias.to(x.dtype)
        c = x.shape[1]
        scale = x.new_empty(c).index_copy(0, sidx, s_scale).index_copy(0, fidx, f_scale.index_select(0, field))
        shift = x.new_zeros(c).index_copy(0, sidx, s_shift)
        view = (1, c) + (1,) * (x.dim() - 2)
        return torch.addcmul(shift.view(view), x, scale.view(view))

    def _synced(self) -> bool:
        # getattr: modules pickled before the attribute existed
        return getattr(self, "sync_stats", False) and torch.distributed.is_available() and torch.distributed.is_initialized()

    @staticmethod
    def _global_mean(t: torch.Tensor, dims) -> torch.Tensor:
        """Mean of ``t`` over ``dims`` and over all processes (a differentiable all-reduce of sums and counts)."""
        from torch.distributed.nn.functional import all_reduce

        count = torch.tensor([t.numel() / t.shape[1]], dtype=t.dtype, device=t.device)
        with warnings.catch_warnings():  # its suggested successor (_functional_collectives) is private: keep this one
            warnings.filterwarnings("ignore", message=".*all_reduce.*deprecated", category=FutureWarning)
            total = all_reduce(torch.cat([t.sum(dims), count]))
        return total[:-1] / total[-1]


def sync_field_batch_norm(module: nn.Module, sync: bool = True) -> nn.Module:
    """Set ``sync_stats`` on every :class:`FieldBatchNorm` in ``module`` (for data-parallel training, before
    wrapping it in :class:`~torch.nn.parallel.DistributedDataParallel`); returns ``module``."""
    for m in module.modules():
        if isinstance(m, FieldBatchNorm):
            m.sync_stats = bool(sync)
    return module


class InvariantPooling(nn.Module):
    r"""Invariant features ``(batch, n_fields)``: the mean over points of every scalar field and of the
    norm of every other field (norms first: frame components at different points do not add up to an
    invariant)."""

    def __init__(self, field_type: FieldType, eps: float = 1e-12):
        super().__init__()
        self.in_type = field_type
        self.fields = FieldGroups(field_type)
        self.eps = eps
        self.n_out = self.fields.scalar_idx.numel() + self.fields.n_fields

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_field_tensor(x, self.in_type, "InvariantPooling")
        feats = [x[:, self.fields.scalar_idx].flatten(2).mean(-1)]
        for d, idx, off in self.fields.groups():
            f = x[:, idx]
            feats.append(torch.sqrt((f * f).sum(2) + self.eps).flatten(2).mean(-1))
        return torch.cat(feats, dim=1)


class RegularNonlinearity(TypeSignature, nn.Module):
    r"""Pointwise nonlinearity for band-limited regular fields (``SO2Regular(M)``) by sampling the fibre.

    A regular field holds the Fourier coefficients ``c`` of a function on the circle of frequencies
    ``<= M``; the layer evaluates it at ``n`` equispaced angles, applies ``act`` pointwise and projects
    back onto frequencies ``<= M``: ``c -> A^+ act(A c)`` with ``A`` the sampling matrix. Rotating the
    frame by a multiple of ``2 pi / n`` shifts the samples cyclically, which commutes with ``act``, so the
    layer is exactly equivariant under those (``n`` even: the grid symmetries of HEALPix, whose twists
    are ``0`` and ``pi``) and approximately under the rest (the error falls as ``n`` grows). Other fields
    pass through :class:`NormNonlinearity`-style: scalars through ``act``, the rest unchanged.
    """

    def __init__(self, field_type: FieldType, n_samples: int = None, activation: Callable = torch.relu):
        super().__init__()
        self.in_type = self.out_type = field_type
        self.activation = activation
        regular = [(sl, r) for sl, r in zip(field_type.slices, field_type.fields) if isinstance(r, SO2Regular)]
        if not regular:
            raise ValueError(f"RegularNonlinearity: {field_type} has no SO2Regular fields")
        ms = {r.M for _, r in regular}
        if len(ms) != 1:
            raise ValueError(f"RegularNonlinearity: all regular fields must share the band limit M, got {sorted(ms)}")
        M = ms.pop()
        n = n_samples if n_samples is not None else 2 * (M + 1)
        A = regular[0][1].sampling_matrix(n, dtype=torch.float64)  # (n, 2M+1)
        self.register_buffer("sample", A, persistent=False)
        self.register_buffer("project", torch.linalg.pinv(A), persistent=False)
        self.register_buffer("regular_idx", torch.tensor([list(range(sl.start, sl.stop)) for sl, _ in regular]), persistent=False)
        scalars = [sl.start for sl, r in zip(field_type.slices, field_type.fields) if r.is_scalar]
        self.register_buffer("scalar_idx", torch.tensor(scalars, dtype=torch.long), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_field_tensor(x, self.in_type, "RegularNonlinearity")
        out = x.clone()
        if self.scalar_idx.numel():
            out[:, self.scalar_idx] = self.activation(x[:, self.scalar_idx])
        c = x[:, self.regular_idx].movedim(2, -1)  # (B, n_fields, *P, 2M+1)
        v = self.activation(c @ self.sample.to(x.dtype).T) @ self.project.to(x.dtype).T
        out[:, self.regular_idx.reshape(-1)] = v.movedim(-1, 2).flatten(1, 2)
        return out


__all__.append("RegularNonlinearity")

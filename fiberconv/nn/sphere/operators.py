r"""Sparse filter operators of :class:`~fiberconv.nn.sphere.SphereConv`: CSR matrices and their products.

One operator per input frequency ``m1`` holds the sampled filters at every (output point, neighbour)
pair; its transpose, kept as a CSR matrix of its own, serves the backward pass.
"""
from __future__ import annotations

import warnings

import torch

__all__ = ["filter_operator", "SparseMatmul"]


def _csr_mm(s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``s @ x`` for CSR ``s``, written straight into a new tensor: on the CPU ``s @ x`` zero-fills its result
    and copies it once more (~30% of the product's time); ``addmm`` with ``beta = 0`` never reads ``out``.
    Elsewhere the plain product: the addmm form has not been measured on CUDA."""
    if x.device.type != "cpu":
        return s @ x
    out = x.new_empty(s.shape[0], x.shape[1])
    return torch.addmm(out, s, x, beta=0, out=out)


class SparseMatmul(torch.autograd.Function):
    """``S @ X`` for a constant sparse ``S``; the backward multiplies by ``S^T``, kept as its own CSR matrix
    (a CSR product is about twice as fast as the CSC view of the same arrays)."""

    @staticmethod
    def forward(ctx, x, s, s_t):
        ctx.s_t = s_t
        return _csr_mm(s, x)

    @staticmethod
    def backward(ctx, grad):
        return _csr_mm(ctx.s_t, grad.contiguous()), None, None


def filter_operator(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, order: torch.Tensor,
                     values_t: torch.Tensor, n_rows: int, n_cols: int):
    r"""``(S, S^T)``, both CSR, for ``n_b = values.shape[0]`` stacked blocks with the same sparsity.

    The ``P`` pairs ``(rows[p], cols[p])`` are sorted by row; block ``b`` holds ``values[b]`` at them, and
    ``S`` is ``(n_b * n_rows, n_cols)`` with row ``b * n_rows + r`` for block ``b``, row ``r``. ``order``
    sorts the pairs by ``cols`` (stably) and ``values_t = values.T[order]`` ``(P, n_b)``, which the caller
    may form more cheaply than by this gather. In ``S^T`` (``(n_cols, n_b * n_rows)``) the entries of a
    row are in pair-major order ``(pair, block)``, so every array is a plain gather by ``order`` (the
    column indices within a row are then not sorted, which the CSR product does not need).
    """
    n_b, n_pairs = values.shape
    # 32-bit indices where they fit: less memory, and the products run ~10% faster
    itype = torch.int32 if max(n_b * n_pairs, n_b * n_rows, n_cols) < 2**31 else torch.long
    crow = torch.zeros(n_b * n_rows + 1, dtype=itype)
    torch.cumsum(torch.bincount(rows, minlength=n_rows).repeat(n_b), 0, out=crow[1:])
    crow_t = torch.zeros(n_cols + 1, dtype=itype)
    torch.cumsum(torch.bincount(cols, minlength=n_cols) * n_b, 0, out=crow_t[1:])
    cols_t = (rows.to(itype).index_select(0, order).unsqueeze(1) + n_rows * torch.arange(n_b, dtype=itype)).reshape(-1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")
        s = torch.sparse_csr_tensor(crow, cols.to(itype).repeat(n_b), values.reshape(-1), (n_b * n_rows, n_cols),
                                    check_invariants=False)
        s_t = torch.sparse_csr_tensor(crow_t, cols_t, values_t.reshape(-1), (n_cols, n_b * n_rows),
                                      check_invariants=False)
    return s, s_t

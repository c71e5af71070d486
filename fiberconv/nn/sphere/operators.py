r"""Sparse filter operators of :class:`~fiberconv.nn.sphere.SphereConv`: CSR arrays and their product.

An operator ``S (n_rows, n_cols)`` is held as the three *dense* arrays of its CSR form (``crow``,
``col``, ``values``), and its transpose ``S^T`` as three more: a forward pass multiplies by ``S``, the
backward pass by ``S^T`` (a CSR product is about twice as fast as the CSC view of the same arrays).
The product is the custom operator ``torch.ops.fiberconv.csr_mm`` (:func:`csr_mm`): opaque to
``torch.compile`` and ``torch.export`` (a fake implementation gives its shape, so neither traces into
torch's sparse kernels), differentiable in ``x`` (the operator is a constant), and it runs for every
floating dtype: float16/bfloat16 on the CPU go through a float32 product (``values`` are then float32, see
:meth:`~fiberconv.nn.sphere.conv_geometry.SphereConvGeometry.operator`), with the inputs cast up and the
result cast back. On the ``meta`` device the fake implementation runs (shapes only).
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor

__all__ = ["filter_operator", "csr_mm", "compute_dtype"]


def compute_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The dtype of the operator values for inputs of ``dtype`` on ``device``: float32 for float16/bfloat16
    on the CPU (torch's CPU sparse kernels have no half-precision product), ``dtype`` otherwise."""
    if dtype in (torch.float16, torch.bfloat16) and device.type == "cpu":
        return torch.float32
    return dtype


def _product(x: Tensor, crow: Tensor, col: Tensor, values: Tensor, n_rows: int) -> Tensor:
    """``S @ x`` for the CSR arrays of ``S (n_rows, x.shape[0])``, in ``values.dtype``, cast to ``x.dtype``."""
    xc = x.to(values.dtype).contiguous()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        s = torch.sparse_csr_tensor(crow, col, values, (n_rows, x.shape[0]), check_invariants=False)
    if xc.device.type == "cpu":
        # addmm with beta = 0 writes straight into a new tensor: ``s @ x`` zero-fills its result and copies it
        # once more (~30% of the product's time on the CPU)
        out = xc.new_empty(n_rows, xc.shape[1])
        out = torch.addmm(out, s, xc, beta=0, out=out)
    else:
        out = s @ xc
    return out.to(x.dtype)


@torch.library.custom_op("fiberconv::csr_mm", mutates_args=())
def csr_mm(x: Tensor, crow: Tensor, col: Tensor, values: Tensor, crow_t: Tensor, col_t: Tensor,
           values_t: Tensor, n_rows: int) -> Tensor:
    r"""``S @ x`` for a constant CSR operator ``S (n_rows, n_cols)`` given by its arrays.

    Parameters
    ----------
    x : ``(n_cols, k)`` dense, any floating dtype
    crow, col, values : CSR arrays of ``S`` (``(n_rows + 1,)``, ``(nnz,)``, ``(nnz,)``)
    crow_t, col_t, values_t : CSR arrays of ``S^T`` (used by the backward pass only)
    n_rows : rows of ``S``

    Returns
    -------
    ``(n_rows, k)`` in ``x``'s dtype; ``d x = S^T d out``.
    """
    return _product(x, crow, col, values, n_rows)


@csr_mm.register_fake
def _(x, crow, col, values, crow_t, col_t, values_t, n_rows):
    return x.new_empty(n_rows, x.shape[1])


def _setup_context(ctx, inputs, output):
    x, crow, col, values, crow_t, col_t, values_t, _ = inputs
    ctx.save_for_backward(crow, col, values, crow_t, col_t, values_t)
    ctx.n_cols = x.shape[0]


def _backward(ctx, grad):
    crow, col, values, crow_t, col_t, values_t = ctx.saved_tensors
    gx = csr_mm(grad.contiguous(), crow_t, col_t, values_t, crow, col, values, ctx.n_cols)
    return gx, None, None, None, None, None, None, None


csr_mm.register_autograd(_backward, setup_context=_setup_context)


def filter_operator(rows: Tensor, cols: Tensor, values: Tensor, order: Tensor, values_t: Tensor,
                    n_rows: int, n_cols: int) -> tuple[Tensor, ...]:
    r"""CSR arrays of ``S`` and ``S^T`` for ``n_b = values.shape[0]`` stacked blocks with the same sparsity.

    The ``P`` pairs ``(rows[p], cols[p])`` are sorted by row; block ``b`` holds ``values[b]`` at them, and
    ``S`` is ``(n_b * n_rows, n_cols)`` with row ``b * n_rows + r`` for block ``b``, row ``r``. ``order``
    sorts the pairs by ``cols`` (stably) and ``values_t = values.T[order]`` ``(P, n_b)``. In ``S^T``
    (``(n_cols, n_b * n_rows)``) the entries of a row are in pair-major order ``(pair, block)``, so every
    array is a plain gather by ``order`` (the column indices within a row are then not sorted, which the
    CSR product does not need).

    Returns
    -------
    ``(crow, col, values, crow_t, col_t, values_t)``: dense tensors, indices int32 where they fit (less
    memory, and the products run ~10% faster).
    """
    n_b, n_pairs = values.shape
    itype = torch.int32 if max(n_b * n_pairs, n_b * n_rows, n_cols) < 2**31 else torch.long
    crow = torch.zeros(n_b * n_rows + 1, dtype=itype)
    torch.cumsum(torch.bincount(rows, minlength=n_rows).repeat(n_b), 0, out=crow[1:])
    crow_t = torch.zeros(n_cols + 1, dtype=itype)
    torch.cumsum(torch.bincount(cols, minlength=n_cols) * n_b, 0, out=crow_t[1:])
    cols_t = (rows.to(itype).index_select(0, order).unsqueeze(1) + n_rows * torch.arange(n_b, dtype=itype)).reshape(-1)
    return crow, cols.to(itype).repeat(n_b), values.reshape(-1), crow_t, cols_t, values_t.reshape(-1)

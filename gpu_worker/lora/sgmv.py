"""Punica's SGMV as two Triton kernels: every adapter's low-rank term for a whole mixed batch in two launches.

A batch sorted by adapter is a list of segments (start row, end row, adapter slot). Looping over the
segments costs two matmul launches per segment per module - with 64 adapters in a decode step that is
thousands of tiny launches, and a GPU spends the step launching (bench/openlora.py on an H200: one
4096-wide module, 64 rows, 64 adapters: 5.5 ms as a loop, 47 µs here). Here each module costs two
launches whatever the number of adapters:

- shrink: y[rows] = x[rows] · A[slot]ᵀ for every segment, one program per (segment, block of rows),
  the adapter's A read from the pool in place (`pool.AdapterPool`), accumulated in float32;
- expand: out[rows] += y[rows] · B[slot]ᵀ, one program per (segment, block of rows, block of columns),
  B already scaled by the adapter's alpha / r.
A row's result depends on its own row and its adapter alone (the reduction order is fixed by the block
sizes), so batch neighbours do not change it. Ranks are padded to a multiple of 16 in the pool (zeros),
because Triton's `dot` needs every side ≥ 16; a decode segment of one row fills one of `BLOCK_M` rows,
which costs nothing that matters in a step bound by reading the adapters' weights.

Triton compiles for CUDA; on a machine without a GPU `TRITON_INTERPRET=1` runs the same kernels on the
CPU with NumPy (tests/pooled_methods.py, run by tests/test_openlora.py), so the kernels are checked
on every machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

try:  # Triton compiles for CUDA (or interprets, with TRITON_INTERPRET=1); without it only `available` is used
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - every supported install has it (torch depends on it on Linux)
    triton = None

BLOCK_M, BLOCK_K, BLOCK_N = 16, 64, 64


def available(device: torch.device | str) -> bool:
    """Whether the kernels can run for tensors on `device`: a CUDA device with Triton, or the interpreter."""
    if triton is None:
        return False
    return torch.device(device).type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


@dataclass(frozen=True)
class Segments:
    """One step's segments with an adapter, on the device: `table` [S, 3] int32 rows (start, end, slot) -
    segments need not touch, rows of the base model may lie between them - and the longest segment's
    length (the launch grid's size)."""

    table: torch.Tensor
    longest: int

    @classmethod
    def of(cls, spans: list[tuple[int, int, int]], device: torch.device | str) -> Segments:
        """From (start, end, slot) triples."""
        table = torch.tensor(spans or [[0, 0, 0]], dtype=torch.int32, device=device)
        return cls(table, max((end - start for start, end, _ in spans), default=0))


if triton is not None:
    @triton.jit
    def _segment_block(seg_ptr, BLOCK_M: tl.constexpr):
        """This program's rows (a block of its segment's), which of them exist, and the segment's slot;
        offsets in 64 bits, as a large pool's passes 2³¹."""
        seg = tl.program_id(0)
        end = tl.load(seg_ptr + seg * 3 + 1)
        slot = tl.load(seg_ptr + seg * 3 + 2).to(tl.int64)
        rows = (tl.load(seg_ptr + seg * 3) + tl.program_id(1) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
        return rows, rows < end, slot

    @triton.jit
    def _shrink(x_ptr, a_ptr, y_ptr, seg_ptr, K, stride_x, stride_as, stride_ar, stride_y,
                R: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr):
        rows, live, slot = _segment_block(seg_ptr, BLOCK_M)
        ranks = tl.arange(0, R)
        acc = tl.zeros((BLOCK_M, R), dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            ks = k0 + tl.arange(0, BLOCK_K)
            inside = ks < K
            x = tl.load(x_ptr + rows[:, None] * stride_x + ks[None, :], mask=live[:, None] & inside[None, :],
                        other=0.0)
            a = tl.load(a_ptr + slot * stride_as + ranks[None, :] * stride_ar + ks[:, None],
                        mask=inside[:, None], other=0.0)
            acc += tl.dot(x, a, input_precision=PRECISION)
        tl.store(y_ptr + rows[:, None] * stride_y + ranks[None, :], acc, mask=live[:, None])

    @triton.jit
    def _expand(y_ptr, b_ptr, out_ptr, seg_ptr, N, stride_y, stride_bs, stride_bn, stride_o,
                R: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, PRECISION: tl.constexpr):
        rows, live, slot = _segment_block(seg_ptr, BLOCK_M)
        cols = tl.program_id(2) * BLOCK_N + tl.arange(0, BLOCK_N)
        inside = cols < N
        ranks = tl.arange(0, R)
        b = tl.load(b_ptr + slot * stride_bs + cols[None, :] * stride_bn + ranks[:, None], mask=inside[None, :],
                    other=0.0)
        y = tl.load(y_ptr + rows[:, None] * stride_y + ranks[None, :], mask=live[:, None], other=0.0).to(b.dtype)
        where = out_ptr + rows[:, None] * stride_o + cols[None, :]
        keep = live[:, None] & inside[None, :]
        total = tl.load(where, mask=keep, other=0.0).to(tl.float32) + tl.dot(y, b, input_precision=PRECISION)
        tl.store(where, total.to(out_ptr.dtype.element_ty), mask=keep)


def add_lora(out: torch.Tensor, x: torch.Tensor, a_pool: torch.Tensor, b_pool: torch.Tensor,
             segments: Segments) -> None:
    """out[rows] += (x[rows] · A[slot]ᵀ) · B[slot]ᵀ for every segment, in place.
    x [rows, in], out [rows, out] contiguous; a_pool [slots, R, in], b_pool [slots, out, R] (B scaled)."""
    if segments.longest == 0:
        return
    rank = a_pool.shape[1]
    # float32 stays exact (no TF32 rounding); bf16/fp16 go through the tensor cores as they are
    precision = "ieee" if x.dtype == torch.float32 else "tf32"
    y = torch.empty(x.shape[0], rank, device=x.device, dtype=torch.float32)
    count = segments.table.shape[0]
    m_blocks = triton.cdiv(segments.longest, BLOCK_M)
    _shrink[(count, m_blocks)](x, a_pool, y, segments.table, x.shape[1], x.stride(0), a_pool.stride(0),
                               a_pool.stride(1), y.stride(0), R=rank, BLOCK_M=BLOCK_M, BLOCK_K=BLOCK_K,
                               PRECISION=precision)
    n = out.shape[1]
    _expand[(count, m_blocks, triton.cdiv(n, BLOCK_N))](y, b_pool, out, segments.table, n, y.stride(0),
                                                        b_pool.stride(0), b_pool.stride(1), out.stride(0), R=rank,
                                                        BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, PRECISION=precision)

"""Punica's BGMV without a kernel of our own: each row gathers its own adapter's factors, in embedding bags.

A decode step with many adapters has about one row per adapter, so a loop over segments is a loop over
rows: two tiny matmuls per adapter per module, thousands per step, and the step costs what the loop
costs (bench/openlora.py, CPU, hidden 256, 64 rows: 16 ms with one adapter, 66 ms with 64). Gathering
each row's factors into a batch for `bmm` copies every factor once per row before reading it again.

Here the factors stay where they are, in the adapter pool (`pool.AdapterPool`, transposed layout), and
PyTorch's `embedding_bag` does the gather and the reduction in one pass per module:

- shrink: y[row] = Σ_j x[row, j] · Aᵀ[slot, j, :] - a bag per row whose indices are its slot's `in`
  rows of the table Aᵀ [slots·in, R], weighted by the row's inputs;
- expand: out[row] += Σ_r y[row, r] · Bᵀ[slot, r, :] - a bag per row over its slot's R rows of
  Bᵀ [slots·R, out] (B already scaled by alpha / r), weighted by y.
Rows without an adapter get empty bags (zeros). A bag is reduced on its own, in its own index order, so
a row's result depends on its own row and adapter alone, whatever shares the batch: this path needs
no padding to be batch-invariant (tests/test_openlora.py checks it bit for bit). Work per module is
two operator calls whatever the number of adapters; what grows with K is only the bytes of distinct
factors read. It runs on any device PyTorch's `embedding_bag` runs on; the CPU is where it matters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class Rows:
    """One step's rows as bags: each row's adapter slot (-1: the base model), and per table width the
    bags' indices and offsets, built once a step and shared by every module of that width."""

    def __init__(self, spans: list[tuple[int, int, int]], rows: int, device: torch.device | str):
        """From (start, end, slot) triples over `rows` rows in all."""
        slots = torch.full((rows,), -1, dtype=torch.long)
        for start, end, slot in spans:
            slots[start:end] = slot
        self.device = torch.device(device)
        live = slots >= 0
        self.live = torch.nonzero(live)[:, 0].to(self.device)
        self.all_live = bool(live.all())
        self._slots = slots[live].to(self.device)
        self._before = (torch.cumsum(live, 0) - live.long()).to(self.device)  # adapter rows ahead of each row
        self._bags: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def bags(self, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices and offsets of every row's bag over a table of `width` rows per slot."""
        if width not in self._bags:
            span = torch.arange(width, device=self.device)
            self._bags[width] = ((self._slots[:, None] * width + span).reshape(-1), self._before * width)
        return self._bags[width]

    def weights(self, values: torch.Tensor) -> torch.Tensor:
        """The per-index weights of the bags: the adapter rows of `values`, flattened."""
        return (values if self.all_live else values.index_select(0, self.live)).reshape(-1)


def add_lora(out: torch.Tensor, x: torch.Tensor, a_pool: torch.Tensor, b_pool: torch.Tensor, rows: Rows) -> None:
    """out[row] += (x[row] · A[slot]ᵀ) · B[slot]ᵀ for every row with an adapter, in place.
    a_pool [slots, R, in] and b_pool [slots, out, R] (B scaled), best in the pool's transposed layout,
    where their transposes are the tables without a copy."""
    if rows.live.numel() == 0:
        return
    slots, rank, fan_in = a_pool.shape
    a_table = a_pool.transpose(1, 2).reshape(slots * fan_in, rank)
    b_table = b_pool.transpose(1, 2).reshape(slots * rank, b_pool.shape[1])
    indices, offsets = rows.bags(fan_in)
    y = F.embedding_bag(indices, a_table, offsets, mode="sum", per_sample_weights=rows.weights(x))
    indices, offsets = rows.bags(rank)
    out += F.embedding_bag(indices, b_table, offsets, mode="sum", per_sample_weights=rows.weights(y))

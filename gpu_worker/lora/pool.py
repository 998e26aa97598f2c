"""Resident adapter slots for the SGMV kernels and the BGMV path (Punica's and S-LoRA's layout).

Per target module, one tensor holds every resident adapter's A [slots, R, in] and one its B
[slots, out, R], with B multiplied by the adapter's scaling and ranks zero-padded to R (grown when a
larger adapter arrives). The SGMV kernels read them as they are, R a multiple of 16 (their tiles);
with `transposed` the same shapes are views of storage laid out [slots, in, R] and [slots, R, out], so
that their transposes are the contiguous tables bgmv.py's embedding bags gather rows from - there R is
the largest resident rank itself: a bag reads every column of a row, so padding rank 8 to 16 would
double the bytes a step with many adapters reads (SmolLM2, 64 rank-8 adapters on every linear: 1.25 GB
a decode step instead of 625 MB), for zeros. An adapter is copied into a slot
the first time a step needs it and stays until its slot is wanted for another; a step's adapters are
never evicted by that same step. Modules an adapter does not target stay zero in its slot, so
nothing is added there. The tensors hold as many slots as have been wanted so far (doubling up to
`capacity`), so a pool sized for 128 adapters over a large base costs memory only when that many
adapters are in use.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection

import torch

from .adapters import LoRA

RANK_MULTIPLE = 16  # the SGMV kernels' tile; bgmv's tables need no padding


class AdapterPool:
    def __init__(self, shapes: dict[str, tuple[int, int]], capacity: int, device: torch.device | str,
                 dtype: torch.dtype, check: Callable[[LoRA], None], transposed: bool = False):
        """`shapes`: module name → (in, out) of every linear layer an adapter may target; `check`: the base
        model's refusal of an adapter that does not fit it (`LlamaRuntime.check`), run on each load;
        `transposed`: the storage layout (see above)."""
        if capacity < 1:
            raise ValueError("an adapter pool needs at least one slot")
        self.shapes, self.capacity, self.check = shapes, capacity, check
        self.device, self.dtype, self.transposed = torch.device(device), dtype, transposed
        self.rank_multiple = 1 if transposed else RANK_MULTIPLE
        self.rank = self.rank_multiple
        self.allocated = 1  # slots the tensors hold now
        self.a: dict[str, torch.Tensor] = {}
        self.b: dict[str, torch.Tensor] = {}
        self._slots: OrderedDict[bytes, int] = OrderedDict()  # adapter hash → slot, least recently used first
        self.loads = 0

    def slots(self, adapters: list[LoRA]) -> list[int]:
        """Each adapter's slot (loading the ones not resident), all of them resident together afterwards."""
        distinct = {a.hash: a for a in adapters}
        if len(distinct) > self.capacity:
            raise ValueError(f"{len(distinct)} adapters in one step exceed the pool's {self.capacity} slots")
        for key, adapter in distinct.items():
            if key in self._slots:
                self._slots.move_to_end(key)
            else:
                self._load(adapter, distinct.keys())
        return [self._slots[a.hash] for a in adapters]

    def _load(self, adapter: LoRA, wanted: Collection[bytes]) -> None:
        self.check(adapter)
        if adapter.rank > self.rank:
            self._resize(self.allocated, -(-adapter.rank // self.rank_multiple) * self.rank_multiple)
        if len(self._slots) == self.allocated < self.capacity:
            self._resize(min(2 * self.allocated, self.capacity), self.rank)
        if len(self._slots) < self.allocated:
            slot = len(self._slots)
        else:
            victim = next(key for key in self._slots if key not in wanted)
            slot = self._slots.pop(victim)
        for name in self.a:  # a reused slot must not keep the previous adapter's factors
            self.a[name][slot].zero_()
            self.b[name][slot].zero_()
        for name, (a, b) in adapter.factors.items():
            pool_a, pool_b = self._module(name)
            pool_a[slot, :a.shape[0]] = a.to(self.device, self.dtype)
            pool_b[slot, :, :b.shape[1]] = (b * adapter.scaling).to(self.device, self.dtype)
        self._slots[adapter.hash] = slot
        self.loads += 1

    def _module(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if name not in self.a:
            fan_in, fan_out = self.shapes[name]
            self.a[name], self.b[name] = self._zeros(self.rank, fan_in), self._zeros(fan_out, self.rank)
        return self.a[name], self.b[name]

    def _zeros(self, rows: int, columns: int) -> torch.Tensor:
        """A zero [allocated slots, rows, columns] tensor, stored [slots, columns, rows] when `transposed`."""
        if self.transposed:
            return torch.zeros(self.allocated, columns, rows, device=self.device, dtype=self.dtype).transpose(1, 2)
        return torch.zeros(self.allocated, rows, columns, device=self.device, dtype=self.dtype)

    def _resize(self, slots: int, rank: int) -> None:
        """Reallocate every module's tensors with `slots` slots and rank `rank` (neither smaller), keeping
        the resident adapters where they are."""
        held, self.allocated = self.allocated, slots
        for name in self.a:
            a, b = self._zeros(rank, self.a[name].shape[2]), self._zeros(self.b[name].shape[1], rank)
            a[:held, :self.rank] = self.a[name]
            b[:held, :, :self.rank] = self.b[name]
            self.a[name], self.b[name] = a, b
        self.rank = rank

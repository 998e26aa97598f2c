"""One request's keys and values, per layer, in buffers that grow by doubling.

A decode step adds one position per layer. Appending with `torch.cat` copied the whole past every
step (and padding the batch's caches for one attention copied them again), so a step's cost grew with
the context: 64 requests at hidden 256 took 20 ms a step with 8 positions cached and 267 ms with 512,
over 80% of it copying and zero-filling caches (bench/openlora.py's `decode_context` gives 15 and
41 ms now, with model.py's attention request by request past `PAD_BELOW` on the CPU). Here a step
writes its new positions in place, and a buffer is copied only when it doubles - amortised O(1) per
position, at most twice the memory the positions need. A request that knows how long it can get (the
batcher's: prompt + max_new) reserves that much at once: one allocation, no copies, and the batcher's
KV budget is then the memory its caches take.

Buffers are time-first ([capacity, kv heads, head dim]), so the filled part is a contiguous view that
attention reads as it is.
"""

from __future__ import annotations

import torch

MIN_CAPACITY = 16


class KVCache:
    """Keys and values per layer: `append` a step's new positions, read back views of everything so far."""

    def __init__(self, reserve: int = 0):
        """`reserve`: the positions to allocate at the first append (0: grow by doubling from the start)."""
        self.reserve = reserve
        self._keys: list[torch.Tensor] = []    # per layer: [capacity, kv, hd]
        self._values: list[torch.Tensor] = []
        self._lengths: list[int] = []

    def __len__(self) -> int:
        """Positions cached (what every layer holds once a step has run through all of them)."""
        return self._lengths[0] if self._lengths else 0

    @property
    def capacity(self) -> int:
        """Positions the buffers hold before they must grow again."""
        return self._keys[0].shape[0] if self._keys else 0

    def append(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add a step's positions to `layer` (keys, values [t, kv, hd]; layers in order, each once a
        step) and return all of that layer's keys and values so far, as views [length, kv, hd]."""
        if layer == len(self._keys):
            self._keys.append(keys.new_empty(0, *keys.shape[1:]))
            self._values.append(values.new_empty(0, *values.shape[1:]))
            self._lengths.append(0)
        elif layer > len(self._keys):
            raise IndexError(f"layer {layer} appended before layer {len(self._keys)}")
        start, added = self._lengths[layer], keys.shape[0]
        end = start + added
        if end > self._keys[layer].shape[0]:
            self._grow(layer, self.reserve if end <= self.reserve else max(MIN_CAPACITY, 1 << (end - 1).bit_length()))
        self._keys[layer][start:end] = keys
        self._values[layer][start:end] = values
        self._lengths[layer] = end
        return self._keys[layer][:end], self._values[layer][:end]

    def _grow(self, layer: int, capacity: int) -> None:
        """Move a layer's positions into buffers of `capacity` positions."""
        filled = self._lengths[layer]
        for buffers in (self._keys, self._values):
            old = buffers[layer]
            buffers[layer] = old.new_empty(capacity, *old.shape[1:])
            buffers[layer][:filled] = old[:filled]

"""The adapter cache: adapters on disk, hot ones in host memory and on the device, each tier bounded.

Both tiers are byte-bounded LRUs. Getting an adapter for a batch promotes it to the device tier
(loading from the host tier, or from disk, as needed) and evicts the least recently used ones beyond
the bound; `prefetch` warms the host tier for queued requests so a batch rarely waits on the disk.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import torch

from .adapters import AdapterError, LoRA, read_adapter


class _Tier:
    def __init__(self, limit: int):
        self.limit = limit
        self.items: OrderedDict[bytes, LoRA] = OrderedDict()
        self.used = 0
        self.evictions = 0

    def get(self, key: bytes) -> LoRA | None:
        found = self.items.get(key)
        if found is not None:
            self.items.move_to_end(key)
        return found

    def put(self, adapter: LoRA) -> None:
        if adapter.nbytes > self.limit:
            raise AdapterError(f"adapter {adapter.hash.hex()} ({adapter.nbytes} bytes) exceeds the tier's "
                               f"{self.limit}-byte bound")
        self.items[adapter.hash] = adapter
        self.used += adapter.nbytes
        while self.used > self.limit:
            _, evicted = self.items.popitem(last=False)
            self.used -= evicted.nbytes
            self.evictions += 1


class AdapterCache:
    def __init__(self, host_bytes: int, device_bytes: int, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        """`device`, `dtype`: where and in which precision the serving runtime wants its adapters."""
        self.registry: dict[bytes, Path] = {}
        self.host, self.device_tier = _Tier(host_bytes), _Tier(device_bytes)
        self.device, self.dtype = torch.device(device), dtype
        self.disk_loads = 0
        self._lock = threading.Lock()

    def register(self, directory: Path, expected: bytes) -> bytes:
        """Check an adapter directory against its registered hash and make it servable."""
        adapter = read_adapter(directory, expected)
        with self._lock:
            self.registry[adapter.hash] = directory
        return adapter.hash

    def _host(self, key: bytes) -> LoRA:
        found = self.host.get(key)
        if found is None:
            if key not in self.registry:
                raise AdapterError(f"adapter {key.hex()} is not registered")
            found = read_adapter(self.registry[key], key)  # re-checked on every load from disk
            self.disk_loads += 1
            self.host.put(found)
        return found

    def get(self, key: bytes) -> LoRA:
        """The adapter on the serving device (promoted through the tiers as needed)."""
        with self._lock:
            found = self.device_tier.get(key)
            if found is None:
                host = self._host(key)
                as_served = self.device.type == "cpu" and self.dtype == torch.float32
                found = host if as_served else host.to(self.device, self.dtype)
                self.device_tier.put(found)
            return found

    def prefetch(self, keys) -> None:
        with self._lock:
            for key in keys:
                if self.device_tier.get(key) is None:
                    self._host(key)

    def stats(self) -> dict:
        return {"registered": len(self.registry), "host": len(self.host.items), "host_bytes": self.host.used,
                "device": len(self.device_tier.items), "device_bytes": self.device_tier.used,
                "disk_loads": self.disk_loads, "evictions": self.host.evictions + self.device_tier.evictions}

"""The OpenLoRA engine: one base model, many adapters registered by content hash, one batching loop.

What the worker's gRPC service delegates to (`LoadBase`, `LoadAdapter`, `ListAdapters`, `Generate`,
`Stats`): it owns the byte-bounded adapter cache and the continuous batcher over the loaded base.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import ArtifactError
from .adapters import AdapterError, LoRA, read_adapter
from .batching import Batcher, Request
from .cache import AdapterCache
from .model import LlamaRuntime


class LoRAEngine:
    def __init__(self, device: str = "cpu", host_bytes: int = 2 << 30, device_bytes: int = 1 << 30):
        self.device = device
        self.cache = AdapterCache(host_bytes, device_bytes, device)
        self.batcher: Batcher | None = None
        self._lock = threading.Lock()

    def load_base(self, directory: str | Path, max_batch: int = 64) -> None:
        """Serve this base model (a Hugging Face LLaMA-family directory) from now on, replacing any other."""
        try:
            runtime = LlamaRuntime(Path(directory), self.device)
        except (OSError, ValueError, KeyError) as exc:
            raise ArtifactError(f"cannot load base model: {exc}") from exc
        with self._lock:
            if self.batcher is not None:
                self.batcher.close()
            self.batcher = Batcher(runtime, self.cache, max_batch=max_batch)

    def load_adapter(self, directory: str | Path, expected_hash: bytes | None = None) -> LoRA:
        """Register a PEFT adapter directory; refused unless its bytes hash to `expected_hash` (when given)."""
        try:
            adapter = read_adapter(Path(directory), expected_hash)
            self.cache.register(Path(directory), adapter.hash)
        except AdapterError as exc:
            raise ArtifactError(str(exc)) from exc
        return adapter

    def adapters(self) -> list[bytes]:
        return sorted(self.cache.registry)

    def submit(self, adapter: bytes | None, prompt: list[int], max_new_tokens: int) -> Request:
        """Queue a generation (tokens stream to the returned request's queue); needs a loaded base."""
        if self.batcher is None:
            raise RuntimeError("no base model loaded: call LoadBase first")
        return self.batcher.submit(adapter, prompt, max_new_tokens)

    def stats(self) -> dict:
        if self.batcher is not None:
            return self.batcher.stats()
        return {**self.cache.stats(), "active": 0, "queued": 0, "steps": 0, "completed": 0}

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

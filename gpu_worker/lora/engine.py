"""The OpenLoRA engine: one base model, many adapters registered by content hash, one batching loop.

What the worker's gRPC service delegates to (`LoadBase`, `LoadAdapter`, `ListAdapters`, `Generate`,
`Stats`): it owns the byte-bounded adapter cache and the continuous batcher over the loaded base. Paid
generation (`gpu_worker.paid`) serves registered base models by their on-chain artifact hash, each with
its own batch-invariant batcher over the same adapter cache (`serve_base`, `submit_paid`).
"""

from __future__ import annotations

import threading
from pathlib import Path

from safetensors import SafetensorError

from ..errors import ArtifactError
from .adapters import AdapterError, LoRA, read_adapter
from .batching import Batcher, Request
from .cache import AdapterCache
from .model import LlamaRuntime
from .sampling import Sampler

# what a base directory that cannot be served raises on loading: unreadable, malformed config or weights
UNSERVABLE = (OSError, ValueError, KeyError, SafetensorError)


class LoRAEngine:
    def __init__(self, device: str = "cpu", host_bytes: int = 2 << 30, device_bytes: int = 1 << 30):
        self.device = device
        self.cache = AdapterCache(host_bytes, device_bytes, device)
        self.batcher: Batcher | None = None
        self.bases: dict[bytes, Batcher] = {}
        self._lock = threading.Lock()

    def load_base(self, directory: str | Path, max_batch: int = 64) -> None:
        """Serve this base model (a Hugging Face LLaMA-family directory) from now on, replacing any other -
        once the new one is ready: one that cannot be served leaves the running one serving."""
        try:
            batcher = Batcher(LlamaRuntime(Path(directory), self.device), self.cache, max_batch=max_batch)
        except UNSERVABLE as exc:
            raise ArtifactError(f"cannot load base model: {exc}") from exc
        with self._lock:
            replaced, self.batcher = self.batcher, batcher
        if replaced is not None:
            replaced.close()

    def serve_base(self, key: bytes, directory: str | Path, max_batch: int = 64) -> None:
        """Serve a registered base model (by its artifact hash) for paid requests, if not served yet."""
        with self._lock:
            if key in self.bases:
                return
            try:
                runtime = LlamaRuntime(Path(directory), self.device, batch_invariant=True)
                self.bases[key] = Batcher(runtime, self.cache, max_batch=max_batch)
            except UNSERVABLE as exc:
                raise ArtifactError(f"cannot load base model {key.hex()}: {exc}") from exc

    def submit_paid(self, base: bytes, adapter: bytes, prompt: list[int], max_new_tokens: int,
                    sampler: Sampler, stop: frozenset[int]) -> Request:
        """Queue a paid generation on a served base (see `serve_base`), reading each token's log-probabilities:
        generation starts when the worker sees the request, before its requester asks for anything, and one
        batched log-softmax and top-k per step is small beside the step's forward."""
        return self.bases[base].submit(adapter, prompt, max_new_tokens, sampler, stop, logprobs=True)

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
        """The adapter cache's figures, with the batch figures summed over every batcher."""
        out = {**self.cache.stats(), "active": 0, "queued": 0, "steps": 0, "completed": 0}
        for batcher in self._batchers():
            found = batcher.stats()
            for key in ("active", "queued", "steps", "completed"):
                out[key] += found[key]
        return out

    def _batchers(self) -> list[Batcher]:
        return [b for b in (self.batcher, *self.bases.values()) if b is not None]

    def close(self) -> None:
        for batcher in self._batchers():
            batcher.close()

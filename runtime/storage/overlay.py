"""The transactional overlay: block layer → extrinsic layer → nested transaction layers.

Writes never touch the backend directly. Each layer is a dict of key → value (None = deleted);
reads look from the top layer down and fall through to the committed state. Committing a layer
merges it into the one below; rolling back drops it. This is how a failed call's writes vanish
while the fee and nonce charged in the layer below stay (Substrate's `transactional`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .backend import KVBackend

MAX_DEPTH = 64  # nested transaction layers; a runaway recursion fails clearly instead of exhausting memory


class TransactionDepthError(RuntimeError):
    """Too many nested transaction layers."""


class Overlay:
    """Layered, uncommitted changes on top of a backend's committed state (under `prefix`)."""

    def __init__(self, backend: KVBackend, prefix: bytes = b""):
        self._backend = backend
        self._prefix = prefix
        self._layers: list[dict[bytes, bytes | None]] = [{}]

    @property
    def depth(self) -> int:
        return len(self._layers)

    def get(self, key: bytes) -> bytes | None:
        for layer in reversed(self._layers):
            if key in layer:
                return layer[key]
        return self._backend.get(self._prefix + key)

    def put(self, key: bytes, value: bytes) -> None:
        self._layers[-1][key] = value

    def delete(self, key: bytes) -> None:
        self._layers[-1][key] = None

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Current (key, value) pairs under `prefix`, ascending by key, overlay merged over backend."""
        pending: dict[bytes, bytes | None] = {}
        for layer in self._layers:
            for key, value in layer.items():
                if key.startswith(prefix):
                    pending[key] = value
        strip = len(self._prefix)
        merged: dict[bytes, bytes | None] = {key[strip:]: value
                                             for key, value in self._backend.iter_prefix(self._prefix + prefix)}
        merged.update(pending)
        for key in sorted(merged):
            value = merged[key]
            if value is not None:
                yield key, value

    def begin(self) -> None:
        if len(self._layers) >= MAX_DEPTH:
            raise TransactionDepthError(f"more than {MAX_DEPTH} nested storage transactions")
        self._layers.append({})

    def commit_layer(self) -> None:
        if len(self._layers) < 2:
            raise RuntimeError("no open transaction layer to commit")
        top = self._layers.pop()
        self._layers[-1].update(top)

    def rollback_layer(self) -> None:
        if len(self._layers) < 2:
            raise RuntimeError("no open transaction layer to roll back")
        self._layers.pop()

    @contextmanager
    def transaction(self):
        """Run a block of writes atomically: any exception rolls all of them back and propagates."""
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback_layer()
            raise
        self.commit_layer()

    def top_changes(self) -> dict[bytes, bytes | None]:
        """The writes of the innermost open layer (what a rollback would discard)."""
        return dict(self._layers[-1])

    def changes(self) -> dict[bytes, bytes | None]:
        """All pending changes; only meaningful once every nested layer is closed."""
        if len(self._layers) != 1:
            raise RuntimeError(f"{len(self._layers) - 1} transaction layer(s) still open")
        return self._layers[0]

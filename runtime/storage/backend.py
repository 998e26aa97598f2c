"""Key-value backends behind one interface: RocksDB on disk (default) and in-memory (tests).

The backend is written only by `write_batch`, which applies a whole block (state, block data,
height and root) atomically; the RocksDB backend syncs it to disk before returning, because RocksDB
does not fsync by default and a block reported as committed must survive a crash.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

from sortedcontainers import SortedDict


class KVBackend(Protocol):
    """What the runtime needs from a key-value store."""

    def get(self, key: bytes) -> bytes | None: ...

    def iter_prefix(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs whose key starts with `prefix`, in ascending byte order (from `start` on, when
        given: a page cursor inside the prefix)."""
        ...

    def write_batch(self, changes: Mapping[bytes, bytes | None]) -> None:
        """Apply puts (bytes) and deletes (None) atomically and durably."""
        ...

    def close(self) -> None: ...


class MemoryBackend:
    """Sorted in-memory store with the same semantics as RocksDB (for tests and throwaway chains)."""

    def __init__(self) -> None:
        self._data: SortedDict = SortedDict()

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def iter_prefix(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        for key in list(self._data.irange(minimum=max(prefix, start or prefix))):
            if not key.startswith(prefix):
                break
            yield key, self._data[key]

    def write_batch(self, changes: Mapping[bytes, bytes | None]) -> None:
        for key, value in changes.items():
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = value

    def copy(self) -> MemoryBackend:
        """An independent copy (for replaying a chain from the same state)."""
        twin = MemoryBackend()
        twin._data = self._data.copy()
        return twin

    def close(self) -> None:
        pass


class RocksBackend:
    """RocksDB through rocksdict, with raw bytes keys/values and synced batch writes."""

    def __init__(self, path: str | Path, cache_mib: int = 256):
        from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteOptions

        Path(path).mkdir(parents=True, exist_ok=True)
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        # Point reads dominate (accounts, nonces): a bloom filter skips SST files without the key, and
        # a block cache larger than the 8 MiB default keeps a million-account state's hot blocks in memory.
        table = BlockBasedOptions()
        table.set_bloom_filter(10, False)
        table.set_block_cache(Cache(cache_mib * 1024 * 1024))
        options.set_block_based_table_factory(table)
        self._db = Rdict(str(path), options)
        self._sync = WriteOptions()
        self._sync.sync = True
        self.path = Path(path)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def iter_prefix(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        it = self._db.iter()
        it.seek(max(prefix, start or prefix))
        while it.valid():
            key = it.key()
            if not key.startswith(prefix):
                break
            yield key, it.value()
            it.next()

    def write_batch(self, changes: Mapping[bytes, bytes | None]) -> None:
        from rocksdict import WriteBatch

        batch = WriteBatch(raw_mode=True)
        for key, value in changes.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self._db.write(batch, self._sync)

    def close(self) -> None:
        self._db.close()

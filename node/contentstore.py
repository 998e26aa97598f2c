"""The off-chain content store: blobs addressed by blake2b-256, in the node's base path.

Data never goes on chain; its hash does. Uploads stream to a temporary file while being hashed (a
100 MB file never sits whole in memory), are checked against the per-blob size limit and the store's
total quota as they arrive, and land under their hash with an atomic rename - so a blob is either
complete and correct or absent. Every read re-hashes what it streams and fails if the bytes on disk
no longer match their address. Identical content is stored once. A blob whose data the chain withdrew
is deleted (`delete`, from the node's commit path) and never served again (the gRPC API asks the chain).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
_uploads = itertools.count()  # a unique temporary name per upload in this process


class ContentError(ValueError):
    """An upload or read was refused; the message says why."""


@dataclass(frozen=True)
class Stored:
    hash: bytes
    size: int
    already_stored: bool


class ContentStore:
    def __init__(self, root: str | Path, max_blob: int = 256 << 20, quota: int = 8 << 30):
        self.root = Path(root)
        self.max_blob, self.quota = max_blob, quota
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        for leftover in (self.root / "tmp").iterdir():  # uploads cut short by a crash
            leftover.unlink()
        self._lock = threading.Lock()
        self._used = sum(p.stat().st_size for p in self.root.glob("??/*") if p.is_file())

    @property
    def used(self) -> int:
        return self._used

    def _path(self, digest: bytes) -> Path:
        if len(digest) != 32:
            raise ContentError(f"a content hash is 32 bytes, got {len(digest)}")
        return self.root / digest.hex()[:2] / digest.hex()

    def put(self, chunks: Iterable[bytes], expected: bytes | None = None, declared_size: int | None = None) -> Stored:
        """Store a stream of chunks; refuses oversize, over-quota, a size other than `declared_size` (when
        given: the upload stops as soon as it sends more) and (with `expected`) mismatched content."""
        upload = self.begin(expected, declared_size)
        try:
            for chunk in chunks:
                upload.write(chunk)
            return upload.finish()
        finally:
            upload.discard()

    def begin(self, expected: bytes | None = None, declared_size: int | None = None) -> Upload:
        """Start an upload that takes its chunks one call at a time (what a server that does not give each
        upload a thread needs); `put` is this with a loop. Checks the declared size's room at once."""
        if declared_size is not None:
            self._check_room(declared_size)
        return Upload(self, expected, declared_size)

    def _check_room(self, size: int) -> None:
        if size > self.max_blob:
            raise ContentError(f"{size} bytes exceeds the {self.max_blob}-byte blob limit")
        if self._used + size > self.quota:
            raise ContentError(f"the store's quota ({self.quota} bytes, {self._used} used) has no room for {size}")

    def _land(self, tmp: Path, found: bytes, size: int) -> Stored:
        """Move a complete, hashed upload under its address (or keep the copy already there)."""
        final = self._path(found)
        with self._lock:
            if final.exists():
                return Stored(found, size, True)
            self._check_room(size)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            self._used += size
        return Stored(found, size, False)

    def size(self, digest: bytes) -> int | None:
        path = self._path(digest)
        return path.stat().st_size if path.exists() else None

    def delete(self, digest: bytes) -> bool:
        """Remove a blob (its data was withdrawn on chain); whether it was here. A read already streaming it
        keeps its open file to the end; no new read finds it."""
        path = self._path(digest)
        with self._lock:
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                return False
            self._used -= size
        return True

    def read(self, digest: bytes) -> Iterator[bytes]:
        """Stream a blob's bytes, re-hashing them; the final step raises ContentError if they do not match."""
        reader = self.open_read(digest)
        try:
            while (chunk := reader.next_chunk()) is not None:
                yield chunk
        finally:
            reader.close()

    def open_read(self, digest: bytes) -> BlobReader:
        """A blob opened for reading one chunk per call (`read` is this with a loop); ContentError if absent."""
        path = self._path(digest)
        try:
            return BlobReader(digest, open(path, "rb"))  # closed by BlobReader.close
        except FileNotFoundError:
            raise ContentError(f"no blob {digest.hex()}") from None


class BlobReader:
    """A blob being read: each `next_chunk` re-hashes what it returns, and the last (None: the end) raises
    ContentError if the bytes no longer match their address. Safe to close from another thread."""

    def __init__(self, digest: bytes, source: BinaryIO):
        self.digest, self._source = digest, source
        self._check = hashlib.blake2b(digest_size=32)
        self._lock = threading.Lock()

    def next_chunk(self) -> bytes | None:
        with self._lock:
            if self._source.closed:
                raise ContentError(f"the read of blob {self.digest.hex()} was closed")
            chunk = self._source.read(CHUNK)
            if chunk:
                self._check.update(chunk)
                return chunk
            if self._check.digest() != self.digest:
                raise ContentError(f"blob {self.digest.hex()} is corrupted on disk (its bytes no longer match its "
                                   f"hash)")
            return None

    def close(self) -> None:
        with self._lock:
            self._source.close()


class Upload:
    """One upload in progress: each chunk is checked against the limits, hashed and written to a temporary
    file as it arrives; `finish` lands it under its hash, `discard` (always safe) removes what is left."""

    def __init__(self, store: ContentStore, expected: bytes | None, declared_size: int | None):
        self.store, self.expected, self.declared_size = store, expected, declared_size
        self.size = 0
        self._digest = hashlib.blake2b(digest_size=32)
        self._tmp = store.root / "tmp" / f"upload-{os.getpid()}-{next(_uploads)}"
        self._out: BinaryIO | None = open(self._tmp, "wb")  # closed by finish or discard

    def write(self, chunk: bytes) -> None:
        if self._out is None:
            raise ContentError("this upload is already finished")
        self.size += len(chunk)
        if self.size > self.store.max_blob:
            raise ContentError(f"blob exceeds the {self.store.max_blob}-byte limit")
        if self.declared_size is not None and self.size > self.declared_size:
            raise ContentError(f"the upload sent more than its declared total_size of {self.declared_size} bytes")
        self._digest.update(chunk)
        self._out.write(chunk)

    def finish(self) -> Stored:
        """Sync the bytes to disk, check them (size, declared size, expected hash) and land them."""
        if self._out is None:
            raise ContentError("this upload is already finished")
        out, self._out = self._out, None
        try:
            out.flush()
            os.fsync(out.fileno())
        finally:
            out.close()
        if self.size == 0:
            raise ContentError("empty blob")
        if self.declared_size is not None and self.size != self.declared_size:
            raise ContentError(f"the upload sent {self.size} bytes, not its declared total_size of "
                               f"{self.declared_size}")
        found = self._digest.digest()
        if self.expected and found != self.expected:
            raise ContentError(f"content hashes to {found.hex()}, not the expected {self.expected.hex()}")
        return self.store._land(self._tmp, found, self.size)

    def discard(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        self._tmp.unlink(missing_ok=True)

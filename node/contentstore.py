"""The off-chain content store: blobs addressed by blake2b-256, in the node's base path.

Data never goes on chain; its hash does. Uploads stream to a temporary file while being hashed (a
100 MB file never sits whole in memory), are checked against the per-blob size limit and the store's
total quota as they arrive, and land under their hash with an atomic rename - so a blob is either
complete and correct or absent. Every read re-hashes what it streams and fails if the bytes on disk
no longer match their address. Identical content is stored once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


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
        if declared_size is not None:
            self._check_room(declared_size)
        digest = hashlib.blake2b(digest_size=32)
        size = 0
        tmp = self.root / "tmp" / f"upload-{os.getpid()}-{threading.get_ident()}-{id(chunks)}"
        try:
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_blob:
                        raise ContentError(f"blob exceeds the {self.max_blob}-byte limit")
                    if declared_size is not None and size > declared_size:
                        raise ContentError(f"the upload sent more than its declared total_size of {declared_size} "
                                           f"bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise ContentError("empty blob")
            if declared_size is not None and size != declared_size:
                raise ContentError(f"the upload sent {size} bytes, not its declared total_size of {declared_size}")
            found = digest.digest()
            if expected and found != expected:
                raise ContentError(f"content hashes to {found.hex()}, not the expected {expected.hex()}")
            final = self._path(found)
            with self._lock:
                if final.exists():
                    return Stored(found, size, True)
                self._check_room(size)
                final.parent.mkdir(exist_ok=True)
                os.replace(tmp, final)
                self._used += size
            return Stored(found, size, False)
        finally:
            tmp.unlink(missing_ok=True)

    def _check_room(self, size: int) -> None:
        if size > self.max_blob:
            raise ContentError(f"{size} bytes exceeds the {self.max_blob}-byte blob limit")
        if self._used + size > self.quota:
            raise ContentError(f"the store's quota ({self.quota} bytes, {self._used} used) has no room for {size}")

    def size(self, digest: bytes) -> int | None:
        path = self._path(digest)
        return path.stat().st_size if path.exists() else None

    def read(self, digest: bytes) -> Iterator[bytes]:
        """Stream a blob's bytes, re-hashing them; the final step raises ContentError if they do not match."""
        path = self._path(digest)
        if not path.exists():
            raise ContentError(f"no blob {digest.hex()}")
        check = hashlib.blake2b(digest_size=32)
        with open(path, "rb") as src:
            while chunk := src.read(CHUNK):
                check.update(chunk)
                yield chunk
        if check.digest() != digest:
            raise ContentError(f"blob {digest.hex()} is corrupted on disk (its bytes no longer match its hash)")

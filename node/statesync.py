"""State sync snapshots: their format, this node's own store of them, and the restore of another node's.

A node joining by state sync takes the state at a recent height from its peers instead of replaying
every block since genesis (which, with `--retain-blocks`, no peer may still hold). CometBFT finds the
snapshots, fetches their chunks and verifies the app hash at the snapshot's height with its light
client; everything else a peer sends may be forged, so every byte is checked here before it is used.

Format 1 (`FORMAT`):

- The *stream*: records `kind (1 byte) ‖ key length (u32 BE) ‖ key ‖ value length (u32 BE) ‖ value`, first
  the head block (kind 1, empty key, the `Block` bytes), then every state entry (kind 0) in strictly
  ascending key order. The head block's events are not in it: nothing the joining node can check commits
  to them (neither the header nor the state), so a peer could forge them; the restored head has none
  recorded (its explorer shows no events for that one block; every later block's are its own).
- *Chunks*: the stream cut into pieces of `chunk_size` bytes (the last one shorter); records run across
  chunk boundaries.
- The *manifest*: canonical JSON (sorted keys, no spaces, bytes as hex) of format, chain id, genesis
  hash, height, head hash, state root, chunk size, stream length, entry count and the blake2b-256 of
  each chunk. It travels as the ABCI snapshot's `metadata`; its blake2b-256 is the snapshot's `hash`.

Restoring checks each chunk against the manifest as it arrives (a bad one is refetched from another
peer), parses it into a fresh staging store and folds it into a new state trie; after the last chunk
the trie's root must equal the app hash CometBFT verified, and the head block must be the block that
root belongs to: its header's number and state root are the snapshot's, and the state's own record of
the block (`system` CurrentBlock: number, parent hash, timestamp) matches the header. Only then does the
node's database adopt the state, in one synced batch (`ChainDB.adopt`). The head header's remaining
fields (author, weight, length; extrinsics root, checked against the block's extrinsics) enter the next
block's state through its parent hash: a forged one makes this node's next app hash differ from the
network's, and CometBFT halts the node rather than follow a fork.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from payable.runtime.v1.extrinsic_pb2 import Block, Header
from payable.system.v1 import system_pb2
from runtime import system
from runtime.crypto import blake2_256
from runtime.executive import Executive
from runtime.merkle import merkle_root
from runtime.storage.backend import KVBackend
from runtime.storage.trie import StateTrie

log = structlog.get_logger("payable.statesync")
FORMAT = 1
SNAPSHOT_DIR = "snapshots"  # under a node's base path
CHUNK_SIZE = 1 << 20  # bytes: well under CometBFT's 16 MB chunk message limit
STATE_ENTRY, HEAD_BLOCK = 0, 1
_LEN = 4


class SnapshotError(ValueError):
    """A snapshot that cannot be this chain's state (malformed, another chain, or not the verified app hash)."""


class BadChunk(SnapshotError):
    """A chunk whose bytes are not the ones its manifest names (the sender's fault, not the snapshot's)."""


@dataclass(frozen=True)
class Manifest:
    chain_id: str
    genesis_hash: bytes
    height: int
    head_hash: bytes
    state_root: bytes
    chunk_size: int
    stream_bytes: int
    entries: int
    chunks: tuple[bytes, ...]

    def encode(self) -> bytes:
        doc = {"format": FORMAT, "chain_id": self.chain_id, "genesis_hash": self.genesis_hash.hex(),
               "height": self.height, "head_hash": self.head_hash.hex(), "state_root": self.state_root.hex(),
               "chunk_size": self.chunk_size, "stream_bytes": self.stream_bytes, "entries": self.entries,
               "chunks": [c.hex() for c in self.chunks]}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @property
    def hash(self) -> bytes:
        return blake2_256(self.encode())

    @classmethod
    def decode(cls, raw: bytes) -> Manifest:
        """The manifest in `raw`, which must be its exact canonical encoding (one snapshot, one hash)."""
        try:
            doc = json.loads(raw)
            if doc.get("format") != FORMAT:
                raise SnapshotError(f"manifest of format {doc.get('format')!r}, not {FORMAT}")
            manifest = cls(str(doc["chain_id"]), bytes.fromhex(doc["genesis_hash"]), int(doc["height"]),
                           bytes.fromhex(doc["head_hash"]), bytes.fromhex(doc["state_root"]),
                           int(doc["chunk_size"]), int(doc["stream_bytes"]), int(doc["entries"]),
                           tuple(bytes.fromhex(c) for c in doc["chunks"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SnapshotError(f"malformed manifest: {exc}") from exc
        if manifest.encode() != raw:
            raise SnapshotError("the manifest is not in its canonical encoding")
        if manifest.chunk_size <= 0 or len(manifest.chunks) != -(-manifest.stream_bytes // manifest.chunk_size):
            raise SnapshotError("the manifest's chunk count does not match its stream length and chunk size")
        return manifest


@dataclass(frozen=True)
class Capture:
    """What a snapshot holds, read from the committed chain in one consistent view (under the node's lock)."""

    chain_id: str
    genesis_hash: bytes
    height: int
    head_hash: bytes
    state_root: bytes
    block: bytes
    state: list[tuple[bytes, bytes]]


def capture(executive: Executive) -> Capture:
    """The committed head and state, ready to be chunked (the caller holds the node's lock)."""
    db, head = executive.db, executive.head
    return Capture(executive.runtime.spec.id, executive.genesis_hash, head.number, head.hash, head.state_root,
                   db.require_block(head.number).SerializeToString(deterministic=True), db.state_items())


def _record(kind: int, key: bytes, value: bytes) -> bytes:
    return bytes([kind]) + len(key).to_bytes(_LEN, "big") + key + len(value).to_bytes(_LEN, "big") + value


def chunk(snapshot: Capture, chunk_size: int = CHUNK_SIZE) -> tuple[Manifest, list[bytes]]:
    """The format-1 manifest and chunks of a captured state."""
    chunks: list[bytes] = []
    buffer = bytearray()
    records = [_record(HEAD_BLOCK, b"", snapshot.block)]
    total = 0
    for record in (*records, *(_record(STATE_ENTRY, k, v) for k, v in snapshot.state)):
        buffer += record
        total += len(record)
        while len(buffer) >= chunk_size:
            chunks.append(bytes(buffer[:chunk_size]))
            del buffer[:chunk_size]
    if buffer:
        chunks.append(bytes(buffer))
    manifest = Manifest(snapshot.chain_id, snapshot.genesis_hash, snapshot.height, snapshot.head_hash,
                        snapshot.state_root, chunk_size, total, len(snapshot.state),
                        tuple(blake2_256(c) for c in chunks))
    return manifest, chunks


class SnapshotStore:
    """This node's snapshots on disk: `DIR/HEIGHT/manifest.json` and `DIR/HEIGHT/CHUNK.chunk`, the last
    `keep` of them. A snapshot is written into a temporary folder and renamed into place, so a crash
    never leaves half a snapshot to serve; leftovers of one are removed at start."""

    def __init__(self, directory: str | Path, *, interval: int, keep: int = 2, chunk_size: int = CHUNK_SIZE):
        if interval < 0 or keep < 1 or chunk_size < 1:
            raise ValueError("snapshot interval must be >= 0 (0: none), keep >= 1 and chunk size >= 1")
        self.dir = Path(directory)
        self.interval, self.keep, self.chunk_size = interval, keep, chunk_size
        self.dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.dir.glob("*.tmp"):
            shutil.rmtree(leftover)
        self._writer: threading.Thread | None = None

    def due(self, height: int) -> bool:
        return self.interval > 0 and height > 0 and height % self.interval == 0

    def save_in_background(self, snapshot: Capture) -> bool:
        """Chunk and write `snapshot` on a thread (consensus does not wait for the disk); False, and nothing
        written, while the previous one is still being written."""
        if self._writer is not None and self._writer.is_alive():
            log.warning("snapshot_skipped", height=snapshot.height, reason="the previous one is still being written")
            return False
        self._writer = threading.Thread(target=self.save, args=(snapshot,), name="snapshot-writer", daemon=True)
        self._writer.start()
        return True

    def wait(self) -> None:
        """Until the snapshot being written (if any) is on disk."""
        if self._writer is not None:
            self._writer.join()

    def save(self, snapshot: Capture) -> Manifest:
        manifest, chunks = chunk(snapshot, self.chunk_size)
        final = self.dir / f"{snapshot.height:012d}"
        tmp = final.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for i, piece in enumerate(chunks):
            (tmp / f"{i:06d}.chunk").write_bytes(piece)
        (tmp / "manifest.json").write_bytes(manifest.encode())
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in sorted(p for p in self.dir.iterdir() if p.suffix != ".tmp")[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        log.info("snapshot_taken", height=snapshot.height, chunks=len(chunks), entries=manifest.entries,
                 hash=manifest.hash.hex())
        return manifest

    def manifests(self) -> list[Manifest]:
        """The stored snapshots, newest first."""
        found = []
        for folder in sorted((p for p in self.dir.iterdir() if p.suffix != ".tmp"), reverse=True):
            try:
                found.append(Manifest.decode((folder / "manifest.json").read_bytes()))
            except (OSError, SnapshotError):
                continue  # being pruned meanwhile
        return found

    def load_chunk(self, height: int, index: int) -> bytes:
        """Chunk `index` of the snapshot at `height`, or b"" when there is no such chunk (any more)."""
        try:
            return (self.dir / f"{height:012d}" / f"{index:06d}.chunk").read_bytes()
        except OSError:
            return b""


@dataclass(frozen=True)
class Restored:
    """A checked snapshot, ready to become the node's state."""

    block: Block
    trie: StateTrie
    staging: KVBackend  # the state entries, in a fresh store

    def state(self) -> Iterator[tuple[bytes, bytes]]:
        return self.staging.iter_prefix(b"")


class Restore:
    """One snapshot being restored into `staging` (a fresh, empty store), chunk by chunk, in order."""

    def __init__(self, manifest: Manifest, app_hash: bytes, staging: KVBackend):
        self.manifest, self.app_hash, self.staging = manifest, app_hash, staging
        self.next = 0
        self.trie = StateTrie()
        self._buffer = bytearray()
        self._block: Block | None = None
        self._last_key: bytes | None = None
        self._entries = 0

    @property
    def complete(self) -> bool:
        return self.next == len(self.manifest.chunks)

    def apply(self, index: int, piece: bytes) -> None:
        """Check chunk `index` against the manifest and take its records. BadChunk: the bytes are not the
        manifest's (nothing taken); SnapshotError: they are, and the snapshot itself is bad."""
        if index != self.next:
            raise SnapshotError(f"chunk {index} arrived, chunk {self.next} was expected (chunks apply in order)")
        if blake2_256(piece) != self.manifest.chunks[index]:
            raise BadChunk(f"chunk {index} does not have the hash its manifest names")
        self._buffer += piece
        changes = dict(self._records())
        self.staging.write_batch(changes)
        self.trie.stage(changes)
        self.next += 1

    def _records(self) -> Iterator[tuple[bytes, bytes]]:
        """The state entries of the complete records in the buffer (the head block kept aside)."""
        buffer, at = self._buffer, 0
        while len(buffer) - at >= 1 + _LEN:
            kind = buffer[at]
            key_len = int.from_bytes(buffer[at + 1:at + 1 + _LEN], "big")
            value_at = at + 1 + _LEN + key_len
            if len(buffer) < value_at + _LEN:
                break
            value_len = int.from_bytes(buffer[value_at:value_at + _LEN], "big")
            end = value_at + _LEN + value_len
            if len(buffer) < end:
                break
            key, value = bytes(buffer[at + 1 + _LEN:value_at]), bytes(buffer[value_at + _LEN:end])
            at = end
            yield from self._take(kind, key, value)
        del buffer[:at]

    def _take(self, kind: int, key: bytes, value: bytes) -> Iterator[tuple[bytes, bytes]]:
        try:
            if kind == HEAD_BLOCK and self._block is None and not key:
                self._block = Block.FromString(value)
            elif kind == STATE_ENTRY and self._block is not None:
                if self._last_key is not None and key <= self._last_key:
                    raise SnapshotError("state entries out of order (or repeated)")
                self._last_key, self._entries = key, self._entries + 1
                yield key, value
            else:
                raise SnapshotError(f"unexpected record of kind {kind} in the stream")
        except Exception as exc:
            if isinstance(exc, SnapshotError):
                raise
            raise SnapshotError(f"undecodable record: {exc}") from exc

    def finish(self) -> Restored:
        """After the last chunk: the checks of the module docstring; SnapshotError if any fails."""
        m = self.manifest
        if not self.complete or self._buffer or self._block is None:
            raise SnapshotError("the stream ends inside a record, or lacks the head block")
        if self._entries != m.entries:
            raise SnapshotError(f"{self._entries} state entries, the manifest says {m.entries}")
        if self.trie.root != self.app_hash:
            raise SnapshotError(f"the restored state's root {self.trie.root.hex()} is not the app hash "
                                f"{self.app_hash.hex()} CometBFT verified at height {m.height}")
        header = Header.FromString(self._block.header)
        if (header.number, header.state_root, blake2_256(self._block.header)) != (m.height, self.app_hash,
                                                                                  m.head_hash):
            raise SnapshotError("the head block is not the snapshot's block (number, state root or hash)")
        if header.extrinsics_root != merkle_root([blake2_256(x) for x in self._block.extrinsics]):
            raise SnapshotError("the head block's extrinsics do not match its header")
        current = self.staging.get(system.CurrentBlock.prefix)
        info = system_pb2.BlockInfo.FromString(current) if current is not None else None
        if info is None or (info.number, info.parent_hash, info.timestamp_ms) != (
                header.number, header.parent_hash, header.timestamp_ms):
            raise SnapshotError("the head header disagrees with the state's record of the block")
        return Restored(self._block, self.trie, self.staging)

"""Offline chain tools on a node's base path: export and import blocks, and check a whole chain.

The export file is a magic line then, per block, a 4-byte big-endian length and the `Block` bytes.
Import goes through `Executive.import_block`, the same path a second node or a consensus driver takes:
every block is re-executed and refused unless its roots, weight, seal and parent match. `check_chain`
re-executes a stored chain from genesis on a scratch in-memory copy and compares every block.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from payable.runtime.v1.extrinsic_pb2 import Block
from payable.runtime.v1.extrinsic_pb2 import Header as HeaderMessage
from runtime.canonical import NonCanonical, decode_canonical
from runtime.chaindb import ChainDB
from runtime.chainspec import ChainSpec
from runtime.crypto import blake2_256
from runtime.executive import BlockImportError, Executive
from runtime.storage.backend import MemoryBackend, RocksBackend

from .node import DB_DIR, open_spec

MAGIC = b"PAYABLE-BLOCKS-1\n"
log = structlog.get_logger("payable.import")


class BlockFileError(ValueError):
    """An export file is malformed (wrong magic, truncated, or a block that does not decode)."""


def write_blocks(path: Path, blocks: Iterator[Block]) -> int:
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(MAGIC)
        for block in blocks:
            data = block.SerializeToString(deterministic=True)
            out.write(len(data).to_bytes(4, "big") + data)
            count += 1
    tmp.replace(path)
    return count


def read_blocks(path: Path) -> Iterator[Block]:
    with open(path, "rb") as src:
        if src.read(len(MAGIC)) != MAGIC:
            raise BlockFileError(f"{path} is not a Payable block export (bad magic)")
        index = 0
        while size := src.read(4):
            if len(size) < 4:
                raise BlockFileError(f"{path}: truncated length after block {index}")
            data = src.read(int.from_bytes(size, "big"))
            if len(data) != int.from_bytes(size, "big"):
                raise BlockFileError(f"{path}: block {index} is truncated")
            try:
                block = decode_canonical(Block, data, f"{path}: block {index}")
            except NonCanonical as exc:
                raise BlockFileError(str(exc)) from exc
            yield block
            index += 1


def export_blocks(base_path: Path, out: Path, start: int = 1, end: int | None = None) -> int:
    """Write blocks start..end (default: to the head) of a stopped node's chain to `out`."""
    open_spec(base_path, None)
    backend = RocksBackend(base_path / DB_DIR)
    try:
        db = ChainDB(backend)
        best = db.head.number if db.head is not None else 0  # a store without genesis has no blocks to export
        last = best if end is None else min(end, best)
        return write_blocks(out, (db.require_block(n) for n in range(max(start, 1), last + 1)))
    finally:
        backend.close()


def import_blocks(base_path: Path, source: Path, spec: ChainSpec | None = None) -> int:
    """Import every block in `source` that extends the chain at `base_path`; returns how many."""
    chain_spec = open_spec(base_path, spec)
    backend = RocksBackend(base_path / DB_DIR)
    executive = Executive.open(chain_spec, backend)
    imported = 0
    try:
        for block in read_blocks(source):
            number = HeaderMessage.FromString(block.header).number
            if number <= executive.head.number:
                stored = executive.db.block(number)
                if stored is None or blake2_256(stored.header) != blake2_256(block.header):
                    raise BlockImportError(f"block #{number} conflicts with the block already stored at that height")
                continue
            started = time.perf_counter()
            executive.import_block(block)
            imported += 1
            log.info("block_imported", number=number, hash=blake2_256(block.header).hex(),
                     extrinsics=len(block.extrinsics), ms=round((time.perf_counter() - started) * 1000, 1))
    finally:
        executive.close()
        backend.close()
    return imported


@dataclass(frozen=True)
class CheckReport:
    blocks: int
    head_number: int
    head_hash: bytes
    state_root: bytes


def check_chain(base_path: Path) -> CheckReport:
    """Re-execute every stored block from genesis and verify all roots; raises BlockImportError if not."""
    spec = open_spec(base_path, None)
    backend = RocksBackend(base_path / DB_DIR)
    try:
        stored = Executive.open(spec, backend)  # also checks the stored state against the head's root
        replay = Executive.open(spec, MemoryBackend())
        if replay.genesis_hash != stored.genesis_hash:
            raise BlockImportError("the stored genesis does not match the chain spec")
        for number in range(1, stored.head.number + 1):
            block = stored.db.block(number)
            if block is None:
                raise BlockImportError(f"block #{number} is missing from the store")
            try:
                replay.import_block(block)
            except BlockImportError as exc:
                raise BlockImportError(f"stored block #{number} fails re-execution: {exc}") from exc
            if replay.db.events(number) != stored.db.events(number):
                raise BlockImportError(f"stored events of block #{number} differ from re-execution")
            kept_root = stored.db.state_root_at(number)
            if kept_root is not None and kept_root != replay.head.state_root:
                raise BlockImportError(f"stored state root of block #{number} differs from re-execution")
        if replay.head != stored.head:
            raise BlockImportError("re-execution ends at a different head than the store")
        head = stored.head
        replay.close()
        stored.close()
        return CheckReport(head.number, head.number, head.hash, head.state_root)
    finally:
        backend.close()

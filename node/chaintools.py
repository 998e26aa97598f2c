"""Offline chain tools on a stopped node's base path: export and import blocks, and check a whole chain.

Two kinds of chain, told apart by the chain spec as the audit verifier does: one whose genesis elects a
validator set is a CometBFT chain - CometBFT orders its blocks, which carry no seal and are final by the
commit signatures of more than two thirds of the validators' voting power (`node.abci.finality` records
and checks them); any other is a dev chain, each block sealed by its author (`payable node --dev`).

Export files: a magic line naming the kind, then per block a 4-byte big-endian length and the `Block`
bytes; in a CometBFT chain's file each block is followed by a 4-byte length and its commit record
(length 0: none was recorded - the block is exported as not yet final).

Every block is re-executed through `Executive.import_block`, the path a second node takes (roots,
weight, parent; on a dev chain the seal), and on a CometBFT chain each block's commit is verified against
the validator set of the re-executed state. `import_blocks` does all of it on an in-memory copy of the
target chain and writes the difference to the node's database in one atomic batch only when the whole
file passed, so a refused file leaves nothing half-imported. `check_chain` re-executes a stored chain
from genesis on a scratch in-memory copy and compares every block.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import structlog

from payable.runtime.v1.extrinsic_pb2 import Block
from payable.runtime.v1.extrinsic_pb2 import Header as HeaderMessage
from runtime.canonical import NonCanonical, decode_canonical
from runtime.chaindb import ChainDB
from runtime.chainspec import ChainSpec
from runtime.crypto import blake2_256
from runtime.executive import BlockImportError, Executive
from runtime.storage.backend import MemoryBackend, RocksBackend

from .abci.finality import CommitError, commit_key, stored_commit, verify_commit
from .node import DB_DIR, SPEC_FILE, open_spec

DEV, COMETBFT = "dev", "cometbft"
KIND_TEXT = {DEV: "a dev chain: each block sealed by its author",
             COMETBFT: "a CometBFT chain: final by commit signatures"}
MAGIC = b"PAYABLE-BLOCKS-1\n"  # a dev chain's blocks
COMET_MAGIC = b"PAYABLE-BLOCKS-COMETBFT-1\n"  # a CometBFT chain's blocks, each with its commit record
MAGICS = {MAGIC: DEV, COMET_MAGIC: COMETBFT}
PROGRESS_EVERY = 1000  # blocks between an import's progress lines
LOCKED = re.compile(r"/LOCK\b|lock hold|lock file|Resource temporarily unavailable")  # RocksDB: held by a process
log = structlog.get_logger("payable.import")


class BlockFileError(ValueError):
    """An export file is malformed (wrong magic, truncated, or a block that does not decode)."""


class StoreError(ValueError):
    """The base path holds no node database the tools can read: none at all, or one a running node holds."""


def _stored(base_path: Path) -> tuple[ChainSpec, RocksBackend]:
    """The chain spec and database of a stopped node's base path - never a chain made where there was none
    (a directory that holds a chain spec but no database: a testnet's own directory, say)."""
    missing = [name for name, there in ((SPEC_FILE, (base_path / SPEC_FILE).exists()),
                                        (f"{DB_DIR}/", (base_path / DB_DIR).is_dir())) if not there]
    if missing:
        raise StoreError(f"{base_path} is not a node's base path (no {' and no '.join(missing)} there); a testnet "
                         "node's is DIR/nodeN/payable")
    return open_spec(base_path, None), _open_store(base_path)


def _open_store(base_path: Path) -> RocksBackend:
    try:
        return RocksBackend(base_path / DB_DIR)
    except Exception as exc:  # rocksdict raises a bare Exception; the lock is the one a user can act on
        if LOCKED.search(str(exc)):
            raise StoreError(f"{base_path / DB_DIR} is in use by a running node: stop it first (`payable testnet "
                             "stop NODE --dir DIR`, or the `payable node` process)") from None
        raise


def _first_kept(db: ChainDB) -> int:
    """The lowest block number this store holds (1, unless the node joined by state sync after genesis: then
    the blocks after its snapshot, one run up to the head - found by bisection)."""
    low, high = 1, (db.head.number if db.head is not None else 0) + 1
    while low < high:
        middle = (low + high) // 2
        if db.block(middle) is None:
            low = middle + 1
        else:
            high = middle
    return low


def _whole_chain(db: ChainDB, what: str, start: int = 1, export: bool = False) -> None:
    """Refuse, saying why, a store that lacks the blocks from `start` on: a node that joined by state sync
    holds only the blocks after its snapshot."""
    first = _first_kept(db)
    if first > start:
        instead = f"export from --start {first}, or " if export else ""
        raise StoreError(f"this node keeps blocks from #{first} on only (it joined by state sync: the blocks "
                         f"before its snapshot never reached it), so it cannot {what}; {instead}use a node that "
                         f"replayed the chain from genesis")


def chain_kind(spec: ChainSpec) -> str:
    """COMETBFT when the chain's genesis elects a validator set (what CometBFT's InitChain is checked
    against), else DEV. Decided by the spec, never by a block: a block must not choose how it is checked."""
    genesis = Executive.open(spec)  # in memory
    try:
        return COMETBFT if genesis.consensus_validators() else DEV
    finally:
        genesis.close()


# --- the file -----------------------------------------------------------------------------------------
def write_blocks(path: Path, records: Iterable[tuple[Block, bytes | None]], kind: str) -> int:
    """Write (block, commit record or None) pairs; a dev chain's blocks have no commit record."""
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(MAGIC if kind == DEV else COMET_MAGIC)
            for block, commit in records:
                data = block.SerializeToString(deterministic=True)
                out.write(len(data).to_bytes(4, "big") + data)
                if kind == COMETBFT:
                    out.write(len(commit or b"").to_bytes(4, "big") + (commit or b""))
                elif commit is not None:
                    raise ValueError("a dev chain's block has no commit record")
                count += 1
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # an export cut short leaves nothing behind
        raise
    return count


def _sized(src: BinaryIO, size: bytes, path: Path, what: str) -> bytes:
    if len(size) < 4:
        raise BlockFileError(f"{path}: truncated length of {what}")
    data = src.read(int.from_bytes(size, "big"))
    if len(data) != int.from_bytes(size, "big"):
        raise BlockFileError(f"{path}: {what} is truncated")
    return data


def read_blocks(path: Path, kind: str | None = None) -> Iterator[tuple[Block, bytes | None]]:
    """(block, commit record or None) pairs of an export file; `kind`: the chain's, which the file must be of."""
    with open(path, "rb") as src:
        found = MAGICS.get(src.readline(64))
        if found is None:
            raise BlockFileError(f"{path} is not a Payable block export (bad magic)")
        if kind is not None and found != kind:
            raise BlockFileError(f"{path} holds blocks of {KIND_TEXT[found]}, but the chain at the base path is "
                                 f"{KIND_TEXT[kind]}")
        index = 1  # the file's blocks counted from 1, as blocks are
        while size := src.read(4):
            data = _sized(src, size, path, f"the file's block {index}")
            try:
                block = decode_canonical(Block, data, f"{path}: the file's block {index}")
            except NonCanonical as exc:
                raise BlockFileError(str(exc)) from exc
            commit = _sized(src, src.read(4), path, f"the file's block {index}'s commit") if found == COMETBFT \
                else b""
            yield block, commit or None
            index += 1


# --- re-execution with finality -----------------------------------------------------------------------
def _number(block: Block) -> int:
    try:
        return decode_canonical(HeaderMessage, block.header, "the block header").number
    except NonCanonical as exc:
        raise BlockImportError(str(exc)) from exc


class Replay:
    """Blocks re-executed on `executive`'s head, each checked for finality the way its kind of chain makes
    blocks final; `not_final`: the CometBFT blocks imported without a commit record (not yet final)."""

    def __init__(self, executive: Executive, kind: str):
        self.executive, self.kind = executive, kind
        self.not_final: list[int] = []

    def apply(self, block: Block, commit: bytes | None) -> None:
        number = _number(block)
        try:
            if self.kind == DEV:
                self.executive.import_block(block)
                return
            if block.seal:
                raise BlockImportError(f"block #{number}: it carries an author's seal, which no CometBFT block has")
            signing = self.executive.consensus_validators() or []  # the set that signs height number + 1
            self.executive.import_block(block, check_seal=False)
            if commit is None:
                self.not_final.append(number)
                return
            head = self.executive.head
            verify_commit(commit, number, head.state_root, self.executive.runtime.spec.id, signing,
                          self.executive.consensus_validators() or [])
        except CommitError as exc:
            raise BlockImportError(f"{KIND_TEXT[self.kind]}; block #{number}: {exc}") from None
        except BlockImportError as exc:
            raise BlockImportError(f"{KIND_TEXT[self.kind]}; {exc}") from None


# --- the tools ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    """What a tool did: `blocks` exported, imported or checked, of which chain kind; `not_final`: the
    CometBFT blocks among them with no commit recorded (not yet final)."""
    kind: str
    blocks: int
    not_final: tuple[int, ...] = ()


@dataclass(frozen=True)
class CheckReport(Report):
    head_number: int = 0
    head_hash: bytes = b""
    state_root: bytes = b""


def export_blocks(base_path: Path, out: Path, start: int = 1, end: int | None = None) -> Report:
    """Write blocks start..end (default: to the head) of a stopped node's chain to `out`, a CometBFT chain's
    each with its recorded commit."""
    if end is not None and end < start:
        raise BlockFileError(f"--end #{end} is before --start #{start}: nothing to export")
    spec, backend = _stored(base_path)
    kind = chain_kind(spec)
    try:
        db = ChainDB(backend)
        best = db.head.number if db.head is not None else 0  # a store without genesis has no blocks to export
        last = best if end is None else min(end, best)
        if last >= max(start, 1):
            _whole_chain(db, f"export from #{max(start, 1)}", max(start, 1), export=True)
        numbers = range(max(start, 1), last + 1)
        commits = {n: stored_commit(backend, n) if kind == COMETBFT else None for n in numbers}
        count = write_blocks(out, ((db.require_block(n), commits[n]) for n in numbers), kind)
        return Report(kind, count, tuple(n for n in numbers if kind == COMETBFT and commits[n] is None))
    finally:
        backend.close()


def import_blocks(base_path: Path, source: Path, spec: ChainSpec | None = None) -> Report:
    """Import every block in `source` that extends the chain at `base_path`, all or nothing: a refused
    import into a fresh base path leaves no chain there either (no genesis, no stored spec)."""
    created, fresh = not base_path.exists(), not (base_path / SPEC_FILE).exists()
    try:
        return _import_blocks(base_path, source, spec)
    except BaseException:
        if fresh:
            shutil.rmtree(base_path / DB_DIR, ignore_errors=True)
            (base_path / SPEC_FILE).unlink(missing_ok=True)
            if created:
                shutil.rmtree(base_path, ignore_errors=True)
        raise


def _import_blocks(base_path: Path, source: Path, spec: ChainSpec | None) -> Report:
    chain_spec = open_spec(base_path, spec)
    kind = chain_kind(chain_spec)
    if kind == COMETBFT and (base_path.parent / "config" / "config.toml").exists():
        raise StoreError(f"{base_path} is a CometBFT node's app store: its CometBFT hands it the chain's blocks "
                         "itself and will not start beside an app that is ahead of it; import into a fresh "
                         "--base-path, or let the node catch up from its peers")
    backend = _open_store(base_path)
    try:
        Executive.open(chain_spec, backend).close()  # genesis on a fresh path; a stored chain must be this spec's
        scratch = MemoryBackend()
        scratch.write_batch(dict(backend.iter_prefix(b"")))
        executive = Executive.open(chain_spec, scratch)
        replay, records, imported = Replay(executive, kind), {}, 0
        try:
            for block, commit in read_blocks(source, kind):
                number = _number(block)
                if number <= executive.head.number:
                    stored = executive.db.block(number)
                    if stored is None or blake2_256(stored.header) != blake2_256(block.header):
                        raise BlockImportError(f"block #{number} conflicts with the block already stored at that "
                                               "height")
                    continue
                started = time.perf_counter()
                replay.apply(block, commit)
                if commit is not None:
                    records[commit_key(number)] = commit
                imported += 1
                log.debug("block_verified", number=number, hash=blake2_256(block.header).hex(),
                          extrinsics=len(block.extrinsics), final=kind == DEV or commit is not None,
                          ms=round((time.perf_counter() - started) * 1000, 1))
                if imported % PROGRESS_EVERY == 0:  # a long import says it is alive, not a line per block
                    log.info("blocks_verified", imported=imported, at=number)
        except BlockImportError as exc:
            raise BlockImportError(f"{source} refused, nothing imported: {exc}") from None
        finally:
            executive.close()
        changes: dict[bytes, bytes | None] = {key: None for key, _ in backend.iter_prefix(b"")
                                              if scratch.get(key) is None}
        changes.update((key, value) for key, value in scratch.iter_prefix(b"") if backend.get(key) != value)
        changes.update(records)
        backend.write_batch(changes)
        return Report(kind, imported, tuple(replay.not_final))
    finally:
        backend.close()


def check_chain(base_path: Path) -> CheckReport:
    """Re-execute every stored block from genesis and verify all roots, and on a CometBFT chain every
    recorded commit; raises BlockImportError if not."""
    spec, backend = _stored(base_path)
    kind = chain_kind(spec)
    try:
        _whole_chain(ChainDB(backend), "be re-executed from genesis")
        stored = Executive.open(spec, backend)  # also checks the stored state against the head's root
        executive = Executive.open(spec, MemoryBackend())
        if executive.genesis_hash != stored.genesis_hash:
            raise BlockImportError("the stored genesis does not match the chain spec")
        replay = Replay(executive, kind)
        for number in range(1, stored.head.number + 1):
            block = stored.db.block(number)
            if block is None:
                raise BlockImportError(f"block #{number} is missing from the store")
            try:
                replay.apply(block, stored_commit(backend, number) if kind == COMETBFT else None)
            except BlockImportError as exc:
                raise BlockImportError(f"stored block #{number} fails the check: {exc}") from exc
            if executive.db.events(number) != stored.db.events(number):
                raise BlockImportError(f"stored events of block #{number} differ from re-execution")
            kept_root = stored.db.state_root_at(number)
            if kept_root is not None and kept_root != executive.head.state_root:
                raise BlockImportError(f"stored state root of block #{number} differs from re-execution")
        if executive.head != stored.head:
            raise BlockImportError("re-execution ends at a different head than the store")
        head = stored.head
        executive.close()
        stored.close()
        return CheckReport(kind, head.number, tuple(replay.not_final), head.number, head.hash, head.state_root)
    finally:
        backend.close()

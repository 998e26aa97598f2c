"""Why a CometBFT chain's blocks are final: the commit of each block, recorded beside the blocks in the node's
own database, and checked offline against the validator set the chain's state elected.

Where the signatures come from (the choice): ABCI gives the application the votes' flags only
(FinalizeBlock's decided_last_commit), never the signatures. CometBFT's block store has them, but it is
CometBFT's - its own schema in goleveldb, pruned by `--retain-blocks`, absent after state sync, wiped with
its data directory - so tools that read a stopped node's base path do not depend on it. Instead a
`CommitRecorder` thread asks the node's own CometBFT RPC for `/commit` of each height once the app has
committed it, and stores the result under `c:` + block number in the node's RocksDB: beside the blocks,
not in the chain's state (nodes may hold different, equally valid commits of a height, and nothing
consensus computes depends on them). The record is CometBFT's own `signed_header` ({"header", "commit"})
as canonical JSON, read back with `sdk.cometbft` (header hash, precommit sign-bytes, tally).

Which commit: block n's state root is the app hash in CometBFT's header n + 1, so the commit of height
n + 1 - more than two thirds of the voting power signing a header whose app hash is the state after
block n - is block n's evidence. The head therefore has none yet (nor a block whose next height was not
fetched before the node stopped): the tools call it "not yet final", though CometBFT may have decided it.

Which validators: FinalizeBlock's updates at height h take effect at h + 2, so height n + 1 is signed by
the set the state elected after block n - 1, and its header names as next validators the set elected
after block n. Both come from re-executing the chain, never from the record: the record cannot vouch for
itself.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import structlog

from payable.runtime.v1.extrinsic_pb2 import Header as BlockHeader
from runtime.storage.backend import KVBackend
from sdk import cometbft

from ..node import Node
from .comet import CometRpc, CometUnavailable

log = structlog.get_logger("payable.abci")
COMMITS = b"c:"  # + block number (8 bytes big-endian): the commit record that makes that block final


class CommitError(ValueError):
    """A commit record does not prove its block final (says which check failed)."""


def commit_key(number: int) -> bytes:
    return COMMITS + number.to_bytes(8, "big")


def stored_commit(backend: KVBackend, number: int) -> bytes | None:
    """Block `number`'s commit record, or None if none was recorded (not yet final to the tools)."""
    return backend.get(commit_key(number))


def commit_record(signed_header: dict) -> bytes:
    """The stored form of `/commit`'s `signed_header`: canonical JSON (sorted keys, no whitespace)."""
    return json.dumps(signed_header, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Finality:
    height: int        # the CometBFT height whose commit it is (the block's number + 1)
    signed_power: int
    total_power: int


def _parse(record: bytes) -> tuple[cometbft.Header, int, int, cometbft.BlockId, list[cometbft.CommitSig]]:
    try:
        doc = json.loads(record)
        header = cometbft.header_from_rpc(doc["header"])
        round_, block_id, signatures = cometbft.commit_from_rpc(doc["commit"])
        return header, int(doc["commit"]["height"]), round_, block_id, signatures
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CommitError(f"its commit record does not parse ({type(exc).__name__}: {exc})") from None


def verify_commit(record: bytes, number: int, state_root: bytes, chain_id: str,
                  signing: list[tuple[bytes, int]], elected: list[tuple[bytes, int]]) -> Finality:
    """Check that `record` makes block `number` final: it is chain `chain_id`'s commit of height number + 1,
    whose header hashes to the committed block id, carries `state_root` (the block's re-executed root) as
    app hash and names `elected` (the set after the block) as next validators, and whose precommits -
    each one checked - come from `signing` (the set after block number - 1) with more than two thirds of
    its power. CommitError says which check failed."""
    header, commit_height, round_, block_id, signatures = _parse(record)
    height = number + 1
    if header.height != height or commit_height != height:
        raise CommitError(f"its commit record is of height {commit_height} (header {header.height}), not {height}")
    if header.chain_id != chain_id:
        raise CommitError(f"its commit is of chain {header.chain_id!r}, not {chain_id!r}")
    if block_id.hash != header.hash():
        raise CommitError(f"the header of height {height} does not hash to the block id its commit signs: "
                          "a field of the header or the block id was changed")
    if header.app_hash != state_root:
        raise CommitError(f"the validators committed app hash {header.app_hash.hex()} at height {height}, but "
                          f"the block re-executes to state root {state_root.hex()}: the block is not the one "
                          "they finalized")
    ordered = cometbft.in_set_order(signing)
    if cometbft.validators_hash(ordered) != header.validators_hash:
        raise CommitError(f"height {height} is signed by a validator set other than the {len(ordered)} "
                          "validators the chain's state elected")
    if cometbft.validators_hash(cometbft.in_set_order(elected)) != header.next_validators_hash:
        raise CommitError(f"the header of height {height} names next validators other than the set the block "
                          "elected")
    try:
        signed, total, _ = cometbft.quorum(chain_id, height, round_, block_id, signatures, ordered)
    except ValueError as exc:
        raise CommitError(f"commit of height {height}: {exc}") from None
    return Finality(height, signed, total)


class CommitRecorder:
    """Records each committed block's commit from the node's CometBFT RPC (see the module's docstring).

    Woken by the node's head stream and every `poll_s`; it walks from the lowest height that may lack a
    record to the committed head, so a restarted node fills what it missed while stopped (what CometBFT
    has pruned meanwhile stays unrecorded, and is logged). A record is stored only if its header is this
    chain's and carries the stored block's state root as app hash."""

    def __init__(self, node: Node, rpc: CometRpc, poll_s: float = 1.0):
        self.node, self.rpc, self.poll_s = node, rpc, poll_s
        self._next = 2  # the lowest CometBFT height whose commit may be unrecorded (height 1's is genesis's)
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="commit-recorder", daemon=True)

    def put(self, head) -> None:
        """The node's head stream: a block was committed (None: the stream ended)."""
        self._wake.set()

    def start(self) -> None:
        self.node.subscribe_heads(self)
        self._thread.start()

    def stop(self) -> None:
        self.node.unsubscribe_heads(self)
        self._stopping.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._catch_up()
            except Exception:  # last resort: recording must never take the node down (logged, retried)
                log.exception("commit_record_failed", height=self._next)
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _catch_up(self) -> None:
        db = self.node.executive.db
        while not self._stopping.is_set() and self._next <= self.node.executive.head.number:
            height = self._next
            block = db.block(height - 1)
            if block is None or stored_commit(self.node.backend, height - 1) is not None:
                self._next += 1  # not stored here (state sync started later), or recorded already
                continue
            try:
                signed_header = self.rpc.call("commit", height=str(height))["signed_header"]
            except (CometUnavailable, RuntimeError) as exc:
                if not self._pruned(height):
                    log.debug("commit_not_fetched", height=height, reason=str(exc))
                    return  # CometBFT is not answering (yet): retried at the next wake
                continue
            problem = self._mismatch(signed_header, height, block.header)
            if problem:
                log.error("commit_not_recorded", height=height, reason=problem)
            else:
                with self.node.lock:
                    self.node.backend.write_batch({commit_key(height - 1): commit_record(signed_header)})
            self._next += 1

    def _mismatch(self, signed_header: dict, height: int, block_header: bytes) -> str | None:
        try:
            header = cometbft.header_from_rpc(signed_header["header"])
        except (ValueError, KeyError, TypeError) as exc:
            return f"the RPC's header does not parse: {exc}"
        if (header.height, header.chain_id) != (height, self.node.spec.id):
            return f"the RPC answered height {header.height} of chain {header.chain_id!r}"
        if header.app_hash != BlockHeader.FromString(block_header).state_root:
            return f"CometBFT's app hash at height {height} is not block #{height - 1}'s state root"
        return None

    def _pruned(self, height: int) -> bool:
        """Whether CometBFT no longer holds `height` (pruned); if so, skip to the lowest height it holds."""
        try:
            earliest = int(self.rpc.status()["sync_info"]["earliest_block_height"])
        except (CometUnavailable, RuntimeError, KeyError, ValueError):
            return False
        if height >= earliest:
            return False
        log.warning("commits_pruned", unrecorded=f"{height}..{earliest - 1}")
        self._next = earliest
        return True

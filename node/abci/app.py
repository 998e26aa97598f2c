"""The ABCI++ application: CometBFT's requests mapped onto the node's pool and executive.

- InitChain: genesis was built from the chain spec when the node opened; here CometBFT's chain id,
  genesis time and validator set are checked against it, and the genesis state root is the app hash.
- CheckTx is the pool's admission (signature, nonce, fee, canonical bytes); RECHECK after a block
  keeps what the pool still holds. What this node verified itself (admitted, or executed in a
  proposal) is remembered by the hash of its exact bytes (`verified`), so executing a block does not
  check those signatures again; every other one is checked.
- PrepareProposal takes the pool's ready extrinsics by priority, each sender in nonce order, and
  executes them, keeping those that apply within the block's weight and length limits and CometBFT's
  byte limit. ProcessProposal executes a proposal and rejects it if the runtime would refuse any of
  its extrinsics. Either execution stays open, keyed by the proposal's contents, so FinalizeBlock of
  the same block only finalizes it (one execution per block, not three).
- FinalizeBlock executes with CometBFT's height and BFT time, the block's proposer, the previous
  block's votes and any misbehaviour evidence as the `NoteConsensus` inherent; it returns per-extrinsic
  results and events, the validator updates the chain elected, and the state root as app hash -
  without persisting. Commit persists the block atomically (state, block, height and root in one
  synced batch), tells the node (pool, watchers, head streams), and sets the retain height.
- Info reports the last committed height and state root, so CometBFT's handshake replays exactly
  the blocks the node is missing.
- Query serves storage values with Merkle proofs at the committed head, and pallet queries.
- State sync (`node.statesync` has the format): every `interval` blocks Commit captures the state and a
  thread writes it as a snapshot; ListSnapshots and LoadSnapshotChunk serve them. A node at genesis
  accepts an offered snapshot of this chain (OfferSnapshot: REJECT_FORMAT for a format it does not
  read, REJECT for another chain's or one whose root is not CometBFT's verified app hash, ABORT when
  it already has blocks), checks each chunk's hash (a bad one: RETRY it from another peer, and reject
  its sender) and after the last one adopts the state only if its root is the app hash
  (REJECT_SNAPSHOT otherwise: CometBFT tries another snapshot, and the node is still at genesis).

The node's lock is held from FinalizeBlock to Commit: in between, the state trie holds the finalized
but uncommitted root, which no proof or read may see.
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import structlog
from google.protobuf.message import DecodeError
from prometheus_client import Counter

from payable.runtime.v1.extrinsic_pb2 import BlockEvents, Header
from payable.system.v1 import system_pb2
from runtime import system
from runtime.crypto import blake2_256
from runtime.errors import InvalidTransaction, PalletError
from runtime.executive import ApplyOutcome, AuthoredBlock, split_results
from runtime.extrinsic import inherent_extrinsic, make_call
from runtime.protocol import BLOCK_REWARDS
from runtime.storage.backend import RocksBackend

from .. import statesync
from ..node import Node
from ..statesync import BadChunk, Manifest, Restore, SnapshotError, SnapshotStore
from ..txpool import PoolRejected
from .types import abci, keys, proof, validator_pb2
from .verified import VerifiedSignatures

log = structlog.get_logger("payable.abci")
APP_VERSION = 1
OK, INVALID, CALL_FAILED = 0, 1, 2  # CheckTx / ExecTxResult codes, codespace "payable"
CODESPACE = "payable"
TX_OVERHEAD = 8  # bytes CometBFT counts per transaction on top of its length (field tag + varint length)
MAX_PROPOSAL_EXTRINSICS = 10_000  # candidates a proposal considers (the block's weight bounds it further)
CRASH_BEFORE_COMMIT = "PAYABLE_ABCI_CRASH_BEFORE_COMMIT"  # test-only: exit at Commit of this height
STAGING_DIR = "statesync"  # under the node's base path: the fresh store a snapshot is restored into
Offer, Apply = abci.ResponseOfferSnapshot, abci.ResponseApplySnapshotChunk


def time_ms(timestamp) -> int:
    return timestamp.seconds * 1000 + timestamp.nanos // 1_000_000


def note_consensus(proposer: bytes, votes, misbehavior) -> system_pb2.NoteConsensus:
    """The consensus inherent's argument from a request's proposer, last-commit votes and evidence."""
    return system_pb2.NoteConsensus(
        proposer=proposer,
        votes=[system_pb2.ConsensusVote(validator=v.validator.address, power=v.validator.power,
                                        signed=v.block_id_flag == validator_pb2.BLOCK_ID_FLAG_COMMIT,
                                        absent=v.block_id_flag == validator_pb2.BLOCK_ID_FLAG_ABSENT)
               for v in votes],
        misbehavior=[system_pb2.Misbehavior(kind=m.type, validator=m.validator.address, power=m.validator.power,
                                            height=m.height, total_power=m.total_voting_power)
                     for m in misbehavior])


class AbciApp:
    def __init__(self, node: Node, *, retain_blocks: int = 0, snapshots: SnapshotStore | None = None):
        """retain_blocks: keep at least this many recent blocks in CometBFT's store (0: keep all);
        snapshots: where this node keeps the snapshots it serves (None: it takes none)."""
        self.node = node
        self.executive = node.executive
        self.retain_blocks = retain_blocks
        self.snapshots = snapshots
        self._restore: Restore | None = None
        self._crash_at = int(os.environ.get(CRASH_BEFORE_COMMIT, "0"))
        self.verified = VerifiedSignatures()
        self._open_key: bytes | None = None   # the proposal whose execution is open in the executive
        self._open_txs: list[bytes] = []
        self._open_results: list[ApplyOutcome | InvalidTransaction] = []
        self._finalized: tuple[int, Header] | None = None
        self._holder: int | None = None  # the thread holding the node's lock from FinalizeBlock to Commit
        self._timers: dict[str, Counter] = {}  # ABCI request kind -> its labelled time counter
        self._handlers = {
            "echo": lambda r: abci.Response(echo=abci.ResponseEcho(message=r.echo.message)),
            "info": self.info, "init_chain": self.init_chain, "query": self.query, "check_tx": self.check_tx,
            "prepare_proposal": self.prepare_proposal, "process_proposal": self.process_proposal,
            "finalize_block": self.finalize_block, "commit": self.commit,
            "extend_vote": lambda r: abci.Response(extend_vote=abci.ResponseExtendVote()),
            "verify_vote_extension": lambda r: abci.Response(verify_vote_extension=abci.ResponseVerifyVoteExtension(
                status=abci.ResponseVerifyVoteExtension.ACCEPT)),
            "list_snapshots": self.list_snapshots, "offer_snapshot": self.offer_snapshot,
            "load_snapshot_chunk": self.load_snapshot_chunk, "apply_snapshot_chunk": self.apply_snapshot_chunk,
        }

    def connection_closed(self) -> None:
        """On the closing connection's thread: a block finalized but never committed (CometBFT went
        away) is dropped and the node's lock, which that thread holds, is released. CometBFT replays
        the block at the next handshake."""
        if self._finalized is not None and self._holder == threading.get_ident():
            self._finalized, self._holder = None, None
            self._drop_open()
            self.node.lock.release()

    def handle(self, request: abci.Request) -> abci.Response:
        kind = request.WhichOneof("value")
        handler = self._handlers.get(kind)
        if handler is None:
            raise ValueError(f"unsupported ABCI request {kind!r}")
        started = time.perf_counter()
        response = handler(request)
        if kind == "check_tx" and request.check_tx.type == abci.RECHECK:
            kind = "recheck_tx"  # timed apart: what CometBFT's recheck after each block costs
        timer = self._timers.get(kind)
        if timer is None:  # a labelled child looked up once per kind, not per CheckTx
            timer = self._timers[kind] = self.node.metrics.abci_time.labels(kind)
        timer.inc(time.perf_counter() - started)
        return response

    # --- connection: info / query -------------------------------------------------------------
    def info(self, request: abci.Request) -> abci.Response:
        head = self.executive.head
        return abci.Response(info=abci.ResponseInfo(
            data=self.executive.runtime.spec.id, version="payable", app_version=APP_VERSION,
            last_block_height=head.number, last_block_app_hash=head.state_root))

    def query(self, request: abci.Request) -> abci.Response:
        """`/store` (data: a storage key; value and its Merkle proof at the committed head) or
        `/query/PALLET/NAME` (data: the query's request bytes)."""
        req = request.query
        with self.node.lock:
            head = self.executive.head
            try:
                if req.height and req.height != head.number:
                    raise ValueError(f"only the committed head #{head.number} is served, asked #{req.height}")
                if req.path == "/store":
                    value = self.executive.db.state_value(req.data)
                    ops = proof.ProofOps(ops=[proof.ProofOp(
                        type="payable:state-merkle", key=req.data,
                        data=self.executive.db.prove(req.data).SerializeToString())]) if req.prove else None
                    response = abci.ResponseQuery(key=req.data, value=value or b"", proof_ops=ops, height=head.number,
                                                  log="exists" if value is not None else "does not exist")
                elif req.path.startswith("/query/") and req.path.count("/") == 3:
                    _, _, pallet, name = req.path.split("/")
                    response = abci.ResponseQuery(value=self.executive.query(pallet, name, req.data),
                                                  height=head.number)
                else:
                    raise ValueError(f"unknown query path {req.path!r}: use /store or /query/PALLET/NAME")
            except (LookupError, ValueError, DecodeError, PalletError) as exc:  # the client's error, answered as such
                response = abci.ResponseQuery(code=INVALID, codespace=CODESPACE, log=f"{type(exc).__name__}: {exc}",
                                              height=head.number)
            except Exception as exc:  # last resort: a query's bug must not stop consensus (logged)
                log.exception("abci_query_failed", path=req.path)
                response = abci.ResponseQuery(code=INVALID, codespace=CODESPACE, log=f"{type(exc).__name__}: {exc}",
                                              height=head.number)
        return abci.Response(query=response)

    # --- connection: mempool ------------------------------------------------------------------
    def check_tx(self, request: abci.Request) -> abci.Response:
        req = request.check_tx
        if req.type == abci.RECHECK:
            held = blake2_256(req.tx) in self.node.pool
            return abci.Response(check_tx=abci.ResponseCheckTx(
                code=OK if held else INVALID, codespace=CODESPACE, log="" if held else "no longer in the pool"))
        try:
            self.node.admit(req.tx)
        except PoolRejected as exc:
            if exc.code != "duplicate":  # already pooled: valid, and CometBFT may hold it again
                message = str(exc).removeprefix(f"{exc.code}: ")
                return abci.Response(check_tx=abci.ResponseCheckTx(code=INVALID, codespace=CODESPACE,
                                                                   info=exc.code, log=message))
        self.verified.add([blake2_256(req.tx)])  # the pool holds it: its signature was checked on entry
        return abci.Response(check_tx=abci.ResponseCheckTx(code=OK))

    # --- connection: consensus ----------------------------------------------------------------
    def init_chain(self, request: abci.Request) -> abci.Response:
        req, spec = request.init_chain, self.executive.runtime.spec
        head = self.executive.head
        if head.number != 0:
            raise ValueError(f"InitChain on a node that has committed block #{head.number}: wrong --base-path?")
        if req.chain_id != spec.id:
            raise ValueError(f"CometBFT's chain id {req.chain_id!r} is not this chain spec's id {spec.id!r}")
        if req.initial_height > 1:
            raise ValueError(f"initial_height {req.initial_height}: a Payable chain starts at height 1")
        genesis_ms = int(spec.genesis.get("system", {}).get("timestamp_ms", 0))
        if time_ms(req.time) <= genesis_ms:
            raise ValueError(f"CometBFT's genesis time ({time_ms(req.time)} ms) must be after the chain spec's "
                             f"genesis timestamp ({genesis_ms} ms)")
        wanted = self.executive.consensus_validators()
        if wanted is not None:
            given = sorted((v.pub_key.ed25519, v.power) for v in req.validators)
            if given != sorted(wanted):
                raise ValueError(f"CometBFT's genesis validators {_describe(given)} are not the chain spec's "
                                 f"{_describe(wanted)}")
        log.info("abci_init_chain", chain=req.chain_id, validators=len(req.validators))
        return abci.Response(init_chain=abci.ResponseInitChain(app_hash=head.state_root))

    def prepare_proposal(self, request: abci.Request) -> abci.Response:
        req = request.prepare_proposal
        note = note_consensus(req.proposer_address, req.local_last_commit.votes, req.misbehavior)
        budget, chosen = req.max_tx_bytes, []
        for tx in self.node.pool.ready(MAX_PROPOSAL_EXTRINSICS):
            if len(tx.raw) + TX_OVERHEAD > budget:
                continue
            budget -= len(tx.raw) + TX_OVERHEAD
            chosen.append(tx.raw)
        with self.node.lock:
            self._open(None, req.height, time_ms(req.time), note, chosen)
            applied = [raw for raw, r in zip(chosen, self._open_results, strict=True) if isinstance(r, ApplyOutcome)]
            self._open_key = self._key(req.height, time_ms(req.time), note, applied)
            self._open_txs, self._open_results = applied, [r for r in self._open_results if isinstance(r, ApplyOutcome)]
        return abci.Response(prepare_proposal=abci.ResponsePrepareProposal(txs=applied))

    def process_proposal(self, request: abci.Request) -> abci.Response:
        req = request.process_proposal
        note = note_consensus(req.proposer_address, req.proposed_last_commit.votes, req.misbehavior)
        with self.node.lock:
            results = self._execute(req.height, time_ms(req.time), note, list(req.txs))
        refused = [(i, r) for i, r in enumerate(results) if isinstance(r, InvalidTransaction)]
        if refused:
            log.warning("abci_proposal_rejected", height=req.height, first=f"#{refused[0][0]}: {refused[0][1]}",
                        refused=len(refused))
        status = abci.ResponseProcessProposal.REJECT if refused else abci.ResponseProcessProposal.ACCEPT
        return abci.Response(process_proposal=abci.ResponseProcessProposal(status=status))

    def finalize_block(self, request: abci.Request) -> abci.Response:
        req = request.finalize_block
        note = note_consensus(req.proposer_address, req.decided_last_commit.votes, req.misbehavior)
        self.node.lock.acquire()  # released by Commit (or below, if finalizing fails)
        try:
            results = self._execute(req.height, time_ms(req.time), note, list(req.txs))
            before = self.executive.consensus_validators()
            header = self.executive.finalize_block()
            after = self.executive.consensus_validators(pending=True)
            events = self.executive.pending_events()
        except BaseException:
            self._drop_open()
            self.node.lock.release()
            raise
        self._finalized, self._holder = (req.height, header), threading.get_ident()
        response = abci.Response()
        answer = response.finalize_block
        answer.app_hash = header.state_root
        answer.validator_updates.extend(_updates(before, after))
        _add_results(answer, results, events)
        return response

    def commit(self, request: abci.Request) -> abci.Response:
        if self._finalized is None:
            raise RuntimeError("Commit without a finalized block")
        height, header = self._finalized
        if self._crash_at == height:
            log.warning("abci_crash_before_commit", height=height)
            os._exit(3)
        try:
            block_hash = self.executive.commit()
            outcomes, rejected = split_results(self._open_txs, self._open_results)
            self.verified.discard(o.hash for o in outcomes)  # spent nonces: never valid again
            block = self.executive.db.require_block(height)
            self._open_key, self._open_txs, self._open_results, self._finalized = None, [], [], None
            due = self.snapshots is not None and self.snapshots.due(height)
            taken = statesync.capture(self.executive) if due else None
        finally:
            self._holder = None
            self.node.lock.release()
        if taken is not None and self.snapshots is not None:
            self.snapshots.save_in_background(taken)
        self.node.block_committed(AuthoredBlock(block, block_hash, header, outcomes, rejected), final=True)
        log.info("block_committed", number=height, hash=block_hash.hex(), extrinsics=len(outcomes),
                 failed_calls=sum(not o.ok for o in outcomes), left_out=len(rejected))
        retain = max(0, height - self.retain_blocks) if self.retain_blocks else 0
        return abci.Response(commit=abci.ResponseCommit(retain_height=retain))

    # --- connection: snapshot (state sync) ------------------------------------------------------
    def list_snapshots(self, request: abci.Request) -> abci.Response:
        found = self.snapshots.manifests() if self.snapshots is not None else []
        return abci.Response(list_snapshots=abci.ResponseListSnapshots(snapshots=[snapshot_message(m) for m in found]))

    def load_snapshot_chunk(self, request: abci.Request) -> abci.Response:
        req = request.load_snapshot_chunk
        piece = self.snapshots.load_chunk(req.height, req.chunk) \
            if self.snapshots is not None and req.format == statesync.FORMAT else b""
        return abci.Response(load_snapshot_chunk=abci.ResponseLoadSnapshotChunk(chunk=piece))

    def offer_snapshot(self, request: abci.Request) -> abci.Response:
        req = request.offer_snapshot
        snapshot, result = req.snapshot, Offer.ACCEPT
        self._drop_restore()
        if self.executive.head.number != 0:
            log.warning("snapshot_refused", reason=f"this node has blocks up to #{self.executive.head.number}")
            result = Offer.ABORT
        elif snapshot.format != statesync.FORMAT:
            result = Offer.REJECT_FORMAT
        else:
            try:
                manifest = self._check_offer(snapshot, req.app_hash)
            except SnapshotError as exc:
                log.warning("snapshot_refused", height=snapshot.height, reason=str(exc))
                result = Offer.REJECT
            else:
                staging = self.node.base_path / STAGING_DIR
                shutil.rmtree(staging, ignore_errors=True)
                self._restore = Restore(manifest, req.app_hash, RocksBackend(staging))
                log.info("snapshot_accepted", height=manifest.height, chunks=len(manifest.chunks))
        return abci.Response(offer_snapshot=Offer(result=result))

    def _check_offer(self, snapshot: abci.Snapshot, app_hash: bytes) -> Manifest:
        """The offered snapshot's manifest, if it can be this chain's state at the verified app hash."""
        if blake2_256(snapshot.metadata) != snapshot.hash:
            raise SnapshotError("the snapshot's hash is not its manifest's")
        manifest = Manifest.decode(snapshot.metadata)
        if (manifest.height, len(manifest.chunks)) != (snapshot.height, snapshot.chunks):
            raise SnapshotError("the manifest's height or chunk count is not the snapshot's")
        if (manifest.chain_id, manifest.genesis_hash) != (self.executive.runtime.spec.id, self.executive.genesis_hash):
            raise SnapshotError(f"a snapshot of another chain ({manifest.chain_id!r})")
        if manifest.state_root != app_hash:
            raise SnapshotError(f"its state root {manifest.state_root.hex()} is not the app hash {app_hash.hex()} "
                                f"CometBFT verified at height {snapshot.height}")
        return manifest

    def apply_snapshot_chunk(self, request: abci.Request) -> abci.Response:
        req, restore = request.apply_snapshot_chunk, self._restore
        if restore is None:
            return abci.Response(apply_snapshot_chunk=Apply(result=Apply.ABORT))
        try:
            restore.apply(req.index, req.chunk)
            if restore.complete:
                self._adopt(restore)
        except BadChunk as exc:
            log.warning("snapshot_chunk_refused", index=req.index, sender=req.sender, reason=str(exc))
            return abci.Response(apply_snapshot_chunk=Apply(result=Apply.RETRY, refetch_chunks=[req.index],
                                                            reject_senders=[req.sender] if req.sender else []))
        except SnapshotError as exc:
            log.warning("snapshot_rejected", height=restore.manifest.height, reason=str(exc))
            self._drop_restore()
            return abci.Response(apply_snapshot_chunk=Apply(result=Apply.REJECT_SNAPSHOT))
        return abci.Response(apply_snapshot_chunk=Apply(result=Apply.ACCEPT))

    def _adopt(self, restore: Restore) -> None:
        """The last chunk is in: check the whole snapshot, then make it the node's state in one batch."""
        restored = restore.finish()
        with self.node.lock:
            if self.executive.head.number != 0:
                raise SnapshotError("the node committed blocks while the snapshot was restored")
            # the head's events are not in a snapshot (nothing checkable commits to them): none recorded
            self.executive.db.adopt(restored.block, BlockEvents(), restored.state(), restored.trie)
        self._drop_restore()
        head = self.executive.head
        self.node.metrics.height.set(head.number)
        log.info("snapshot_restored", height=head.number, hash=head.hash.hex(), state_root=head.state_root.hex())

    def _drop_restore(self) -> None:
        """Close and remove the staging store of a restore that ended (adopted or refused)."""
        if self._restore is not None:
            self._restore.staging.close()
            shutil.rmtree(self.node.base_path / STAGING_DIR, ignore_errors=True)
            self._restore = None

    # --- executing a proposal -------------------------------------------------------------------
    @staticmethod
    def _key(height: int, timestamp_ms: int, note: system_pb2.NoteConsensus, txs: list[bytes]) -> bytes:
        parts = [height.to_bytes(8, "big"), timestamp_ms.to_bytes(8, "big"),
                 blake2_256(note.SerializeToString(deterministic=True)), *(blake2_256(tx) for tx in txs)]
        return blake2_256(b"".join(parts))

    def _execute(self, height: int, timestamp_ms: int, note: system_pb2.NoteConsensus, txs: list[bytes]) -> list:
        """Results of executing this proposal in the open block - reused if it is the one already open."""
        key = self._key(height, timestamp_ms, note, txs)
        if key != self._open_key:
            self._open(key, height, timestamp_ms, note, txs)
        return self._open_results

    def _open(self, key: bytes | None, height: int, timestamp_ms: int, note: system_pb2.NoteConsensus,
              txs: list[bytes]) -> None:
        self._drop_open()
        head = self.executive.head
        if height != head.number + 1:
            raise ValueError(f"asked to execute height {height}, but the committed head is #{head.number}")
        inherent = inherent_extrinsic(make_call(system.NAME, 2, note))
        self.executive.open_block(BLOCK_REWARDS, timestamp_ms, (inherent,))
        pool, verified = self.node.pool, self.verified
        # pooled: the pool checked it on entry (before CometBFT's CheckTx of a client's submission records it)
        self._open_results = self.executive.apply_candidates(
            txs, trusted=lambda raw: (h := blake2_256(raw)) in pool or verified.trusted(h))
        verified.add(r.hash for r in self._open_results if isinstance(r, ApplyOutcome))
        self._open_key, self._open_txs = key, txs

    def _drop_open(self) -> None:
        self.executive.abort()
        self._open_key, self._open_txs, self._open_results = None, [], []


def snapshot_message(manifest: Manifest) -> abci.Snapshot:
    """How CometBFT sees a snapshot: the manifest is its metadata, the manifest's hash its hash."""
    return abci.Snapshot(height=manifest.height, format=statesync.FORMAT, chunks=len(manifest.chunks),
                         hash=manifest.hash, metadata=manifest.encode())


def _describe(validators) -> str:
    return "[" + ", ".join(f"{key.hex()[:12]}…={power}" for key, power in validators) + "]"


def _add_results(answer: abci.ResponseFinalizeBlock, results: list[ApplyOutcome | InvalidTransaction],
                 events) -> None:
    """Each transaction's result, with its events, and the block's own events, written into `answer` in
    place: a block of thousands of transfers makes tens of thousands of messages, and building each apart
    and copying it into its parent cost more than the block's execution left to do after ProcessProposal."""
    by_extrinsic: dict[int, list] = {}
    for e in events:
        if e.phase == e.APPLY_EXTRINSIC:
            by_extrinsic.setdefault(e.extrinsic_index, []).append(e)
        else:
            _add_event(answer.events, e)
    add_result = answer.tx_results.add
    for result in results:
        if isinstance(result, InvalidTransaction):
            add_result(code=INVALID, codespace=CODESPACE, log=f"left out: {result}")
            continue
        if result.ok:
            tx = add_result(code=OK, gas_used=result.weight_ns)
        else:
            tx = add_result(code=CALL_FAILED, codespace=CODESPACE, gas_used=result.weight_ns, log=result.error_text)
        mine = tx.events.add(type="extrinsic")
        mine.attributes.add(key="hash", value=result.hash.hex(), index=True)
        mine.attributes.add(key="index", value=str(result.index), index=False)
        for e in by_extrinsic.get(result.index, ()):
            _add_event(tx.events, e)


def _add_event(into, record) -> None:
    """A runtime event as a CometBFT event: `pallet.Name`, its protobuf data hex-encoded."""
    into.add(type=f"{record.pallet}.{record.name}").attributes.add(key="data", value=record.data.hex(), index=False)


def _updates(before, after) -> list[abci.ValidatorUpdate]:
    """CometBFT validator updates that turn set `before` into `after` (power 0 removes)."""
    if after is None:
        return []
    old, new = dict(before or []), dict(after)
    changed = [(key, power) for key, power in sorted(new.items()) if old.get(key) != power]
    changed += [(key, 0) for key in sorted(old) if key not in new]
    return [abci.ValidatorUpdate(pub_key=keys.PublicKey(ed25519=key), power=power) for key, power in changed]

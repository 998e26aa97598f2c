"""A node's content store backed by the network's private IPFS swarm: what goes in, what comes out, and
what is dropped.

Users still read through a node's content API, which checks the chain first (withdrawn? a permissioned
DataNet's reader?) and only then asks this module for a blob the node lacks: it is fetched from the swarm
by CID, its blake2b-256 recomputed and compared with the chain's content hash, and only then stored in the
node's own content store and served. A replica altered anywhere - in a peer's blockstore, in this node's
kubo repository on disk, or announced under a CID of other bytes - is refused and never stored.

What enters the swarm is decided by the chain, block by block, never at upload: an upload waits (a
`pending` marker) until a DataNet holds its hash.
- Public data goes in as it is. A blob of at most one chunk (1 MiB) is a single raw block whose CID's
  multihash is the chain's content hash, so any node derives its CID from the chain alone; a longer one
  has a UnixFS root CID, recorded beside the content hash (below).
- Permissioned data goes in encrypted (XSalsa20-Poly1305, a key per blob derived from the network's content
  key and the content hash; the nonce is fixed because each key encrypts exactly one plaintext). The
  content key is generated with the network and held by its nodes only, next to - not in - the swarm
  key: a swarm peer, or anyone holding the swarm key, gets ciphertext; the bytes come out only through a
  node's content API, after the chain's signed-read check.
- A blob no DataNet holds (never contributed) never enters the swarm; one the chain withdraws or takes
  down is unpinned and its blocks deleted on every node, as every node commits the block that frees it.

CID records: a node that puts a blob into the swarm records (content hash -> CID, encrypted or not) in
its index and announces it on the network's pubsub topic; every node keeps the records it hears for blobs
the chain holds (any peer may announce: records of other hashes would only fill the disk). A node that
lacks a record asks on the topic ("want"), and a node that holds the blob answers with its record.
A record is only a hint - whatever it points at is verified against the chain's hash - so a wrong one
costs a failed fetch, not a wrong blob, and is dropped (the next read asks again). At most MAX_FETCHES
reads wait on the swarm at once; others are refused as busy rather than each holding a gRPC worker.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from ..contentstore import ContentError, ContentStore
from .kubo import Kubo, KuboError, KuboUnreachable, raw_cid

log = structlog.get_logger("payable.ipfs")
PUBLIC, PERMISSIONED, WITHDRAWN, UNREFERENCED = "public", "permissioned", "withdrawn", "unreferenced"
Standing = Callable[[bytes], str]  # the chain's word on a blob: one of the four above
NONCE = bytes(SecretBox.NONCE_SIZE)  # one key per plaintext (derived from its hash): a fixed nonce is safe
RECORD_WAIT_S = 3.0  # how long a fetch waits for a peer's answer to its "want"
MAX_FETCHES = 4  # fetches waiting on the swarm at once: each holds one of the node's gRPC workers meanwhile


class SwarmBusy(RuntimeError):
    """MAX_FETCHES reads already wait on the swarm: this one is refused at once, to be retried shortly."""


@dataclass(frozen=True)
class Record:
    """Where a blob is in the swarm: its CID, and whether what is there is encrypted."""
    cid: str
    encrypted: bool


def content_key_for(network_key: bytes, digest: bytes) -> bytes:
    """The blob's own encryption key: keyed blake2b of its content hash under the network's content key."""
    return hashlib.blake2b(digest, key=network_key, digest_size=SecretBox.KEY_SIZE, person=b"payable-swarm").digest()


def encrypt(network_key: bytes, digest: bytes, data: bytes) -> bytes:
    """Deterministic (the same blob gives the same ciphertext on every node, so it is stored once)."""
    return SecretBox(content_key_for(network_key, digest)).encrypt(data, NONCE).ciphertext


def decrypt(network_key: bytes, digest: bytes, sealed: bytes) -> bytes:
    """The plaintext, or ContentError when the ciphertext was altered (its Poly1305 tag fails)."""
    try:
        return SecretBox(content_key_for(network_key, digest)).decrypt(sealed, NONCE)
    except CryptoError:
        raise ContentError(f"the swarm's copy of blob {digest.hex()} fails its authentication tag") from None


class SwarmContent:
    """The node's side of the swarm: `uploaded` after an upload, `block_committed` after each block (it
    publishes what the chain now holds and unpins what it freed, on a thread of its own), `fetch` for a
    blob the node lacks, `close` at stop."""

    def __init__(self, store: ContentStore, kubo: Kubo, directory: str | Path, network_key: bytes,
                 topic: str, standing: Standing, fetch_timeout: float = 20.0):
        if len(network_key) != SecretBox.KEY_SIZE:
            raise ValueError(f"the network's content key is {SecretBox.KEY_SIZE} bytes, got {len(network_key)}")
        self.store, self.kubo, self.key, self.topic = store, kubo, network_key, topic
        self.standing, self.fetch_timeout = standing, fetch_timeout
        self.dir = Path(directory)
        (self.dir / "records").mkdir(parents=True, exist_ok=True)
        (self.dir / "pending").mkdir(exist_ok=True)
        (self.dir / "releasing").mkdir(exist_ok=True)
        self.peer_id = kubo.id()
        self._records_changed = threading.Condition()
        self._fetching = threading.BoundedSemaphore(MAX_FETCHES)
        self._work: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, name="ipfs-publish", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="ipfs-records", daemon=True)
        self._worker.start()
        self._listener.start()

    # --- the index -----------------------------------------------------------------------------
    def record(self, digest: bytes) -> Record | None:
        try:
            return Record(**json.loads((self.dir / "records" / digest.hex()).read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def _keep_record(self, digest: bytes, record: Record, replace: bool = False) -> None:
        path = self.dir / "records" / digest.hex()
        if path.exists() and not replace:
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record)))
        tmp.replace(path)
        with self._records_changed:
            self._records_changed.notify_all()

    def _forget(self, digest: bytes) -> None:
        (self.dir / "records" / digest.hex()).unlink(missing_ok=True)

    # --- into the swarm ----------------------------------------------------------------------------
    def uploaded(self, digest: bytes) -> None:
        """A blob landed in this node's store by upload: it enters the swarm once a DataNet holds it."""
        (self.dir / "pending" / digest.hex()).touch()

    def block_committed(self, released: list[bytes]) -> None:
        """After each committed block (from the node's commit path, so cheap): the worker unpins what the
        block freed and publishes the pending uploads the chain now holds."""
        self._work.put(released)

    def _next_pass(self) -> tuple[list[bytes], bool]:
        """What the blocks committed since the last pass freed (waiting for one), and whether `close` asked the
        worker to stop. Every block queued meanwhile joins one pass: a pass asks the chain about each pending
        upload (and uploads are free), so a worker behind the chain must not queue a full scan per block."""
        released: list[bytes] = []
        batch = self._work.get()
        while batch is not None:
            released += batch
            if self._work.empty():
                return released, False
            batch = self._work.get_nowait()
        return released, True

    def _run(self) -> None:
        stopping = False
        while not stopping:
            released, stopping = self._next_pass()
            try:
                for digest in released:
                    self._mark_released(digest)
                for marker in sorted((self.dir / "releasing").iterdir()):  # this pass's, and any unfinished
                    if not marker.suffix:  # not a `.tmp` a crash left half-written
                        self.release(bytes.fromhex(marker.name))
                for marker in [] if stopping else list((self.dir / "pending").iterdir()):
                    self._publish_pending(bytes.fromhex(marker.name))
            except (KuboError, ContentError, OSError) as exc:
                log.warning("ipfs_publish_failed", error=str(exc))  # the next block tries again

    def _publish_pending(self, digest: bytes) -> None:
        standing = self.standing(digest)
        if standing == UNREFERENCED:
            return  # not (yet) contributed anywhere: stays out of the swarm
        marker = self.dir / "pending" / digest.hex()
        if standing != WITHDRAWN and self.store.size(digest) is not None:
            data = b"".join(self.store.read(digest))
            encrypted = standing == PERMISSIONED
            cid = self.kubo.add(encrypt(self.key, digest, data) if encrypted else data)
            record = Record(cid, encrypted)
            self._keep_record(digest, record, replace=True)
            self._announce("have", digest, record)
            log.info("content_published", hash=digest.hex(), cid=cid, encrypted=encrypted,
                     derived=cid == raw_cid(digest))
        marker.unlink(missing_ok=True)

    def _mark_released(self, digest: bytes) -> None:
        """Record, durably, that the chain freed this blob (with the CIDs it may sit under here) before any
        unpin: a daemon that does not answer now is unpinned when it answers again - on a later pass, or
        after a restart - never forgotten while its copy still serves the swarm."""
        cids = {raw_cid(digest)}
        if (record := self.record(digest)) is not None:
            cids.add(record.cid)
        marker = self.dir / "releasing" / digest.hex()
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(cids)))
        tmp.replace(marker)
        (self.dir / "pending" / digest.hex()).unlink(missing_ok=True)
        self._forget(digest)

    def release(self, digest: bytes) -> None:
        """Unpin a blob the chain freed and delete its blocks here (every node does, at the same block);
        KuboUnreachable while the daemon does not answer, its marker kept for the next pass."""
        marker = self.dir / "releasing" / digest.hex()
        if not marker.exists():
            self._mark_released(digest)
        cids = json.loads(marker.read_text())
        for cid in cids:
            if self.kubo.has_block(cid):
                self.kubo.unpin(cid)
        marker.unlink()
        log.info("content_unpinned", hash=digest.hex(), cids=cids)

    # --- out of the swarm ----------------------------------------------------------------------------
    def fetch(self, digest: bytes) -> bool:
        """Bring a blob the chain holds from the swarm into this node's store, verified against its hash;
        False when the swarm has no copy that verifies (ContentError when one was found and refused,
        SwarmBusy when MAX_FETCHES others already wait on the swarm: a blob nobody holds keeps its reader
        waiting RECORD_WAIT_S + fetch_timeout, so unbounded, a few callers would hold every gRPC worker)."""
        standing = self.standing(digest)
        if standing in (WITHDRAWN, UNREFERENCED):
            return False
        if not self._fetching.acquire(blocking=False):
            raise SwarmBusy(f"{MAX_FETCHES} reads are already waiting on the swarm for blobs this node lacks; "
                            f"retry blob {digest.hex()} shortly")
        try:
            return self._fetch(digest, standing)
        finally:
            self._fetching.release()

    def _fetch(self, digest: bytes, standing: str) -> bool:
        record = self.record(digest) or self._ask(digest)
        if record is None and standing == PUBLIC:
            record = Record(raw_cid(digest), encrypted=False)  # a blob of one chunk: its CID is its hash
        if record is None:
            return False
        try:
            data = self.kubo.cat(record.cid, self.store.max_blob + 64, self.fetch_timeout)
        except KuboUnreachable:
            raise  # this node's own daemon is down: not a blob the swarm lacks
        except KuboError as exc:
            self._forget(digest)  # a record of a CID nobody serves (a peer's may be bogus): ask afresh next time
            log.info("content_not_in_swarm", hash=digest.hex(), cid=record.cid, error=str(exc))
            return False
        if record.encrypted:
            try:
                data = decrypt(self.key, digest, data)
            except ContentError:
                self._forget(digest)  # a record wrongly marked encrypted, or an altered copy: ask afresh next time
                raise
        found = hashlib.blake2b(data, digest_size=32).digest()
        if found != digest:
            self._forget(digest)  # the record (or the copy behind it) is wrong: ask afresh next time
            log.warning("content_replica_refused", hash=digest.hex(), cid=record.cid, found=found.hex())
            raise ContentError(f"the swarm's copy of blob {digest.hex()} (CID {record.cid}) hashes to "
                               f"{found.hex()}: refused")
        self.store.put([data], expected=digest)
        try:
            self.kubo.pin(record.cid)  # this node now serves it to the swarm too
        except KuboError as exc:  # the read still succeeds: the blob is in the store
            log.warning("content_pin_failed", hash=digest.hex(), cid=record.cid, error=str(exc))
        self._keep_record(digest, record)
        log.info("content_fetched", hash=digest.hex(), cid=record.cid, size=len(data), encrypted=record.encrypted)
        return True

    def _ask(self, digest: bytes) -> Record | None:
        """Ask the swarm for a blob's record and wait a little for a node that holds it to answer."""
        try:
            self._announce("want", digest)
        except KuboUnreachable:
            raise
        except KuboError:
            return None
        deadline = time.monotonic() + RECORD_WAIT_S
        with self._records_changed:
            while (record := self.record(digest)) is None and (left := deadline - time.monotonic()) > 0:
                self._records_changed.wait(left)
        return record

    # --- records over pubsub ---------------------------------------------------------------------------
    def _announce(self, kind: str, digest: bytes, record: Record | None = None) -> None:
        message = {"kind": kind, "hash": digest.hex(), **(asdict(record) if record else {})}
        self.kubo.publish(self.topic, json.dumps(message).encode())

    def _listen(self) -> None:
        """Keep the records other nodes announce; answer a "want" for a blob this node has put or pinned."""
        while not self._stopping.is_set():
            try:
                for sender, data in self.kubo.subscribe(self.topic):
                    if sender != self.peer_id:
                        self._heard(data)
            except (KuboError, OSError, ValueError) as exc:
                if not self._stopping.is_set():
                    log.info("ipfs_records_resubscribe", error=str(exc))
                    self._stopping.wait(1.0)

    def _heard(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            digest = bytes.fromhex(message["hash"])
            if len(digest) != 32:
                return
            if message["kind"] == "have":
                if self.standing(digest) in (PUBLIC, PERMISSIONED):  # any peer may announce: keep only what
                    # the chain holds, so announcements cannot fill the disk (a dropped one is asked for again)
                    self._keep_record(digest, Record(str(message["cid"]), bool(message["encrypted"])))
            elif message["kind"] == "want" and (record := self.record(digest)) is not None \
                    and self.kubo.has_block(record.cid):
                self._announce("have", digest, record)
        except (ValueError, KeyError, TypeError, KuboError) as exc:
            log.info("ipfs_record_ignored", error=str(exc))

    def close(self) -> None:
        self._stopping.set()
        self._work.put(None)
        self._worker.join(timeout=30)



def attach(node, api: str, key_file: str | Path) -> SwarmContent:
    """Back `node`'s content store (a `node.node.Node`) with the swarm of the kubo daemon at `api`; the
    network's content key is read from `key_file` (32 bytes, hex). The pubsub topic is the chain's own."""
    swarm = SwarmContent(node.content, Kubo(api), node.base_path / "ipfs-index",
                         bytes.fromhex(Path(key_file).read_text().strip()),
                         f"payable/{node.executive.genesis_hash.hex()}/cids", node.content_standing)
    node.swarm = swarm
    return swarm

"""A node's side of the swarm (`node.ipfs.replication.SwarmContent`) against hostile peers and callers, with
no daemon: an in-memory kubo stands in for the RPC API (blocks by CID, pubsub messages handed in by the
test), so what is checked is the node's own logic - which records it keeps, what it does when one is
wrong, and how many reads it lets wait on the swarm at once. The real swarm: test_ipfs_testnet.py."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from types import SimpleNamespace

import grpc
import pytest

from node.contentstore import ContentError, ContentStore
from node.grpc_api import ContentService, Refused
from node.ipfs import kubo
from node.ipfs.replication import PUBLIC, UNREFERENCED, Record, SwarmBusy, SwarmContent
from node.testnet import CONTENT_KEY, NodeInfo, Testnet


class MemoryKubo:
    """Blocks by CID in a dict; `cat` of a CID it lacks waits `gate` (a swarm that has no copy) and fails."""

    def __init__(self):
        self.blocks: dict[str, bytes] = {}
        self.published: list[dict] = []
        self.gate = threading.Event()
        self.closed = threading.Event()
        self.waiting = 0  # cats now waiting on the swarm
        self.down = False  # the daemon does not answer (killed, stopped)
        self.unpinned: list[str] = []

    def _answering(self) -> None:
        if self.down:
            raise kubo.KuboUnreachable("kubo's API at http://127.0.0.1:1 does not answer: connection refused")

    def id(self) -> str:
        return "12D3KooWself"

    def cat(self, cid: str, limit: int, timeout: float) -> bytes:
        self._answering()
        if cid not in self.blocks:
            self.waiting += 1
            self.gate.wait(timeout)
            self.waiting -= 1
            raise kubo.KuboError(f"kubo cat: {cid} not found within {timeout} s")
        return self.blocks[cid]

    def pin(self, cid: str) -> None:
        pass

    def has_block(self, cid: str) -> bool:
        self._answering()
        return cid in self.blocks

    def unpin(self, cid: str) -> None:
        self._answering()
        self.unpinned.append(cid)
        self.blocks.pop(cid, None)

    def publish(self, topic: str, message: bytes) -> None:
        self._answering()
        self.published.append(json.loads(message))

    def subscribe(self, topic: str):
        self.closed.wait()
        return iter(())


@pytest.fixture
def swarm(tmp_path, monkeypatch):
    monkeypatch.setattr("node.ipfs.replication.RECORD_WAIT_S", 0.05)
    chain: dict[bytes, str] = {}
    fake = MemoryKubo()
    content = SwarmContent(ContentStore(tmp_path / "store"), fake, tmp_path / "index", os.urandom(32), "t",
                           lambda digest: chain.get(digest, UNREFERENCED), fetch_timeout=5)
    content.chain = chain  # the test's chain: digest -> standing
    yield content
    fake.gate.set()
    fake.closed.set()
    content.close()


def _blob(size: int = 100) -> tuple[bytes, bytes]:
    data = os.urandom(size)
    return data, hashlib.blake2b(data, digest_size=32).digest()


def _have(digest: bytes, cid: str, encrypted: bool = False) -> bytes:
    return json.dumps({"kind": "have", "hash": digest.hex(), "cid": cid, "encrypted": encrypted}).encode()


def test_a_peers_record_of_a_cid_nobody_holds_is_dropped_after_a_failed_fetch(swarm):
    """A "have" pointing at nothing must not stick: the next read asks again and finds the real copy."""
    data, digest = _blob()
    swarm.chain[digest] = PUBLIC
    swarm.kubo.gate.set()  # the swarm answers "not found" at once
    swarm._heard(_have(digest, "bafkreibogus"))
    assert swarm.record(digest) == Record("bafkreibogus", False)
    real = "bafyreal"  # e.g. a UnixFS root another node recorded
    swarm.kubo.blocks[real] = data
    assert swarm.fetch(digest) is False
    swarm._heard(_have(digest, real))  # the honest node's answer to the next "want"
    assert swarm.fetch(digest) is True
    assert b"".join(swarm.store.read(digest)) == data


def test_records_for_blobs_the_chain_does_not_hold_are_not_kept(swarm):
    """Any peer may announce; only records for what the chain holds take room on this node's disk."""
    for _ in range(20):
        swarm._heard(_have(os.urandom(32), "bafkreijunk"))
    assert list((swarm.dir / "records").iterdir()) == []
    _, held = _blob()
    swarm.chain[held] = PUBLIC
    swarm._heard(_have(held, "bafkreiheld"))
    assert swarm.record(held) == Record("bafkreiheld", False)


def test_reads_waiting_on_the_swarm_are_capped_and_the_rest_refused_at_once(swarm):
    """Each fetch of a blob the swarm lacks can wait its whole timeout: past the cap a read is refused as
    busy at once instead of taking another of the node's gRPC workers."""
    from node.ipfs import replication

    digests = []
    for _ in range(replication.MAX_FETCHES):
        _, digest = _blob()
        swarm.chain[digest] = PUBLIC
        digests.append(digest)
    waiting = [threading.Thread(target=swarm.fetch, args=(d,)) for d in digests]
    for thread in waiting:
        thread.start()
    try:
        _, extra = _blob()
        swarm.chain[extra] = PUBLIC
        pause = threading.Event()
        for _ in range(200):  # until every fetch waits on the swarm
            if swarm.kubo.waiting == replication.MAX_FETCHES:
                break
            pause.wait(0.02)
        with pytest.raises(SwarmBusy, match="already waiting on the swarm"):
            swarm.fetch(extra)
        service = ContentService(SimpleNamespace(content=swarm.store, swarm=swarm))  # what a client is told
        with pytest.raises(Refused) as refused:
            service._ensure_local(extra)
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "retry" in refused.value.details
    finally:
        swarm.kubo.gate.set()
        for thread in waiting:
            thread.join()
    assert swarm.fetch(extra) is False  # slots free again: an ordinary miss


def test_the_network_content_key_is_never_readable_by_others_even_for_a_moment(tmp_path, monkeypatch):
    """The content key is created private (like the swarm key, `kubo.write_private`), not written and then
    chmod-ed: between the two, any local user could read it and decrypt every permissioned blob."""
    monkeypatch.setattr("pathlib.Path.chmod", lambda self, mode: None)  # a chmod that comes too late
    monkeypatch.setattr("node.testnet.kubo.init_repo", lambda binary, repo, key_text: "peer")
    monkeypatch.setattr("node.testnet.kubo.configure", lambda repo, ports, peers: None)
    monkeypatch.setattr("node.testnet.kubo_install.check_binary", lambda: "kubo")
    node = NodeInfo("node0", str(tmp_path / "node0"), "//validator-0", "", "", True, {})
    (tmp_path / "node0").mkdir()
    old = os.umask(0)
    try:
        Testnet(tmp_path)._make_swarm(kubo.swarm_key(), os.urandom(32).hex(), [node])
    finally:
        os.umask(old)
    key_file = tmp_path / "node0" / CONTENT_KEY
    assert len(bytes.fromhex(key_file.read_text())) == 32
    assert key_file.stat().st_mode & 0o077 == 0, oct(key_file.stat().st_mode)


def test_a_fetched_blob_is_served_even_when_kubo_will_not_pin_it(swarm, monkeypatch):
    """The copy verified and landed in the store: a pin refused afterwards (kubo busy, disk full) is logged,
    not turned into a failed read."""
    data, digest = _blob()
    swarm.chain[digest] = PUBLIC
    swarm.kubo.blocks[kubo.raw_cid(digest)] = data

    def refuse(cid):
        raise kubo.KuboError("kubo pin/add: no space left on device")

    monkeypatch.setattr(swarm.kubo, "pin", refuse)
    assert swarm.fetch(digest) is True
    assert b"".join(swarm.store.read(digest)) == data


def test_a_record_whose_copy_fails_its_tag_is_dropped_too(swarm):
    """A peer that announces a public blob as encrypted makes the copy fail its authentication tag: that read
    is refused (DATA_LOSS), and the record must not stick - the next read finds the blob by its hash's CID."""
    data, digest = _blob()
    swarm.chain[digest] = PUBLIC
    swarm.kubo.blocks[kubo.raw_cid(digest)] = data
    swarm._heard(_have(digest, kubo.raw_cid(digest), encrypted=True))
    with pytest.raises(ContentError, match="authentication tag"):
        swarm.fetch(digest)
    assert swarm.record(digest) is None
    assert swarm.fetch(digest) is True


def test_a_publisher_behind_the_chain_scans_the_pending_uploads_once_not_once_per_block(tmp_path):
    """Uploads are free, and each waits (a pending marker) until the chain holds it: every pass asks the chain
    about each one. Blocks that committed while a pass ran are served by one pass, so a worker that fell
    behind catches up instead of queueing a full scan per block."""
    fake, asked, first_pass = MemoryKubo(), [], threading.Event()

    def standing(digest: bytes) -> str:
        asked.append(digest)
        first_pass.wait(10)  # the first pass is slow: blocks keep committing meanwhile
        return UNREFERENCED

    content = SwarmContent(ContentStore(tmp_path / "store"), fake, tmp_path / "index", os.urandom(32), "t", standing)
    try:
        content.uploaded(os.urandom(32))
        content.block_committed([])
        for _ in range(20):
            content.block_committed([])
        first_pass.set()
        pause = threading.Event()
        for _ in range(200):  # until the worker took every block
            if content._work.empty():
                break
            pause.wait(0.02)
        pause.wait(0.3)  # and finished its pass
        assert len(asked) <= 2, f"{len(asked)} passes over the pending uploads for 21 blocks"
    finally:
        first_pass.set()
        fake.closed.set()
        content.close()


def _passes_done(content: SwarmContent) -> None:
    pause = threading.Event()
    for _ in range(200):
        if content._work.empty():
            break
        pause.wait(0.02)
    pause.wait(0.3)


def test_a_blob_the_chain_frees_while_the_daemon_is_down_is_unpinned_when_it_answers_again(tmp_path):
    """A withdrawn blob whose node's kubo was down at that block stayed pinned (and served to the swarm)
    forever: the release was logged done and forgotten. It is now kept, durably, until the daemon answers -
    on a later block, or after the node restarts."""
    fake, (data, digest) = MemoryKubo(), _blob()
    fake.blocks[kubo.raw_cid(digest)] = data

    def started() -> SwarmContent:
        return SwarmContent(ContentStore(tmp_path / "store"), fake, tmp_path / "index", bytes(32), "t",
                            lambda d: PUBLIC)

    content = started()
    try:
        fake.down = True
        content.block_committed([digest])  # the block that withdrew it
        _passes_done(content)
        assert fake.unpinned == [] and (tmp_path / "index" / "releasing" / digest.hex()).exists()
    finally:
        fake.closed.set()
        content.close()
    fake.down, fake.closed = False, threading.Event()  # the node restarts with its daemon back
    content = started()
    try:
        content.block_committed([])  # its next block
        _passes_done(content)
        assert fake.unpinned == [kubo.raw_cid(digest)] and kubo.raw_cid(digest) not in fake.blocks
        assert not (tmp_path / "index" / "releasing" / digest.hex()).exists()
    finally:
        fake.closed.set()
        content.close()


def test_a_read_while_this_nodes_daemon_is_down_is_unavailable_not_a_missing_blob(swarm):
    """NOT_FOUND "no blob" said the network lacked it; the node's own IPFS daemon was down."""
    data, digest = _blob()
    swarm.chain[digest] = PUBLIC
    swarm.kubo.down = True
    with pytest.raises(kubo.KuboUnreachable):
        swarm.fetch(digest)
    service = ContentService(SimpleNamespace(swarm=swarm, content=swarm.store))
    with pytest.raises(Refused) as refused:
        service._ensure_local(digest)
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE and "IPFS daemon does not answer" in refused.value.details

"""State sync without CometBFT: a validator's AbciApp takes snapshots while it commits blocks, a fresh node's
AbciApp restores one through the four ABCI snapshot calls exactly as CometBFT drives them, and every
forgery a peer could send is refused: a tampered chunk (refetched, its sender rejected), a snapshot whose
manifest does not claim the verified app hash, and one that claims it but whose state has another root
(refused after the last chunk, with the node still at genesis - nothing half-written)."""

from __future__ import annotations

import dataclasses

import pytest
from test_abci import VALIDATORS, finalize, free, init_chain, transfer, validator_spec

from node import statesync
from node.abci.app import STAGING_DIR, AbciApp
from node.abci.types import abci
from node.node import Node
from node.statesync import Manifest, SnapshotStore
from runtime.crypto import Keypair

Offer, Apply = abci.ResponseOfferSnapshot, abci.ResponseApplySnapshotChunk
INTERVAL, BLOCKS, CHUNK = 3, 7, 700  # snapshots at 3 and 6; small chunks so a snapshot has many


@pytest.fixture
def source(tmp_path):
    """A validator node that committed BLOCKS blocks of transfers, with its snapshots on disk."""
    node = Node(validator_spec(), tmp_path / "source")
    app = AbciApp(node, snapshots=SnapshotStore(tmp_path / "snapshots", interval=INTERVAL, keep=2, chunk_size=CHUNK))
    init_chain(app)
    for height in range(1, BLOCKS + 1):
        finalize(app, height, [transfer(app, VALIDATORS[height % 4], nonce=(height - 1) // 4)])
        app.snapshots.wait()
    yield app
    node.stop()


@pytest.fixture
def fresh(tmp_path):
    app = AbciApp(Node(validator_spec(), tmp_path / "fresh"))
    yield app
    app.node.stop()


def newest(app: AbciApp) -> abci.Snapshot:
    return app.handle(abci.Request(list_snapshots=abci.RequestListSnapshots())).list_snapshots.snapshots[0]


def offer(app: AbciApp, snapshot: abci.Snapshot, app_hash: bytes) -> int:
    request = abci.RequestOfferSnapshot(snapshot=snapshot, app_hash=app_hash)
    return app.handle(abci.Request(offer_snapshot=request)).offer_snapshot.result


def load(app: AbciApp, snapshot: abci.Snapshot, index: int) -> bytes:
    request = abci.RequestLoadSnapshotChunk(height=snapshot.height, format=snapshot.format, chunk=index)
    return app.handle(abci.Request(load_snapshot_chunk=request)).load_snapshot_chunk.chunk


def apply(app: AbciApp, index: int, chunk: bytes, sender: str = "peer-a") -> abci.ResponseApplySnapshotChunk:
    request = abci.RequestApplySnapshotChunk(index=index, chunk=chunk, sender=sender)
    return app.handle(abci.Request(apply_snapshot_chunk=request)).apply_snapshot_chunk


def info(app: AbciApp) -> abci.ResponseInfo:
    return app.handle(abci.Request(info=abci.RequestInfo())).info


def test_snapshots_are_taken_every_interval_in_the_documented_format(source):
    listed = source.handle(abci.Request(list_snapshots=abci.RequestListSnapshots())).list_snapshots.snapshots
    assert [s.height for s in listed] == [6, 3]  # every INTERVAL blocks, the last two kept
    for snapshot in listed:
        manifest = Manifest.decode(snapshot.metadata)
        assert snapshot.hash == manifest.hash and snapshot.format == statesync.FORMAT
        assert manifest.state_root == source.executive.db.state_root_at(snapshot.height)
        chunks = [load(source, snapshot, i) for i in range(snapshot.chunks)]
        assert snapshot.chunks > 3 and all(len(c) == CHUNK for c in chunks[:-1]) and 0 < len(chunks[-1]) <= CHUNK
        assert [statesync.blake2_256(c) for c in chunks] == list(manifest.chunks)
    assert load(source, listed[0], listed[0].chunks) == b""  # past the last chunk: nothing


def test_a_fresh_node_restores_the_snapshot_and_then_executes_in_step(source, fresh, tmp_path):
    snapshot = newest(source)
    app_hash = source.executive.db.state_root_at(snapshot.height)
    assert offer(fresh, snapshot, app_hash) == Offer.ACCEPT
    for i in range(snapshot.chunks):
        assert apply(fresh, i, load(source, snapshot, i)).result == Apply.ACCEPT
    got = info(fresh)
    assert (got.last_block_height, got.last_block_app_hash) == (snapshot.height, app_hash)
    assert not (fresh.node.base_path / STAGING_DIR).exists()
    # the restored root is recomputed from the restored entries, and equals the original's
    assert fresh.executive.db.trie.root == app_hash == fresh.executive.head.state_root
    # the source went on past the snapshot's height: the restored node executes the same blocks to the same roots
    for number in range(snapshot.height + 1, BLOCKS + 1):
        block = source.executive.db.require_block(number)
        response = finalize(fresh, number, list(block.extrinsics[2:]))  # past the timestamp and consensus inherents
        assert response.app_hash == source.executive.db.state_root_at(number)
    for keypair in (*VALIDATORS, Keypair.from_uri("//Dest")):
        assert free(fresh, keypair.public) == free(source, keypair.public)
    # what was adopted is on disk: the node reopens at the restored chain (its root checked at open)
    fresh.node.stop()
    fresh.node = reopened = Node(None, tmp_path / "fresh")  # stopped by the fixture
    assert (reopened.executive.head.number, reopened.executive.head.state_root) == (
        BLOCKS, source.executive.head.state_root)


def test_a_tampered_chunk_is_refetched_and_its_sender_rejected(source, fresh):
    snapshot = newest(source)
    assert offer(fresh, snapshot, source.executive.db.state_root_at(snapshot.height)) == Offer.ACCEPT
    assert apply(fresh, 0, load(source, snapshot, 0)).result == Apply.ACCEPT
    good = load(source, snapshot, 1)
    bad = apply(fresh, 1, good[:-1] + bytes([good[-1] ^ 1]), sender="peer-bad")
    assert (bad.result, list(bad.refetch_chunks), list(bad.reject_senders)) == (Apply.RETRY, [1], ["peer-bad"])
    for i in range(1, snapshot.chunks):  # the refetched chunk from an honest peer, and the rest
        assert apply(fresh, i, load(source, snapshot, i)).result == Apply.ACCEPT
    assert info(fresh).last_block_height == snapshot.height


def test_snapshots_that_are_not_the_verified_app_hash_are_refused_and_nothing_is_written(source, fresh):
    snapshot = newest(source)
    app_hash = source.executive.db.state_root_at(snapshot.height)
    genesis = info(fresh)
    assert offer(fresh, snapshot, bytes(32)) == Offer.REJECT  # its manifest names another root
    assert offer(fresh, abci.Snapshot(height=snapshot.height, format=2, chunks=1, hash=b"x"), app_hash) == \
        Offer.REJECT_FORMAT
    forged_metadata = abci.Snapshot(height=snapshot.height, format=1, chunks=snapshot.chunks, hash=snapshot.hash,
                                    metadata=snapshot.metadata + b" ")
    assert offer(fresh, forged_metadata, app_hash) == Offer.REJECT  # the hash is not the manifest's
    # a forger rewrites a balance and hashes its own chunks: the manifest claims the verified app hash, every
    # chunk matches the manifest, and only the root recomputed after the last chunk gives it away
    with source.node.lock:
        taken = statesync.capture(source.executive)
    rich = Keypair.from_uri("//Dest").public
    state = [(k, v[:-1] + bytes([v[-1] ^ 1]) if rich in k else v) for k, v in taken.state]
    assert state != taken.state
    manifest, chunks = statesync.chunk(dataclasses.replace(taken, state=state), CHUNK)
    assert manifest.state_root == source.executive.head.state_root
    forged = abci.Snapshot(height=manifest.height, format=1, chunks=len(chunks), hash=manifest.hash,
                           metadata=manifest.encode())
    assert offer(fresh, forged, manifest.state_root) == Offer.ACCEPT
    results = [apply(fresh, i, c).result for i, c in enumerate(chunks)]
    assert results == [Apply.ACCEPT] * (len(chunks) - 1) + [Apply.REJECT_SNAPSHOT]
    after = info(fresh)
    assert (after.last_block_height, after.last_block_app_hash) == (0, genesis.last_block_app_hash)
    assert fresh.executive.db.trie.root == genesis.last_block_app_hash
    assert not (fresh.node.base_path / STAGING_DIR).exists()
    assert apply(fresh, 0, chunks[0]).result == Apply.ABORT  # no snapshot is being restored any more
    # and a node that has blocks of its own refuses state sync altogether
    assert offer(source, snapshot, app_hash) == Offer.ABORT

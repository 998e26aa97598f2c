"""The data on every node (issue 31 §1): a real 4-validator CometBFT network whose nodes each run a kubo daemon
in the network's private swarm. A blob uploaded to node 0 and contributed to a DataNet is read from node 3
through node 3's content API; a replica altered in a node's kubo repository on disk, or a CID record that
points at other bytes, is refused; a withdrawn blob is unpinned and gone on every node; a permissioned blob
is only ciphertext in the swarm, and node 3 still serves it to a signed reader only. One network for the
module. Heavy: run it alone."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from node.ipfs.kubo import CHUNK, Kubo, KuboError, raw_cid
from node.testnet import Testnet
from runtime.crypto import Keypair
from sdk.client import Client, ClientError

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

pytestmark = [pytest.mark.e2e, pytest.mark.solo]
ALICE, BOB = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    network = Testnet(tmp_path_factory.mktemp("ipfs-net"))
    network.generate(4, 0, timeout_commit_ms=200, snapshot_interval=0, ipfs=True)
    clients: list[Client] = []
    try:
        network.up()
        clients = [Client(node.grpc, timeout=60) for node in network.nodes]
        for client in clients:
            client.wait_ready(60)
        first = clients[0]
        assert first.submit_call(ALICE, "datanet", "create_datanet", name="open", domain="text", license="CC0-1.0",
                                 contribution_deposit="1", accepted_formats=["jsonl"]).success
        assert first.submit_call(ALICE, "datanet", "create_datanet", name="clinic", domain="medical",
                                 license="CC-BY-4.0", contribution_deposit="1", accepted_formats=["jsonl"]).success
        assert first.submit_call(ALICE, "datanet", "set_permissioned", datanet=2, permissioned=True).success
        yield network, clients
    finally:
        for client in clients:
            client.close()
        network.down()


def _contribute(clients: list[Client], data: bytes, datanet: int = 1) -> bytes:
    """Upload to node 0 only and contribute it there; the content hash."""
    digest = clients[0].upload(data, uploader=UPLOADER).hash
    result = clients[0].submit_call(BOB, "datanet", "contribute", datanet=datanet, content_hash=digest,
                                    size=len(data), format="jsonl")
    assert result.success, result.error
    return digest


def _record(net: Testnet, i: int, digest: bytes) -> dict | None:
    path = Path(net.nodes[i].home) / "payable" / "ipfs-index" / "records" / digest.hex()
    return json.loads(path.read_text()) if path.exists() else None


def _blob(net: Testnet, i: int, digest: bytes) -> Path:
    return Path(net.nodes[i].home) / "payable" / "blobs" / digest.hex()[:2] / digest.hex()


def _eventually(check: Callable[[], object], what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert found, what
    return found


def test_a_blob_uploaded_to_node_0_is_read_from_node_3(net):
    network, clients = net
    small = b'{"prompt": "Where is the kettle?", "response": "On the hob."}\n' * 50
    large = os.urandom(CHUNK + 300_000)  # two chunks: a UnixFS root, its CID recorded beside the hash
    digests = [_contribute(clients, data) for data in (small, large)]
    records = [_eventually(lambda d=d: _record(network, 0, d), "node 0 never put the blob into the swarm")
               for d in digests]
    assert records[0] == {"cid": raw_cid(digests[0]), "encrypted": False}  # its CID is the chain's hash
    assert records[1]["cid"] != raw_cid(digests[1]) and not records[1]["encrypted"]
    assert not _blob(network, 3, digests[0]).exists()
    for digest, data in zip(digests, (small, large), strict=True):
        assert clients[3].download(digest) == data  # node 3's own content API: fetched, verified, stored
        assert _blob(network, 3, digest).exists()
    assert Kubo(network.nodes[3].ipfs_api).pinned(records[1]["cid"])
    from payable.content.v1 import content_pb2

    info = clients[2].content.Stat(content_pb2.BlobRequest(hash=digests[1]), timeout=60)
    assert info.size == len(large)  # Stat fetches too


def test_a_replica_altered_on_disk_is_refused(net):
    network, clients = net
    data = b'{"prompt": "Who keeps the town clock?", "response": "The miller."}\n' * 3
    digest = _contribute(clients, data)
    _eventually(lambda: _record(network, 0, digest), "node 0 never put the blob into the swarm")
    peer = Kubo(network.nodes[2].ipfs_api)
    assert peer.cat(raw_cid(digest), len(data), timeout=30) == data  # now in node 2's kubo blockstore too
    blocks = [p for p in (Path(network.nodes[2].home) / "ipfs" / "blocks").rglob("*.data") if p.read_bytes() == data]
    assert len(blocks) == 1
    blocks[0].write_bytes(data.replace(b"miller", b"baker!"))  # same size, other bytes, under the same CID
    with pytest.raises(ClientError, match="DATA_LOSS.*refused"):
        clients[2].download(digest)
    assert not _blob(network, 2, digest).exists()  # never stored, never served
    assert clients[1].download(digest) == data  # a node whose kubo holds no altered copy serves it


def test_a_record_pointing_at_other_bytes_is_refused_and_forgotten(net):
    network, clients = net
    data = b'{"prompt": "What colour is the town gate?", "response": "Green."}\n' * 3
    forged = Kubo(network.nodes[1].ipfs_api).add(data.replace(b"Green", b"Black"))  # real bytes in the swarm
    digest = _contribute(clients, data)
    _eventually(lambda: _record(network, 0, digest), "node 0 never put the blob into the swarm")
    index = Path(network.nodes[3].home) / "payable" / "ipfs-index" / "records" / digest.hex()
    index.write_text(json.dumps({"cid": forged, "encrypted": False}))  # as if a peer had announced it
    with pytest.raises(ClientError, match="DATA_LOSS.*refused"):
        clients[3].download(digest)
    assert not _blob(network, 3, digest).exists() and _record(network, 3, digest) != {"cid": forged,
                                                                                      "encrypted": False}
    assert clients[3].download(digest) == data  # the wrong record is gone: asked afresh, the right copy


def test_a_withdrawn_blob_is_unpinned_and_gone_on_every_node(net):
    network, clients = net
    data = b'{"prompt": "What does the kettle sing?", "response": "A falling fifth."}\n' * 4
    digest = _contribute(clients, data)
    _eventually(lambda: _record(network, 0, digest), "node 0 never put the blob into the swarm")
    for client in clients[1:]:
        assert client.download(digest) == data  # now on every node and in every node's kubo
    cid = raw_cid(digest)
    daemons = [Kubo(node.ipfs_api) for node in network.nodes]
    assert all(d.pinned(cid) for d in daemons)
    assert clients[2].submit_call(BOB, "datanet", "withdraw", contribution=_contribution_of(clients[0], digest)).success
    _eventually(lambda: not any(d.has_block(cid) for d in daemons), "a node's kubo still holds the withdrawn blob")
    for i, (client, daemon) in enumerate(zip(clients, daemons, strict=True)):
        assert not daemon.pinned(cid) and not _blob(network, i, digest).exists()
        assert _record(network, i, digest) is None
        with pytest.raises(ClientError, match="FAILED_PRECONDITION"):
            client.download(digest)
    with pytest.raises(KuboError):
        daemons[3].cat(cid, len(data), timeout=3)  # nowhere in the swarm any more


def _contribution_of(client: Client, digest: bytes) -> int:
    """The id of the contribution of `digest` (DataNet 1's)."""
    from payable.datanet.v1 import datanet_pb2 as dn

    listed = client.pallet_query("datanet", "list_contributions", dn.ContributionsRequest(datanet=1, limit=100),
                                 dn.ContributionList)
    return next(c.id for c in listed.contributions if c.content_hash == digest)


def test_a_permissioned_blob_is_ciphertext_in_the_swarm_and_served_to_readers_only(net):
    network, clients = net
    secret = b'{"prompt": "symptom: kettle burn", "response": "diagnosis: cool water"}\n' * 5
    digest = _contribute(clients, secret, datanet=2)
    record = _eventually(lambda: _record(network, 0, digest), "node 0 never put the blob into the swarm")
    assert record["encrypted"] and record["cid"] != raw_cid(digest)
    sealed = Kubo(network.nodes[1].ipfs_api).cat(record["cid"], CHUNK, timeout=30)  # what any swarm peer gets
    assert b"diagnosis" not in sealed and hashlib.blake2b(sealed, digest_size=32).digest() != digest
    assert not Kubo(network.nodes[0].ipfs_api).has_block(raw_cid(digest))  # the plain bytes never went in
    with pytest.raises(ClientError, match="PERMISSION_DENIED"):
        clients[3].download(digest)
    assert not _blob(network, 3, digest).exists()  # a refused reader never makes the node fetch
    assert clients[3].download(digest, reader=BOB) == secret  # the contributor, signed: fetched and decrypted
    assert _blob(network, 3, digest).exists()

"""A withdrawal reaches every node of a real CometBFT network (issue 30 §2): two validators' content stores hold a
contribution's bytes and serve them; once its contributor withdraws it (submitted to one node), each node,
committing the block through its own ABCI commit path, deletes its copy and refuses the read with
FAILED_PRECONDITION saying who withdrew it at which block; a contribution still live keeps being served.
Heavy (a network of its own): run it alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from node.testnet import Testnet
from runtime.crypto import Keypair
from sdk.client import Client, ClientError

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

pytestmark = [pytest.mark.e2e, pytest.mark.solo]


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    network = Testnet(tmp_path_factory.mktemp("withdrawal-net"))
    network.generate(2, 0, timeout_commit_ms=200, snapshot_interval=0)
    try:
        network.up()
        yield network
    finally:
        network.down()


def _refusal(client: Client, digest: bytes) -> str | None:
    """The node's refusal of a read of `digest`, or None when it serves the bytes."""
    try:
        client.download(digest)
    except ClientError as exc:
        return str(exc)
    return None


def test_two_nodes_drop_and_refuse_the_bytes_of_a_withdrawn_contribution(net):
    alice, bob = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob")
    withdrawn, kept = b'{"prompt": "a?", "response": "a."}', b'{"prompt": "b?", "response": "b."}'
    clients = [Client(node.grpc, timeout=30) for node in net.nodes]
    try:
        for client in clients:
            client.wait_ready(60)
            hashes = [client.upload(data, uploader=UPLOADER).hash for data in (withdrawn, kept)]  # each node's store
        first = clients[0]
        assert first.submit_call(alice, "datanet", "create_datanet", name="net", domain="text", license="CC0-1.0",
                                 contribution_deposit="1", accepted_formats=["jsonl"]).success
        for digest, data in zip(hashes, (withdrawn, kept), strict=True):
            assert first.submit_call(bob, "datanet", "contribute", datanet=1, content_hash=digest, size=len(data),
                                     format="jsonl").success
        for cid in (1, 2):
            assert first.submit_call(alice, "datanet", "approve", contribution=cid).success
        assert [_refusal(c, hashes[0]) for c in clients] == [None, None]  # served while approved
        blobs = [Path(node.home) / "payable" / "blobs" / hashes[0].hex()[:2] / hashes[0].hex() for node in net.nodes]
        assert all(blob.exists() for blob in blobs)

        result = clients[1].submit_call(bob, "datanet", "withdraw", contribution=1)  # through the other node
        assert result.success, result.error
        why = f"contribution 1 of DataNet 1 was withdrawn by its contributor at block {result.block_number}"
        deadline = time.monotonic() + 30  # each node commits the block (and drops the blob) in its own time
        while any(blob.exists() for blob in blobs) and time.monotonic() < deadline:
            time.sleep(0.2)
        for node, client, blob in zip(net.nodes, clients, blobs, strict=True):
            assert not blob.exists(), f"{node.name} still holds the withdrawn bytes"  # deleted on commit
            refused = _refusal(client, hashes[0])
            assert refused is not None and refused.startswith("FAILED_PRECONDITION") and why in refused
            assert client.download(hashes[1]) == kept
    finally:
        for client in clients:
            client.close()

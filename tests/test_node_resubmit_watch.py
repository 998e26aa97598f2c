"""A client that fails over resends what it already sent and must still be able to watch it to finality:
SubmitAndWatch of an extrinsic the node already holds in its pool follows it from READY, and of one
already in a block answers where it landed (IN_BLOCK, FINALIZED) - instead of ALREADY_EXISTS or a stale
nonce with no stream. A real node process."""

from __future__ import annotations

import threading
import time

import pytest

from payable.node.v1 import node_pb2
from runtime.crypto import Keypair

pytestmark = pytest.mark.e2e

Status = node_pb2.TxStatus


def _watch(client, raw: bytes) -> list:
    return list(client.node.SubmitAndWatch(node_pb2.SubmitRequest(extrinsic=raw), timeout=60))


def test_a_resent_extrinsic_is_watched_to_finality_pending_or_included(start_node):
    node = start_node("node", "--dev", "--block-time", "2")
    client = node.client()
    try:
        alice = Keypair.from_uri("//Alice")
        raw = client.sign(alice, client.call("token", "transfer", dest=Keypair.from_uri("//Bob").public,
                                             amount=10**18), nonce=client.nonce(alice.public))
        first: list = []
        thread = threading.Thread(target=lambda: first.extend(_watch(client, raw)))
        thread.start()
        while not first and thread.is_alive() and client.next_nonce(alice.public) == client.nonce(alice.public):
            time.sleep(0.02)  # until the node holds it (its pool counts it)
        again = _watch(client, raw)  # sent again while pending
        thread.join(timeout=60)
        states = [[s.state for s in stream] for stream in (first, again)]
        assert states[0][-2:] == states[1][-2:] == [Status.IN_BLOCK, Status.FINALIZED]
        assert states[1][0] in (Status.READY, Status.IN_BLOCK)
        landed = first[-1]
        assert (again[-1].block_number, again[-1].extrinsic_index, again[-1].success) == (
            landed.block_number, landed.extrinsic_index, True)
        late = _watch(client, raw)  # sent again after it was included
        assert [s.state for s in late] == [Status.IN_BLOCK, Status.FINALIZED]
        assert (late[-1].block_number, late[-1].block_hash, late[-1].extrinsic_index, late[-1].success) == (
            landed.block_number, landed.block_hash, landed.extrinsic_index, True)
    finally:
        client.close()


def test_a_resent_extrinsic_waiting_for_a_nonce_gap_is_watched_as_future(start_node):
    """Resent while its earlier nonce is missing, it is FUTURE, not READY (an outside client failing over was
    told its blocked transfer was ready); once the gap is filled it goes on to finality."""
    node = start_node("node", "--dev", "--block-time", "1")
    client = node.client()
    try:
        alice, bob = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob").public
        nonce = client.nonce(alice.public)
        later, gap = (client.sign(alice, client.call("token", "transfer", dest=bob, amount=10**18), nonce=n)
                      for n in (nonce + 1, nonce))
        first = client.node.SubmitAndWatch(node_pb2.SubmitRequest(extrinsic=later), timeout=60)
        assert next(first).state == Status.FUTURE
        again = client.node.SubmitAndWatch(node_pb2.SubmitRequest(extrinsic=later), timeout=60)
        assert next(again).state == Status.FUTURE
        client.submit(gap)
        assert [s.state for s in again][-2:] == [Status.IN_BLOCK, Status.FINALIZED]
        first.cancel()
    finally:
        client.close()

"""A node whose consensus engine (CometBFT) does not answer tells its clients so: gRPC UNAVAILABLE - not
UNKNOWN - saying that nothing was submitted and that the same signed bytes may be sent again, to this
node later or to another; a batch marks each extrinsic `unavailable`. A real node process in ABCI mode
with no CometBFT behind it."""

from __future__ import annotations

import grpc
import pytest

from node.ports import free_ports
from payable.node.v1 import node_pb2
from runtime.crypto import Keypair

pytestmark = pytest.mark.e2e


def test_submissions_to_a_node_whose_cometbft_is_down_are_unavailable_and_safe_to_resend(start_node):
    abci, rpc = free_ports(2)  # nothing listens on the RPC port: CometBFT is down
    node = start_node("node", "--dev", "--abci", f"tcp://127.0.0.1:{abci}", "--comet-rpc", f"http://127.0.0.1:{rpc}")
    client = node.client()
    try:
        alice = Keypair.from_uri("//Alice")
        raw = client.sign(alice, client.call("token", "transfer", dest=Keypair.from_uri("//Bob").public,
                                             amount=10**18), nonce=0)
        for send in (lambda: client.node.SubmitExtrinsic(node_pb2.SubmitRequest(extrinsic=raw), timeout=30),
                     lambda: next(iter(client.node.SubmitAndWatch(node_pb2.SubmitRequest(extrinsic=raw),
                                                                  timeout=30)))):
            with pytest.raises(grpc.RpcError) as refused:
                send()
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "not submitted" in refused.value.details() and "send the same extrinsic again" in \
                refused.value.details()
        result = client.node.SubmitBatch(node_pb2.SubmitBatchRequest(extrinsics=[raw]), timeout=30).results[0]
        assert result.error_code == "unavailable" and "not submitted" in result.error
        assert client.next_nonce(alice.public) == 0  # the node's pool let it go again: truly not submitted
    finally:
        client.close()


def test_a_submission_cometbft_took_but_did_not_answer_is_kept_and_said_to_be_unconfirmed(start_node):
    """A stopped CometBFT (SIGSTOP) accepts the connection and never answers: the extrinsic may reach its
    mempool later (an operator saw both "not submitted" transfers executed). The node keeps it in its pool;
    a watch goes on (READY), an unwatched submission is UNAVAILABLE saying it may still be included."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    (abci,) = free_ports(1)
    node = start_node("node", "--dev", "--abci", f"tcp://127.0.0.1:{abci}", "--comet-rpc",
                      f"http://127.0.0.1:{silent.getsockname()[1]}")
    client = node.client()
    try:
        alice, bob = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob").public
        first, second = (client.sign(alice, client.call("token", "transfer", dest=bob, amount=10**18), nonce=n)
                         for n in (0, 1))
        watched = iter(client.node.SubmitAndWatch(node_pb2.SubmitRequest(extrinsic=first), timeout=60))
        assert next(watched).state == node_pb2.TxStatus.READY  # the watch stays open for what becomes of it
        with pytest.raises(grpc.RpcError) as unconfirmed:
            client.node.SubmitExtrinsic(node_pb2.SubmitRequest(extrinsic=second), timeout=60)
        assert unconfirmed.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "may still be included" in unconfirmed.value.details() and "do not sign it again" in \
            unconfirmed.value.details()
        assert client.next_nonce(alice.public) == 2  # both kept in the node's pool
    finally:
        client.close()
        silent.close()

"""A node hands a client's batch to CometBFT's mempool as JSON-RPC batches (arrays of broadcast_tx_async,
answered in order), cut to stay inside CometBFT's request size; each extrinsic hears its own verdict, and
a CometBFT that does not answer leaves every extrinsic of the batch not sent. A JSON-RPC server on
loopback stands in for CometBFT's (which answers an array with an array)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from node.abci import comet
from node.abci.comet import CometRpc, CometUnavailable
from node.ports import free_ports
from node.txpool import PoolRejected


@pytest.fixture
def mempool():
    """(url, posts): every POST's decoded body is recorded; as CometBFT's RPC, a batch of more than 10 calls
    is refused whole, tx b"full..." as when its mempool is full, tx b"seen..." as one it holds already."""
    posts: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posts.append(body)
            if isinstance(body, list) and len(body) > 10:  # CometBFT's default rpc.max_request_batch_size
                replies = {"jsonrpc": "2.0", "id": None, "error": {
                    "code": -32600, "message": "Invalid Request",
                    "data": "batch request exceeds maximum (10) allowed number of requests"}}
            else:
                replies = [answer(call) for call in body] if isinstance(body, list) else answer(body)
            data = json.dumps(replies).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    def answer(call):
        tx = base64.b64decode(call["params"]["tx"])
        if tx.startswith(b"full"):
            return {"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32603, "message": "Internal error",
                                                                  "data": "mempool is full: number of txs 5"}}
        if tx.startswith(b"seen"):
            return {"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32603, "message": "Internal error",
                                                                  "data": "tx already exists in cache"}}
        return {"jsonrpc": "2.0", "id": call["id"], "result": {"code": 0, "hash": "00"}}

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", posts
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_batch_goes_in_order_in_few_requests_and_each_extrinsic_hears_its_verdict(mempool, monkeypatch):
    url, posts = mempool
    monkeypatch.setattr(comet, "BATCH_BYTES", 1000)  # a few extrinsics per request
    raws = [b"ok%03d" % i + bytes(200) for i in range(10)]
    raws[3], raws[7] = b"full" + bytes(200), b"seen" + bytes(200)
    verdicts = CometRpc(url).gossip(raws)
    assert [type(v).__name__ if v else None for v in verdicts] == [
        None, None, None, "PoolRejected", None, None, None, None, None, None]  # held already: fine
    assert isinstance(verdicts[3], PoolRejected) and verdicts[3].code == "mempool_full"
    assert 1 < len(posts) < len(raws) and all(isinstance(p, list) for p in posts)
    sent = [base64.b64decode(call["params"]["tx"]) for post in posts for call in post]
    assert sent == raws and {call["method"] for post in posts for call in post} == {"broadcast_tx_async"}
    assert all(len(json.dumps(post)) < 2 * comet.BATCH_BYTES for post in posts)


def test_cometbfts_cap_on_calls_per_array_is_learnt_from_its_refusal(mempool):
    """CometBFT refuses an array of more calls than its rpc.max_request_batch_size whole (nothing of it ran):
    the limit is read from that answer, the array resent cut to it, and every later array cut so from the
    start - no extrinsic hears the refusal."""
    url, posts = mempool
    small = [b"ok%03d" % i for i in range(25)]
    rpc = CometRpc(url)
    assert rpc.gossip(small) == [None] * 25
    assert [len(post) for post in posts] == [25, 10, 10, 5]
    assert [base64.b64decode(call["params"]["tx"]) for post in posts[1:] for call in post] == small
    posts.clear()
    assert rpc.gossip(small[:12]) == [None] * 12
    assert [len(post) for post in posts] == [10, 2]


def test_when_cometbft_does_not_answer_no_extrinsic_of_the_batch_counts_as_sent():
    (port,) = free_ports(1)  # nothing listens there
    verdicts = CometRpc(f"http://127.0.0.1:{port}", timeout=2).gossip([b"a", b"b", b"c"])
    assert len(verdicts) == 3 and all(isinstance(v, CometUnavailable) for v in verdicts)


def test_when_cometbft_takes_the_batch_but_does_not_answer_it_may_have_been_sent():
    """A stopped CometBFT (SIGSTOP) still accepts connections: what was sent may reach its mempool once it
    runs again. That is `CometUnconfirmed`, not "nothing was sent" (the node then keeps it in its pool)."""
    import socket

    from node.abci.comet import CometUnconfirmed
    from node.txpool import Unconfirmed

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts (the kernel does), never answers
    try:
        verdicts = CometRpc(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=1).gossip([b"a", b"b"])
        assert len(verdicts) == 2 and all(isinstance(v, CometUnconfirmed) and isinstance(v, Unconfirmed)
                                          for v in verdicts)
        assert "did not answer broadcast_tx_async within 1 s" in str(verdicts[0])
    finally:
        silent.close()

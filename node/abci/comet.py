"""CometBFT's JSON-RPC as the node uses it: submissions this node's pool admitted go to its mempool
(`broadcast_tx_async`: CometBFT runs CheckTx through this node's pool, which holds them already, and
gossips them), and status reads for tools.

One keep-alive HTTP connection per thread, so the node's many gRPC submitters don't open a socket per
extrinsic; a client's batch goes to the mempool as JSON-RPC batches (arrays of calls, answered in
order), not one HTTP request per extrinsic: as many calls as fit BATCH_BYTES, until CometBFT refuses an
array longer than its `rpc.max_request_batch_size` (10 by default) - then that limit, learnt from its answer,
cuts every later array. `payable testnet` lifts the limit (0: none; a CometBFT with one parses every array
twice), so a client's batch is one round trip where 10 calls an array made it one per 10 extrinsics.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
from urllib.parse import urlparse

from ..txpool import PoolRejected, Unconfirmed

# a JSON-RPC batch within CometBFT's default max_body_bytes (1 MB), of at most BATCH_CALLS calls until CometBFT
# says its rpc.max_request_batch_size (module doc)
BATCH_CALLS, BATCH_BYTES = 1000, 512 * 1024
_BATCH_LIMIT = re.compile(r"batch request exceeds maximum \((\d+)\)")


class CometUnavailable(ConnectionError):
    """CometBFT's RPC did not answer."""


class CometUnconfirmed(CometUnavailable, Unconfirmed):
    """CometBFT's RPC took the request (the connection stood) but did not answer within the timeout (a
    stopped or overloaded process): what was sent may have reached its mempool."""


class CometRpc:
    def __init__(self, url: str, timeout: float = 10.0):
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "tcp") or not parsed.hostname or not parsed.port:
            raise ValueError(f"CometBFT RPC address must be http://HOST:PORT, got {url!r}")
        self.url, self.host, self.port, self.timeout = url, parsed.hostname, parsed.port, timeout
        self._local = threading.local()
        self._ids = 0
        self.batch_calls = BATCH_CALLS  # lowered to CometBFT's rpc.max_request_batch_size once it refuses more

    def call(self, method: str, **params) -> dict:
        """The `result` of one JSON-RPC call; RuntimeError with CometBFT's message on an RPC error."""
        self._ids += 1
        reply = self._post({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}, method)
        return _result(reply)

    def _post(self, body: dict | list, what: str):
        """POST one JSON-RPC request (or batch) and return the decoded reply; CometUnavailable if none. A
        kept-alive connection the server closed is retried once, fresh."""
        data = json.dumps(body)
        try:
            return self._send(data, fresh=False)
        except TimeoutError as exc:  # it may have arrived: not sent again, and not "nothing was sent"
            raise CometUnconfirmed(f"CometBFT RPC at {self.url} did not answer {what} within {self.timeout} s: "
                                   f"{exc}") from exc
        except (OSError, http.client.HTTPException):
            try:
                return self._send(data, fresh=True)
            except TimeoutError as exc:
                raise CometUnconfirmed(f"CometBFT RPC at {self.url} did not answer {what} within {self.timeout} "
                                       f"s: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise CometUnavailable(f"CometBFT RPC at {self.url} did not answer {what}: {exc}") from exc

    def _send(self, data: str, fresh: bool):
        conn = self._connection(fresh)
        try:
            conn.request("POST", "/", data, {"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read())
        except BaseException:
            conn.close()
            raise

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def gossip(self, raws: list[bytes]) -> list[PoolRejected | ConnectionError | None]:
        """Hand extrinsics this node's pool admitted to CometBFT's mempool, to be gossiped, without waiting
        for CheckTx (`broadcast_tx_async`), in order, as JSON-RPC batches (module doc). Per
        extrinsic: None, PoolRejected when the mempool refuses it (already held is fine), or
        CometUnavailable when CometBFT did not answer its batch (then neither this batch nor any later one
        counts as sent; an earlier batch's answers stand)."""
        out: list[PoolRejected | ConnectionError | None] = []
        while len(out) < len(raws):
            batch: list[dict] = []
            size = 0
            for raw in raws[len(out):]:
                encoded = base64.b64encode(raw).decode()
                if len(batch) == self.batch_calls or batch and size + len(encoded) > BATCH_BYTES:
                    break
                batch.append({"jsonrpc": "2.0", "id": len(batch), "method": "broadcast_tx_async",
                              "params": {"tx": encoded}})
                size += len(encoded) + 80
            try:
                replies = self._post(batch, "broadcast_tx_async")
            except CometUnavailable as exc:
                return out + [exc] * (len(raws) - len(out))
            if isinstance(replies, dict):  # the batch as a whole was refused
                limit = _batch_limit(replies)
                if limit is not None and 0 < limit < len(batch):  # longer than CometBFT takes: nothing ran
                    self.batch_calls = limit
                    continue
                replies = [{**replies, "id": request["id"]} for request in batch]
            by_id = {r.get("id"): r for r in replies}
            out += [_refusal(by_id.get(request["id"], {"error": {"message": "no reply to this call"}}))
                    for request in batch]
        return out

    def status(self) -> dict:
        return self.call("status")

    def validators(self, height: int | None = None) -> list[dict]:
        params = {"height": str(height)} if height else {}
        return self.call("validators", per_page="100", **params)["validators"]


def _result(reply: dict) -> dict:
    """A JSON-RPC reply's `result`; RuntimeError with CometBFT's message when it is an error."""
    if "error" in reply:
        error = reply["error"]
        raise RuntimeError(f"{error.get('message', '')} {error.get('data', '')}".strip())
    return reply["result"]


def _batch_limit(reply: dict) -> int | None:
    """The calls an array may hold, when CometBFT refused one for holding more (its rpc.max_request_batch_size)."""
    error = reply.get("error") or {}
    found = _BATCH_LIMIT.search(f"{error.get('message', '')} {error.get('data', '')}")
    return int(found.group(1)) if found else None


def _refusal(reply: dict) -> PoolRejected | None:
    """What one broadcast_tx_async reply means for the extrinsic: None (in the mempool, or held already)
    or the mempool's refusal. The async call answers before CheckTx, so only the mempool's own checks
    (full, too large, cached) can refuse here."""
    try:
        _result(reply)
    except RuntimeError as exc:
        if "already exists" not in str(exc):
            return PoolRejected("mempool_full" if "full" in str(exc) else "mempool",
                                f"CometBFT's mempool refused it: {exc}")
    return None

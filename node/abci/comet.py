"""CometBFT's JSON-RPC as the node uses it: submissions this node's pool admitted go to its mempool
(`broadcast_tx_async`: CometBFT runs CheckTx through this node's pool, which holds them already, and
gossips them), and status reads for tools.

One keep-alive HTTP connection per thread, so the node's many gRPC submitters don't open a socket per
extrinsic.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from urllib.parse import urlparse

from ..txpool import PoolRejected


class CometUnavailable(ConnectionError):
    """CometBFT's RPC did not answer."""


class CometRpc:
    def __init__(self, url: str, timeout: float = 10.0):
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "tcp") or not parsed.hostname or not parsed.port:
            raise ValueError(f"CometBFT RPC address must be http://HOST:PORT, got {url!r}")
        self.url, self.host, self.port, self.timeout = url, parsed.hostname, parsed.port, timeout
        self._local = threading.local()
        self._ids = 0

    def call(self, method: str, **params) -> dict:
        """The `result` of one JSON-RPC call; RuntimeError with CometBFT's message on an RPC error."""
        self._ids += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params})
        for attempt in (0, 1):  # a kept-alive connection the server closed is retried once, fresh
            conn = self._connection(fresh=attempt == 1)
            try:
                conn.request("POST", "/", body, {"Content-Type": "application/json"})
                reply = json.loads(conn.getresponse().read())
                break
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if attempt == 1:
                    raise CometUnavailable(f"CometBFT RPC at {self.url} did not answer {method}: {exc}") from exc
        if "error" in reply:
            error = reply["error"]
            raise RuntimeError(f"{error.get('message', '')} {error.get('data', '')}".strip())
        return reply["result"]

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def gossip(self, raw: bytes) -> None:
        """Hand an extrinsic this node's pool admitted to CometBFT's mempool, to be gossiped, without waiting
        for CheckTx (`broadcast_tx_async`); PoolRejected when the mempool refuses it (already held is fine)."""
        try:
            self.call("broadcast_tx_async", tx=base64.b64encode(raw).decode())
        except RuntimeError as exc:
            if "already exists" not in str(exc):
                raise PoolRejected("mempool_full" if "full" in str(exc) else "mempool",
                                   f"CometBFT's mempool refused it: {exc}") from exc

    def status(self) -> dict:
        return self.call("status")

    def validators(self, height: int | None = None) -> list[dict]:
        params = {"height": str(height)} if height else {}
        return self.call("validators", per_page="100", **params)["validators"]

"""Prometheus metrics for a node, on their own registry (several nodes can live in one test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.height = Gauge("payable_block_height", "Number of the best block", registry=self.registry)
        self.pool_ready = Gauge("payable_txpool_ready", "Ready extrinsics in the pool", registry=self.registry)
        self.pool_future = Gauge("payable_txpool_future", "Extrinsics waiting for an earlier nonce",
                                 registry=self.registry)
        self.pool_senders = Gauge("payable_txpool_senders", "Accounts with extrinsics in the pool",
                                  registry=self.registry)
        self.pool_sender_max = Gauge("payable_txpool_sender_max", "The most extrinsics one account holds in the pool",
                                     registry=self.registry)
        self.pool_evicted = Counter("payable_txpool_evicted_total", "Extrinsics evicted by higher-priority ones",
                                    registry=self.registry)
        self.pool_expired = Counter("payable_txpool_expired_total",
                                    "Extrinsics dropped for mortality or for waiting too long for a nonce",
                                    registry=self.registry)
        self.block_time = Histogram("payable_block_seconds", "Time to build or import a block, by kind",
                                    ["kind"], registry=self.registry,
                                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.abci_time = Counter("payable_abci_seconds_total", "Time spent answering CometBFT, by ABCI request",
                                 ["request"], registry=self.registry)
        self.included = Counter("payable_extrinsics_included_total", "Extrinsics included in blocks",
                                registry=self.registry)
        self.rejected = Counter("payable_extrinsics_rejected_total", "Extrinsics refused, by reason", ["reason"],
                                registry=self.registry)

    def serve(self, port: int) -> int:
        """Expose /metrics on 127.0.0.1:port (0 picks a free port); returns the port."""
        server, _thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        self._server = server
        return server.server_port

    def close(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()

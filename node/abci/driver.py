"""The CometBFT driver: what `payable node --abci ADDR` runs instead of the dev author.

CometBFT decides block order; this driver serves its ABCI connections (`AbciServer` around
`AbciApp`) and routes the node's client submissions to CometBFT's mempool through its RPC, so an
extrinsic sent to any node's gRPC API is gossiped to every validator; through the same RPC it records
each block's commit beside the block (`finality`), for the chain tools.
"""

from __future__ import annotations

from ..node import Node
from ..statesync import SNAPSHOT_DIR, SnapshotStore
from .app import AbciApp
from .comet import CometRpc
from .finality import CommitRecorder
from .server import AbciServer


class AbciDriver:
    def __init__(self, node: Node, address: str, *, comet_rpc: str | None, retain_blocks: int = 0,
                 snapshot_interval: int = 0, snapshot_keep: int = 2):
        """snapshot_interval: take a state sync snapshot every this many blocks (0: none), keeping the
        last `snapshot_keep` under the node's base path."""
        self.node = node
        snapshots = SnapshotStore(node.base_path / SNAPSHOT_DIR, interval=snapshot_interval, keep=snapshot_keep) \
            if snapshot_interval else None
        self.app = AbciApp(node, retain_blocks=retain_blocks, snapshots=snapshots)
        self.server = AbciServer(self.app.handle, address, on_close=self.app.connection_closed)
        self.rpc = CometRpc(comet_rpc) if comet_rpc else None
        self.recorder = CommitRecorder(node, CometRpc(comet_rpc, timeout=5.0)) if comet_rpc else None

    def start(self) -> None:
        if self.rpc is not None:
            self.node.forward = self.rpc.gossip
        self.server.start()
        if self.recorder is not None:
            self.recorder.start()

    def stop(self) -> None:
        """Close CometBFT's connections (a block finalized but not committed is dropped; CometBFT replays it)."""
        self.node.forward = None
        if self.recorder is not None:
            self.recorder.stop()
        self.server.stop()

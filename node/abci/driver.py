"""The CometBFT driver: what `payable node --abci ADDR` runs instead of the dev author.

CometBFT decides block order; this driver serves its ABCI connections (`AbciServer` around
`AbciApp`) and routes the node's client submissions to CometBFT's mempool through its RPC, so an
extrinsic sent to any node's gRPC API is gossiped to every validator.
"""

from __future__ import annotations

from ..node import Node
from .app import AbciApp
from .comet import CometRpc
from .server import AbciServer


class AbciDriver:
    def __init__(self, node: Node, address: str, *, comet_rpc: str | None, retain_blocks: int = 0):
        self.node = node
        self.app = AbciApp(node, retain_blocks=retain_blocks)
        self.server = AbciServer(self.app.handle, address, on_close=self.app.connection_closed)
        self.rpc = CometRpc(comet_rpc) if comet_rpc else None

    def start(self) -> None:
        if self.rpc is not None:
            self.node.forward = self.rpc.gossip
        self.server.start()

    def stop(self) -> None:
        """Close CometBFT's connections (a block finalized but not committed is dropped; CometBFT replays it)."""
        self.node.forward = None
        self.server.stop()

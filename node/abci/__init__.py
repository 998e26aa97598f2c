"""The CometBFT driver: `payable node --abci ADDR` serves CometBFT's ABCI++ socket protocol (v0.38).

framing.py  varint-length-prefixed frames over a stream, split and merged reads handled
server.py   the socket server: each of CometBFT's connections on its own thread, answered in order
app.py      the application: ABCI requests mapped onto the node (pool, executive, subscriptions)
comet.py    CometBFT's RPC as the node uses it (the mempool for submissions)
finality.py each block's commit recorded from that RPC beside the block, and verified offline (chain tools)
types.py    the generated ABCI protobuf types (see install.py), with a clear error when missing
install.py  the pinned CometBFT binary and the generation of its ABCI types
"""

"""The Payable node: a full node around the runtime.

`node.Node` holds the chain (RocksDB), the transaction pool, the content store and the subscriptions;
a driver decides block order and calls the executive: `dev_author.DevAuthor` (single authority, the
embedded default), with room for a consensus driver beside it. `grpc_api` serves any of them to
clients; `chaintools` exports, imports and re-checks a stopped node's chain; `ports` hands out loopback
ports for the local test networks and the demo.
"""

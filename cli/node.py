"""`payable node` (a node over gRPC, authoring alone or driven by CometBFT) and `payable build-spec`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .common import chain_choice, chain_spec, keypair_from, wait_for_stop_signal


def cmd_node(args) -> int:
    from node.dev_author import DevAuthor
    from node.grpc_api import serve
    from node.node import Node, log

    from .logs import configure_logging

    configure_logging(args.log_level)
    temporary = args.base_path is None
    base = Path(args.base_path or tempfile.mkdtemp(prefix="payable-node-"))
    node = Node(chain_spec(args), base,
                content_limits={"max_blob": args.blob_limit << 20, "quota": args.content_quota << 20})
    if args.abci:
        from node.abci.driver import AbciDriver

        driver = AbciDriver(node, args.abci, comet_rpc=args.comet_rpc, retain_blocks=args.retain_blocks,
                            snapshot_interval=args.snapshot_interval, snapshot_keep=args.snapshot_keep)
        mode = f"CometBFT over ABCI at {args.abci}, mempool via {args.comet_rpc}"
    else:
        driver = DevAuthor(node, keypair_from(args.author), block_time=None if args.instant_seal else args.block_time)
        mode = "instant-seal" if args.instant_seal else f"{args.block_time}s blocks"
    if args.ipfs_api:
        from node.ipfs.replication import attach

        if not args.ipfs_content_key:
            raise SystemExit("--ipfs-api needs --ipfs-content-key (the network's content key file)")
        attach(node, args.ipfs_api, args.ipfs_content_key)
    server, port = serve(node, args.grpc_port)
    metrics_port = node.metrics.serve(args.metrics_port) if args.metrics_port is not None else None
    driver.start()
    log.info("node_started", grpc=f"127.0.0.1:{port}", metrics=metrics_port, base_path=str(base), mode=mode)
    wait_for_stop_signal()
    server.stop(grace=2).wait()
    driver.stop()
    node.stop()
    if temporary:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def cmd_build_spec(args) -> int:
    print(chain_spec(args).to_json())
    return 0


def register(sub) -> None:
    node = sub.add_parser("node", help="run a node")
    chain_choice(node)
    node.add_argument("--base-path", help="data directory (default: a temporary one, removed on exit)")
    node.add_argument("--grpc-port", type=int, default=9944)
    node.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT")
    seal = node.add_mutually_exclusive_group()
    seal.add_argument("--block-time", type=float, default=2.0, help="seconds between blocks (default 2)")
    seal.add_argument("--instant-seal", action="store_true", help="author a block as soon as extrinsics arrive")
    seal.add_argument("--abci", metavar="ADDR", help="let CometBFT order blocks: serve its ABCI++ connections at "
                      "ADDR (tcp://127.0.0.1:26658 or unix:///path) instead of authoring")
    node.add_argument("--comet-rpc", default="http://127.0.0.1:26657",
                      help="with --abci: CometBFT's RPC, where client submissions go (its mempool)")
    node.add_argument("--retain-blocks", type=int, default=0,
                      help="with --abci: let CometBFT prune blocks older than this many (default 0: keep all)")
    node.add_argument("--snapshot-interval", type=int, default=0,
                      help="with --abci: take a state sync snapshot every this many blocks (default 0: none)")
    node.add_argument("--snapshot-keep", type=int, default=2, help="with --abci: snapshots kept (default 2)")
    node.add_argument("--author", default="//Alice", help="block author key (dev name, hex seed or key file)")
    node.add_argument("--blob-limit", type=int, default=256, help="content store: largest blob, MiB (default 256)")
    node.add_argument("--content-quota", type=int, default=8192, help="content store: total MiB (default 8192)")
    node.add_argument("--ipfs-api", metavar="URL", help="a network's node: back the content store with the "
                      "private IPFS swarm of the kubo daemon whose RPC API is at URL (default: the embedded "
                      "store only)")
    node.add_argument("--ipfs-content-key", metavar="FILE", help="with --ipfs-api: the network's content key "
                      "(hex), which encrypts permissioned blobs in the swarm")
    node.add_argument("--log-level", default="info")
    node.set_defaults(func=cmd_node)

    spec = sub.add_parser("build-spec", help="print a chain spec as JSON")
    chain_choice(spec, required=True)
    spec.set_defaults(func=cmd_build_spec)

"""`payable testnet up|down|status`: a loopback network of N validators on CometBFT."""

from __future__ import annotations

import json


def cmd_testnet(args) -> int:
    from node.testnet import Testnet, TestnetError

    net = Testnet(args.dir)
    try:
        if args.action == "up":
            if not net.nodes:
                net.generate(args.validators, args.candidates, epoch_length=args.epoch_length,
                             timeout_commit_ms=args.timeout_commit)
            net.up()
            for node in net.nodes:
                role = "validator" if node.validator else "full node (candidate)"
                print(f"{node.name}: {role}  gRPC {node.grpc}  CometBFT RPC {node.rpc}  "
                      f"p2p 127.0.0.1:{node.ports['p2p']}  logs {node.home}/{{app,comet}}.log")
            print(f"chain spec: {net.dir}/chain_spec.json; stop with `payable testnet down --dir {net.dir}`")
        elif args.action == "down":
            if not net.nodes:
                raise TestnetError(f"no testnet in {args.dir}")
            net.down()
            print(f"stopped {len(net.nodes)} nodes")
        else:
            rows = net.status()
            if args.json:
                print(json.dumps(rows, indent=2))
            for row in rows if not args.json else ():
                stopped = any(p["state"] == "stopped" for p in row["processes"].values())
                state = "up" if row["running"] else "stopped (SIGSTOP)" if stopped else "down"
                print(f"{row['name']}: {state}  height {row['height']}  "
                      f"app hash {row.get('app_hash', '-')}  gRPC {row['grpc']}")
    except TestnetError as exc:
        raise SystemExit(f"testnet: {exc}") from exc
    return 0


def register(sub) -> None:
    net = sub.add_parser("testnet", help="run a loopback CometBFT network of validators")
    net.add_argument("action", choices=("up", "down", "status"))
    net.add_argument("--dir", required=True, help="the network's directory (keys, configs, data, logs)")
    net.add_argument("--validators", type=int, default=4, help="genesis validators (default 4)")
    net.add_argument("--candidates", type=int, default=0, help="extra full nodes with consensus keys, to bond later")
    net.add_argument("--epoch-length", type=int, default=20, help="blocks per validator-set election (default 20)")
    net.add_argument("--timeout-commit", type=int, default=300, help="CometBFT timeout_commit, ms (default 300)")
    net.add_argument("--json", action="store_true", help="status as JSON")
    net.set_defaults(func=cmd_testnet)

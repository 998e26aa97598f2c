"""`payable testnet up|down|status|start|stop|restart|add`: a loopback network of N validators on CometBFT.
`up` on a directory that holds a network starts only what is not running, and refuses flags that would
make it otherwise (they only make a network); `start|stop|restart NODE` act on one node; `add` joins one
more full node to the running network, by state sync (default) or by replaying the chain from genesis."""

from __future__ import annotations

import json

from .common import at_least

GENERATION_FLAGS = ("validators", "candidates", "epoch_length", "timeout_commit", "snapshot_interval")
DEFAULTS = {"validators": 4, "candidates": 0, "epoch_length": 20, "timeout_commit": 300}


def _conflicts(args, net) -> list[str]:
    """The generation flags given to `up` that differ from what the network in --dir was made with."""
    made = net.settings()
    return [f"--{flag.replace('_', '-')} {getattr(args, flag)} (it has {made[flag]})" for flag in GENERATION_FLAGS
            if getattr(args, flag) is not None and getattr(args, flag) != made[flag]]


def _up(args, net) -> None:
    """Generate the network if --dir holds none, then start what is not running."""
    if net.nodes:
        conflicts = _conflicts(args, net)
        if conflicts:
            raise SystemExit(f"testnet: {net.dir} already holds a network made otherwise: {'; '.join(conflicts)}. "
                             f"Leave the flags out to start it as it is, or use another --dir")
    else:
        given = {f: DEFAULTS[f] if getattr(args, f) is None else getattr(args, f) for f in DEFAULTS}
        net.generate(given["validators"], given["candidates"], epoch_length=given["epoch_length"],
                     timeout_commit_ms=given["timeout_commit"],
                     **({} if args.snapshot_interval is None else {"snapshot_interval": args.snapshot_interval}))
    started = net.up()
    for node in net.nodes:
        role = "validator" if node.validator else f"full node ({node.joined or 'candidate'})"
        print(f"{node.name}: {role} {'started' if node.name in started else 'already running'}  gRPC {node.grpc}  "
              f"CometBFT RPC {node.rpc}  p2p 127.0.0.1:{node.ports['p2p']}  logs {node.home}/{{app,comet}}.log")
    print(f"chain spec: {net.dir}/chain_spec.json; stop with `payable testnet down --dir {net.dir}`")


def _change(args, net) -> None:
    """An action that changes the network (the caller holds its directory)."""
    from node.testnet import TestnetError

    if args.action != "up" and not net.nodes:
        raise TestnetError(f"no testnet in {args.dir}")
    if args.action == "up":
        _up(args, net)
    elif args.action in ("start", "stop", "restart"):
        _one_node(args, net)
    elif args.action == "add":
        _add(args, net)
    else:
        stopped = net.down()
        idle = len(net.nodes) - stopped
        print(f"stopped {stopped} nodes" + (f" ({idle} had no process running)" if idle else ""))


def _one_node(args, net) -> None:
    """start, stop or restart one node (by name, e.g. node2, or index)."""
    if not args.node:
        raise SystemExit(f"testnet: {args.action} needs the node: e.g. `payable testnet {args.action} node1 "
                         f"--dir {args.dir}`")
    i = net.node_index(args.node)
    name = net.nodes[i].name
    if args.action == "start" and net.running(i):
        print(f"{name}: already running")
        return
    if args.action != "start":
        net.stop_node(i)
    if args.action != "stop":
        net.start_node(i)
    print(f"{name}: {dict(start='started', stop='stopped', restart='restarted')[args.action]}")


def _add(args, net) -> None:
    """One more full node, joined to the running network by state sync or by block replay."""
    node = net.add_node(state_sync=args.sync != "blocks")  # state sync unless told otherwise
    print(f"{node.name}: full node joining by {node.joined}  gRPC {node.grpc}  CometBFT RPC {node.rpc}  "
          f"logs {node.home}/{{app,comet}}.log; `payable testnet status --dir {net.dir}` shows it catch up")


def _state_text(row: dict) -> str:
    """A node's state in words, naming the processes that are not running: a validator whose IPFS daemon
    alone is gone still validates ("up", its daemon named), not "down"."""
    off = {role: p["state"] for role, p in row["processes"].items() if p["state"] != "running"}
    if row["running"]:
        return "up"
    if not off:
        return "down (not started)"
    named = ", ".join(f"{role} {state}" for role, state in off.items())
    if set(off) == {"ipfs"}:
        return f"up, but {named} (it cannot fetch or serve the swarm's blobs: restart it)"
    return f"stopped (SIGSTOP: {named})" if "stopped" in off.values() else f"down ({named})"


def _refuse_what_the_action_ignores(args) -> None:
    """A node, --sync or a generation flag given to an action that would silently ignore it (`down node1`
    stopped the whole network) is refused, saying what the action takes."""
    if args.node is not None and args.action not in ("start", "stop", "restart"):
        raise SystemExit(f"testnet: `{args.action}` acts on the whole network and takes no node (given "
                         f"{args.node!r}); one node: `payable testnet stop|start|restart {args.node}`")
    if args.action != "add" and args.sync is not None:
        raise SystemExit(f"testnet: --sync is how `add` joins a node; `{args.action}` takes none")
    if args.action != "up" and any(getattr(args, f) is not None for f in GENERATION_FLAGS):
        raise SystemExit(f"testnet: {', '.join('--' + f.replace('_', '-') for f in GENERATION_FLAGS)} "
                         f"only make a network (`up` on an empty --dir); `{args.action}` takes none")


def cmd_testnet(args) -> int:
    from node.testnet import Testnet, TestnetError, operator_lock

    try:
        _refuse_what_the_action_ignores(args)
        if args.action != "status":
            # the network is read only once it is held: another command may be changing it
            with operator_lock(args.dir, create=args.action == "up"):
                _change(args, Testnet(args.dir))
            return 0
        net = Testnet(args.dir)
        if not net.nodes:
            raise TestnetError(f"no testnet in {args.dir}")
        rows = net.status()
        if args.json:
            print(json.dumps(rows, indent=2))
        for row in rows if not args.json else ():
            state = _state_text(row)
            where = f"height {row['height']}  app hash {row.get('app_hash') or '-'}" \
                if row["height"] is not None else "no answer from its CometBFT"
            metrics = ", ".join(f"{name} {url}" for name, url in row["metrics"].items())
            print(f"{row['name']}: {state}  {row['role']} (from {row['role_from']})  {where}  gRPC {row['grpc']}  "
                  f"metrics: {metrics or '-'}")
    except TestnetError as exc:
        raise SystemExit(f"testnet: {exc}") from exc
    return 0


def register(sub) -> None:
    net = sub.add_parser("testnet", help="run a loopback CometBFT network of validators")
    net.add_argument("action", choices=("up", "down", "status", "start", "stop", "restart", "add"),
                     help="up: make the network if --dir holds none, and start what is not running; "
                          "start|stop|restart NODE: one node; add: one more full node joins the running network")
    net.add_argument("node", nargs="?", help="start, stop, restart: the node (node2, or 2)")
    net.add_argument("--dir", required=True, help="the network's directory (keys, configs, data, logs)")
    net.add_argument("--validators", type=at_least(1),
                     help="genesis validators (default 4; only when making the network)")
    net.add_argument("--candidates", type=at_least(0),
                     help="extra full nodes with consensus keys, to bond later (default 0)")
    net.add_argument("--epoch-length", type=at_least(1), help="blocks per validator-set election (default 20)")
    net.add_argument("--timeout-commit", type=at_least(0), help="CometBFT timeout_commit, ms (default 300)")
    net.add_argument("--snapshot-interval", type=at_least(0),
                     help="blocks between each node's state sync snapshots (default 50; 0: none)")
    net.add_argument("--sync", choices=("state", "blocks"),
                     help="add: join by state sync from the newest snapshot (default), or by replaying every block")
    net.add_argument("--json", action="store_true", help="status as JSON")
    net.set_defaults(func=cmd_testnet)

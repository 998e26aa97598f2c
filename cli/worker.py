"""`payable worker`: the GPU worker sidecar, optionally following a node to answer paid requests; and its
record on chain: `payable worker register` bonds OPEN and names what it serves (base models: every adapter
published on them; models), `show` reads a record, `deregister` starts the bond unbonding."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from pathlib import Path

from runtime.codec import decode_u128, format_open, parse_open
from runtime.crypto import encode_address

from .common import account_from, client, client_command, emit, keypair_from, wait_for_stop_signal

DEFAULT_ENDPOINT = "127.0.0.1:9955"


def cmd_worker(args) -> int:
    """The GPU worker sidecar (needs the `worker` extra: torch, onnxruntime, safetensors)."""
    try:
        from gpu_worker.service import serve
        from gpu_worker.worker import Worker, log
    except ImportError as exc:
        raise ValueError(f"the worker needs its extra installed: pip install -e '.[worker]' ({exc})") from exc
    from .logs import configure_logging

    configure_logging(args.log_level)
    temporary = args.data_dir is None
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="payable-worker-"))
    worker = Worker(data_dir, keypair_from(args.key), args.device, node=args.node)
    server, port = serve(worker, args.grpc_port)
    log.info("worker_started", grpc=f"127.0.0.1:{port}", device=str(worker.device), data_dir=str(data_dir),
             worker=worker.key.address, node=args.node)
    follower = None
    if args.node:
        from gpu_worker.follower import Follower

        follower = Follower(worker, args.node, worker.key)
        threading.Thread(target=follower.run, name="chain-follower", daemon=True).start()
    wait_for_stop_signal()
    if follower is not None:
        follower.stop()
    server.stop(grace=2).wait()
    worker.close()
    if temporary:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def _worker_view(found) -> tuple[dict, list[tuple[str, str]]]:
    state = f"leaving since block #{found.leaving_at} (bond unbonding)" if found.leaving_at else "active"
    data = {"worker": encode_address(found.account), "endpoint": found.endpoint, "device": found.device,
            "bond": format_open(decode_u128(found.bond)), "base_models": list(found.base_models),
            "models": list(found.models), "registered_at": found.registered_at, "leaving_at": found.leaving_at}
    table = [("worker", data["worker"]), ("endpoint", found.endpoint), ("device", found.device or "-"),
             ("bond", f"{data['bond']} OPEN"),
             ("base models", ", ".join(map(str, found.base_models)) or "-"),
             ("models", ", ".join(map(str, found.models)) or "-"),
             ("registered", f"block #{found.registered_at}"), ("state", state)]
    return data, table


def _get_worker(node, account: bytes):
    from payable.inference.v1 import inference_pb2 as inf
    from sdk.client import ClientError

    try:
        return node.pallet_query("inference", "get_worker", inf.WorkerRef(worker=account), inf.Worker)
    except ClientError as exc:
        raise ValueError(f"{encode_address(account)} is not a registered worker ({exc})") from exc


def cmd_register(args) -> int:
    """Bond OPEN and register the key as a worker serving base models (all their adapters) and models."""
    if not args.base_model and not args.model:
        raise ValueError("name what the worker serves: --base-model ID (every adapter on that base; ids from "
                         "`payable model bases`) and/or --model ID (repeatable)")
    bond = parse_open(args.bond)
    signer = keypair_from(args.sender)
    with client(args) as node:
        result = node.submit_call(signer, "inference", "register_worker", endpoint=args.endpoint,
                                  base_models=args.base_model or [], models=args.model or [], device=args.device,
                                  bond=bond)
        if not result.success:
            hint = {"AlreadyRegistered": "it is registered already: `payable worker deregister` first to change it",
                    "BondTooSmall": "raise --bond to at least the chain's minimum",
                    "InsufficientBalance": "the key cannot bond that much: fund it or lower --bond"}
            why = next((h for name, h in hint.items() if name in (result.error or "")), "")
            message = f"the chain refused to register {signer.address} as a worker: {result.error}" + (
                f" ({why})" if why else "")
            if args.json:
                emit(args, {"success": False, "error": result.error, "message": message,
                            "extrinsic": result.hash.hex(), "block": result.block_number})
            print(f"error: {message}", file=sys.stderr)
            return 1
        data, table = _worker_view(_get_worker(node, signer.public))
    emit(args, {**data, "success": True, "block": result.block_number, "extrinsic": result.hash.hex()},
         table + [("extrinsic", f"{result.hash.hex()} in block #{result.block_number}")])
    return 0


def cmd_show(args) -> int:
    with client(args) as node:
        data, table = _worker_view(_get_worker(node, account_from(args.account)))
    emit(args, data, table)
    return 0


def cmd_deregister(args) -> int:
    signer = keypair_from(args.sender)
    with client(args) as node:
        result = node.submit_call(signer, "inference", "deregister_worker")
        if not result.success:
            raise ValueError(f"the chain refused to deregister {signer.address}: {result.error}")
        data, table = _worker_view(_get_worker(node, signer.public))
    emit(args, {**data, "block": result.block_number}, table)
    return 0


def register(sub) -> None:
    worker = sub.add_parser("worker", help="run the GPU worker (training, inference, attribution); register, show "
                                           "or deregister a worker on chain")
    worker.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    worker.add_argument("--data-dir", help="models, datasets and indexes (default: a temporary directory)")
    worker.add_argument("--grpc-port", type=int, default=9955)
    worker.add_argument("--key", default="//Worker", help="the worker's signing key (dev name, hex seed or key file)")
    worker.add_argument("--node", help="follow this node (HOST:PORT): answer the inference requests assigned to "
                                       "the worker's key, and read base models and DataNets for fine-tuning")
    worker.add_argument("--log-level", default="info")
    worker.set_defaults(func=cmd_worker)
    wsub = worker.add_subparsers(dest="worker_action", metavar="{register,show,deregister}",
                                 help="without one: run the worker")
    reg = client_command(wsub, "register", "bond OPEN and register this key as a worker for base models and models",
                         cmd_register, signed=True)
    reg.add_argument("--base-model", type=int, action="append",
                     help="serve every adapter published on this base (repeatable; ids: payable model bases)")
    reg.add_argument("--model", type=int, action="append", help="serve this model (repeatable)")
    reg.add_argument("--bond", required=True, help="OPEN to bond, e.g. 150 (at least the chain's minimum worker "
                                                   "bond: 100 on the dev chain)")
    reg.add_argument("--endpoint", default=DEFAULT_ENDPOINT,
                     help=f"where the worker serves gRPC, as requesters reach it (default {DEFAULT_ENDPOINT})")
    reg.add_argument("--device", default="cpu", help="what it runs on, shown to requesters (cpu, cuda)")
    client_command(wsub, "show", "a worker's record: endpoint, bond, what it serves",
                   cmd_show).add_argument("account", help="address or dev name")
    client_command(wsub, "deregister", "stop taking requests; the bond unbonds", cmd_deregister, signed=True)

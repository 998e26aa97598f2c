"""`payable worker`: the GPU worker sidecar, optionally following a node to answer paid requests."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from .common import keypair_from, wait_for_stop_signal


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


def register(sub) -> None:
    worker = sub.add_parser("worker", help="run the GPU worker (training, inference, attribution)")
    worker.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    worker.add_argument("--data-dir", help="models, datasets and indexes (default: a temporary directory)")
    worker.add_argument("--grpc-port", type=int, default=9955)
    worker.add_argument("--key", default="//Worker", help="the worker's signing key (dev name, hex seed or key file)")
    worker.add_argument("--node", help="follow this node (HOST:PORT): answer the inference requests assigned to "
                                       "the worker's key, and read base models and DataNets for fine-tuning")
    worker.add_argument("--log-level", default="info")
    worker.set_defaults(func=cmd_worker)

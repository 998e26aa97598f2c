"""Node benchmark: health-check and unary-call latency while idle streams crowd the node, side by side
with the same calls on an idle node in the same run (ratios, since these machines are noisy).

The target (issue 28): with 1,000 idle streams open from one client - subscriptions to new heads - and
uploads that sent one chunk and wait, `grpc.health.v1.Health/Check` and `Node/GetChainInfo` still answer
within 100 ms. Each row measures `--calls` sequential calls of each kind on a fresh connection and
reports p50, p99 and max in milliseconds, plus `within_target` (p99 under 100 ms).

    python bench/node_streams.py [--streams 1000] [--uploads 32] [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from node.ports import free_port  # noqa: E402
from payable.content.v1 import content_pb2_grpc  # noqa: E402
from payable.node.v1 import node_pb2, node_pb2_grpc  # noqa: E402
from runtime.crypto import Keypair  # noqa: E402
from sdk.client import Client, UploadSignature  # noqa: E402

TARGET_MS = 100.0


def _connection(target: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)  # noqa: E731
    return {"p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": round(ordered[-1], 3)}


async def _latencies(target: str, calls: int) -> dict:
    channel = _connection(target)
    health = health_pb2_grpc.HealthStub(channel)
    stub = node_pb2_grpc.NodeStub(channel)
    out = {}
    try:
        await health.Check(health_pb2.HealthCheckRequest(), timeout=30)  # connect first: not measured
        for name, call in [("health", lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=30)),
                           ("get_chain_info", lambda: stub.GetChainInfo(node_pb2.ChainInfoRequest(), timeout=30))]:
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                await call()
                samples.append((time.perf_counter() - started) * 1000)
            out[name] = _percentiles(samples)
    finally:
        await channel.close()
    return out


async def _row(target: str, streams: int, uploads: int, calls: int, signed: UploadSignature) -> dict:
    heads_channel, uploads_channel = _connection(target), _connection(target)
    never = asyncio.Event()

    async def one_chunk_then_wait():  # signed: an upload the node takes, then holds open
        yield signed.first_chunk(bytes(32), b"first chunk", 1 << 20)
        await never.wait()

    try:
        stub = node_pb2_grpc.NodeStub(heads_channel)
        open_calls = [stub.StreamHeads(node_pb2.StreamHeadsRequest()) for _ in range(streams)]
        content = content_pb2_grpc.ContentStoreStub(uploads_channel)
        open_calls += [content.Upload(one_chunk_then_wait()) for _ in range(uploads)]
        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(c.initial_metadata() for c in open_calls)), timeout=120)
        opened_s = time.perf_counter() - started
        await asyncio.sleep(0.5)
        refused = sum(1 for c in open_calls if c.done())
        row = {"idle_streams": streams, "idle_uploads": uploads, "refused": refused,
               "open_s": round(opened_s, 3), **await _latencies(target, calls)}
    finally:
        never.set()
        await heads_channel.close()
        await uploads_channel.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--uploads", type=int, default=32)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="payable-bench-streams-") as base:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "node", "--dev", "--instant-seal", "--base-path",
                                 os.path.join(base, "node"), "--grpc-port", str(port), "--log-level", "warning"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = f"127.0.0.1:{port}"
        try:
            with Client(target) as client:
                client.wait_ready(60)
                signed = UploadSignature.signed(client.genesis_hash, Keypair.from_uri("//Alice"), bytes(32))
            idle = asyncio.run(_row(target, 0, 0, args.calls, signed))
            crowded = asyncio.run(_row(target, args.streams, args.uploads, args.calls, signed))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    ratios = {kind: round(crowded[kind]["p99_ms"] / max(idle[kind]["p99_ms"], 1e-3), 2)
              for kind in ("health", "get_chain_info")}
    print(json.dumps({
        "bench": "node_streams", "machine": platform.node(), "cpus": os.cpu_count(), "target_ms": TARGET_MS,
        "rows": [idle, crowded], "p99_ratio_crowded_to_idle": ratios,
        "within_target": all(crowded[k]["p99_ms"] < TARGET_MS for k in ("health", "get_chain_info")),
    }, indent=2))


if __name__ == "__main__":
    main()

"""Node benchmark: transfers per second submitted over gRPC by concurrent clients and included in blocks,
side by side with the in-process import rate (bench/runtime.py's measurement) in the same run.

The gap between the two is the cost of the network path: gRPC decode, pool validation (a second
signature check), pool bookkeeping, authoring, and notifying clients - all in one Python process.

    python bench/node.py [--senders 32] [--per-sender 150] [--clients 4]

Two rows: one extrinsic per SubmitExtrinsic call, and 256 per SubmitBatch call.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime.chainspec import ChainSpec  # noqa: E402
from runtime.client import Client  # noqa: E402
from runtime.codec import ONE_OPEN  # noqa: E402
from runtime.crypto import Keypair  # noqa: E402
from runtime.ports import free_port  # noqa: E402


def _runtime_bench():
    spec = importlib.util.spec_from_file_location("bench_runtime", ROOT / "bench" / "runtime.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def over_grpc(senders: int, per_sender: int, clients: int, block_time: float, batch: int, workdir: Path) -> dict:
    keys = [Keypair(i.to_bytes(32, "big")) for i in range(1, senders + 1)]
    spec = ChainSpec.from_dict({"name": "bench", "id": "bench", "pallets": ["token"],
                                "genesis": {"system": {"timestamp_ms": 1_700_000_000_000},
                                            "token": {"balances": [[k.public.hex(), 10**6 * ONE_OPEN]
                                                                   for k in keys]}}})
    spec_path = workdir / "spec.json"
    spec_path.write_text(spec.to_json())
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "node", "--chain", str(spec_path),
                             "--base-path", str(workdir / "node"), "--grpc-port", str(port),
                             "--block-time", str(block_time), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "node.log", "wb"), cwd=ROOT)
    target = f"127.0.0.1:{port}"
    try:
        with Client(target) as client:
            client.wait_ready(60)
            dest = Keypair.from_uri("//Sink").public
            call = client.call("token", "transfer_keep_alive", dest=dest, amount=ONE_OPEN // 100)
            start_number = client.chain_info().best_number
            signed = [[client.sign(k, call, nonce=n) for n in range(per_sender)] for k in keys]
        total = senders * per_sender
        errors: list[str] = []

        def submit(mine: list[list[bytes]]) -> None:
            with Client(target) as c:
                ordered = [chain[n] for n in range(per_sender) for chain in mine]  # nonce by nonce
                for i in range(0, len(ordered), batch):
                    if batch == 1:
                        try:
                            c.submit(ordered[i])
                        except Exception as exc:  # noqa: BLE001 - counted and reported
                            errors.append(str(exc))
                        continue
                    errors.extend(f"{r.error_code}: {r.error}" for r in c.submit_batch(ordered[i:i + batch])
                                  if r.error_code)

        groups = [signed[i::clients] for i in range(clients)]
        threads = [threading.Thread(target=submit, args=(g,)) for g in groups]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        submitted_s = time.perf_counter() - started
        with Client(target) as client:
            included = 0
            number = start_number
            deadline = time.perf_counter() + 300
            while included < total - len(errors) and time.perf_counter() < deadline:
                best = client.chain_info().best_number
                while number < best:
                    number += 1
                    included += len(client.block(number).block.extrinsics) - 1
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        return {"senders": senders, "clients": clients, "batch": batch, "submitted": total, "rejected": len(errors),
                "included": included, "block_time_s": block_time,
                "submit_tx_per_s": round(total / submitted_s), "included_tx_per_s": round(included / elapsed),
                "first_error": errors[0] if errors else ""}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--per-sender", type=int, default=150)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--block-time", type=float, default=0.5)
    args = parser.parse_args()
    rows = []
    for batch in (1, 256):  # one extrinsic per call (SubmitExtrinsic), and SubmitBatch
        with tempfile.TemporaryDirectory(prefix="payable-nodebench-") as tmp:
            rows.append(over_grpc(args.senders, args.per_sender, args.clients, args.block_time, batch, Path(tmp)))
    with tempfile.TemporaryDirectory(prefix="payable-nodebench-") as tmp:
        in_process = _runtime_bench().bench_import(20_000, 10_000, 3, 2000, Path(tmp))
    rate = in_process["import_tx_per_s"]
    report = {"benchmark": "node", "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                              f"Python {platform.python_version()}",
              "over_grpc": rows, "in_process_import_tx_per_s": in_process["import_tx_per_s"],
              "grpc_vs_in_process": {f"batch_{r['batch']}": round(r["included_tx_per_s"] / rate, 3) for r in rows},
              "target_ratio": 0.5}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

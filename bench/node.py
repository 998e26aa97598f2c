"""Node benchmark: transfers per second submitted over gRPC by concurrent clients and included in blocks,
side by side with the in-process import rate (bench/runtime.py's measurement) in the same run.

The gap between the two is the cost of the network path: gRPC decode, pool validation (a second
signature check), pool bookkeeping, authoring, and notifying clients - all in one Python process.

    python bench/node.py [--senders 32] [--per-sender 150] [--clients 4] [--baseline REV]

Rows: one extrinsic per SubmitExtrinsic call; 256 per SubmitBatch call; and 256 per call while one
account floods the node (far-future nonces, maximum-size remarks with tips it cannot pay, and
maximum-size remarks with tips it can), which shows the rate ordinary senders keep. With
`--baseline REV` the same rows run against that revision's node too (checked out in a temporary git
worktree), so the cost of admission checks is measured as a ratio in one run.
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

from node.ports import free_port  # noqa: E402
from runtime.chainspec import ChainSpec  # noqa: E402
from runtime.codec import ONE_OPEN  # noqa: E402
from runtime.crypto import Keypair  # noqa: E402
from sdk.client import Client, ClientError  # noqa: E402


def _runtime_bench():
    spec = importlib.util.spec_from_file_location("bench_runtime", ROOT / "bench" / "runtime.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FLOODER = Keypair.from_uri("//Flooder")


def flood(target: str, stop: threading.Event, counts: dict) -> None:
    """One account sends what the pool must not let crowd others out, until told to stop."""
    with Client(target) as c:
        try:
            _flood_until(c, stop, counts)
        except ClientError:
            pass  # the node went away at the end of the row


def _flood_until(c: Client, stop: threading.Event, counts: dict) -> None:
    remark = c.call("system", "remark", data=b"\x07" * (128 * 1024 - 400))
    far = 1_000_000
    while not stop.is_set():
        nonce = c.nonce(FLOODER.public)
        batch = [c.sign(FLOODER, c.call("token", "transfer_keep_alive", dest=FLOODER.public, amount=1),
                        nonce=far + i) for i in range(8)]  # far-future nonces
        batch += [c.sign(FLOODER, remark, nonce=nonce, tip=10**6 * ONE_OPEN)]  # a tip it can never pay
        batch += [c.sign(FLOODER, remark, nonce=nonce + i, tip=ONE_OPEN) for i in range(4)]  # payable, big
        results = c.submit_batch(batch)
        counts["sent"] += len(batch)
        counts["accepted"] += sum(not r.error_code for r in results)
        far += 8


def over_grpc(senders: int, per_sender: int, clients: int, block_time: float, batch: int, workdir: Path,
              source: Path = ROOT, flooding: bool = False) -> dict:
    keys = [Keypair(i.to_bytes(32, "big")) for i in range(1, senders + 1)]
    spec = ChainSpec.from_dict({"name": "bench", "id": "bench", "pallets": ["token"],
                                "genesis": {"system": {"timestamp_ms": 1_700_000_000_000},
                                            "token": {"balances": [[k.public.hex(), 10**6 * ONE_OPEN]
                                                                   for k in [*keys, FLOODER]]}}})
    spec_path = workdir / "spec.json"
    spec_path.write_text(spec.to_json())
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "node", "--chain", str(spec_path),
                             "--base-path", str(workdir / "node"), "--grpc-port", str(port),
                             "--block-time", str(block_time), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "node.log", "wb"), cwd=source,
                            env={**os.environ, "PYTHONPATH": str(source)})
    target = f"127.0.0.1:{port}"
    stop, flood_counts = threading.Event(), {"sent": 0, "accepted": 0}
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
                        except ClientError as exc:  # the node's refusal: counted and reported
                            errors.append(str(exc))
                        continue
                    errors.extend(f"{r.error_code}: {r.error}" for r in c.submit_batch(ordered[i:i + batch])
                                  if r.error_code)

        groups = [signed[i::clients] for i in range(clients)]
        threads = [threading.Thread(target=submit, args=(g,)) for g in groups]
        if flooding:
            threading.Thread(target=flood, args=(target, stop, flood_counts), daemon=True).start()
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
                    included += sum(1 for raw in client.block(number).block.extrinsics[1:]
                                    if FLOODER.public not in raw)  # ordinary senders' transfers only
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        stop.set()
        row = {"node": "current" if source == ROOT else "baseline", "senders": senders, "clients": clients,
               "batch": batch, "flooding": flooding, "submitted": total, "rejected": len(errors),
               "included": included, "block_time_s": block_time, "submit_tx_per_s": round(total / submitted_s),
               "included_tx_per_s": round(included / elapsed), "first_error": errors[0] if errors else ""}
        if flooding:
            row["flooder"] = flood_counts
        return row
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--per-sender", type=int, default=150)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--block-time", type=float, default=0.5)
    parser.add_argument("--baseline", help="a git revision whose node runs the same rows (for a before/after)")
    parser.add_argument("--rounds", type=int, default=2, help="repeat every row; the best round counts")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="payable-nodebench-src-") as src:
        sources = [ROOT]
        if args.baseline:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", src, args.baseline], check=True,
                           capture_output=True)
            sources.append(Path(src))
        try:
            for _ in range(args.rounds):  # interleaved, so a slow spell of this shared machine hits both nodes
                for batch, flooding in ((1, False), (256, False), (256, True)):
                    for source in sources:
                        with tempfile.TemporaryDirectory(prefix="payable-nodebench-") as tmp:
                            rows.append(over_grpc(args.senders, args.per_sender, args.clients, args.block_time,
                                                  batch, Path(tmp), source, flooding))
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", src], capture_output=True)
    with tempfile.TemporaryDirectory(prefix="payable-nodebench-") as tmp:
        in_process = _runtime_bench().bench_import(20_000, 10_000, 3, 2000, Path(tmp))
    rate = in_process["import_tx_per_s"]
    key: dict = {}  # best round of each row
    for r in rows:
        at = (r["node"], r["batch"], r["flooding"])
        key[at] = max(key.get(at, 0), r["included_tx_per_s"])
    report = {"benchmark": "node", "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                              f"Python {platform.python_version()}",
              "over_grpc": rows, "in_process_import_tx_per_s": in_process["import_tx_per_s"],
              "grpc_vs_in_process": {f"{node}_batch_{batch}{'_flooded' if flooding else ''}": round(best / rate, 3)
                                     for (node, batch, flooding), best in key.items()},
              "target_ratio": 0.5}
    if args.baseline:
        report["current_vs_baseline"] = {f"batch_{b}{'_flooded' if f else ''}":
                                         round(key[("current", b, f)] / max(1, key[("baseline", b, f)]), 3)
                                         for b, f in ((1, False), (256, False), (256, True))}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

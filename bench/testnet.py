"""Testnet benchmark: finalized transfers per second on 4 CometBFT validators on loopback, block
interval and submit-to-final latency, next to the dev node's in-process import rate (bench/runtime.py's
measurement) on the same machine in the same run, and where the time goes.

    python bench/testnet.py [--validators 4] [--senders 200] [--per-sender 40] [--clients-per-node 1]
                            [--timeout-commit 300] [--ipfs | --no-ipfs] [--baseline REV]

Every transfer goes the way a client's does: gRPC SubmitBatch to one of the nodes, from several
concurrent clients per node (each sender keeps to one client, so its nonces arrive in order); the
node's pool admits it and the node hands the batch to its CometBFT's mempool (one JSON-RPC batch of
broadcast_tx_async), CometBFT runs CheckTx on the node's pool (which holds it already) and gossips it;
the proposer's PrepareProposal picks it, every validator executes it (ProcessProposal, reused by
FinalizeBlock) and commits. A transfer is final when a committed block holds it (CometBFT has instant
finality). Only transfers that succeeded count (a block may hold a transfer whose call failed:
ExtrinsicFailed), and each destination's balance must show exactly them.

Where the time goes: each node's seconds answering CometBFT by ABCI request (wall time inside the
handler, from its metrics; RECHECK apart from CheckTx), and the CPU seconds every kind of process used
in the run (the Payable apps, the CometBFTs, the kubo daemons, this client) - on a machine with fewer
cores than processes the CPU is what bounds the rate. `--baseline REV` first measures the code at git
revision REV the same way (its nodes run from a `git archive` copy), in the same run: the before column.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import resource
import runpy
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT_ENV = "PAYABLE_BENCH_ROOT"  # set by --baseline: the tree (another revision's) whose code the nodes run
ROOT = Path(os.environ.get(ROOT_ENV) or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

from node.testnet import Testnet  # noqa: E402
from runtime.codec import ONE_OPEN  # noqa: E402
from runtime.crypto import Keypair, blake2_256  # noqa: E402
from sdk.client import Client  # noqa: E402

STAGES = ("check_tx", "recheck_tx", "prepare_proposal", "process_proposal", "finalize_block", "commit")
TRANSFER = ONE_OPEN  # above the existential deposit: a transfer that creates its destination succeeds


def abci_seconds(net: Testnet) -> list[dict[str, float]]:
    """Per node: seconds spent answering each ABCI request so far (from its Prometheus metrics)."""
    out = []
    for node in net.nodes:
        text = urllib.request.urlopen(f"http://127.0.0.1:{node.ports['metrics']}/metrics", timeout=5).read().decode()
        found = re.findall(r'payable_abci_seconds_total\{request="(\w+)"\} ([0-9.e+-]+)', text)
        out.append({k: float(v) for k, v in found})
    return out


def cpu_seconds(net: Testnet) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each kind of process: the nodes' Payable apps, their
    CometBFTs, their kubo daemons (if any) and this benchmark's own client (submitters and follower)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"bench_client": sum(resource.getrusage(resource.RUSAGE_SELF)[:2])}
    for node in net.nodes:
        for role, pid in node.pids.items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def _follow(target: str, start_height: int, wanted: set[bytes], final: dict[bytes, float], failed: set[bytes],
            block_times: list[int], done: threading.Event) -> None:
    """Note when each wanted transfer is seen in a block (`final`), which of them failed (`failed`: the block
    holds it, its call did not run - ExtrinsicFailed) and each block's timestamp."""
    with Client(target, timeout=600) as client:
        for head in client.heads():
            seen = time.perf_counter()
            number = head.header.number
            if number <= start_height:
                continue
            block_times.append(head.header.timestamp_ms)
            extrinsics = client.block(number).block.extrinsics
            failures = {e.extrinsic_index for e in client.events(number).events
                        if e.phase == e.APPLY_EXTRINSIC and e.pallet == "system" and e.name == "ExtrinsicFailed"}
            for index, raw in enumerate(extrinsics):
                h = blake2_256(raw)
                if h in wanted:
                    final[h] = seen
                    if index in failures:
                        failed.add(h)
            if len(final) == len(wanted) or done.is_set():
                return


def _submit(target: str, per_sender: int, chains: list[list[bytes]], submitted: dict[bytes, float],
            refused: list[str]) -> None:
    """Submit one client's share, noting when each transfer was sent (`submitted`); stops at the first
    refusal, noted in `refused`."""
    with Client(target, timeout=600) as client:
        for n in range(per_sender):  # round-robin over this node's senders: nonce n of each, then n+1
            batch = [chain[n] for chain in chains]
            now = time.perf_counter()
            for raw in batch:
                submitted[blake2_256(raw)] = now
            for result in client.submit_batch(batch):
                if result.error:
                    refused.append(f"{result.error_code}: {result.error}")
                    return


def run(net: Testnet, senders: list[Keypair], per_sender: int, clients_per_node: int,
        amount: int = TRANSFER) -> dict:
    """Each sender pays `amount` (1 OPEN: above the existential deposit) `per_sender` times, from its next
    nonce, to an account of its own; only transfers that succeeded count, and every destination's balance
    must show exactly them."""
    from runtime.extrinsic import sign_extrinsic

    dests = [Keypair.from_uri(f"//bench-dest-{k.address}").public for k in senders]
    with Client(net.nodes[0].grpc) as client:
        genesis = client.genesis_hash
        calls = [client.call("token", "transfer", dest=dest, amount=amount) for dest in dests]
        start_height = client.chain_info().best_number
        opening = [int.from_bytes(client.account(dest).free, "big") for dest in dests]
        nonces = [client.nonce(k.public) for k in senders]
    signed = [[sign_extrinsic(k, call, nonce=first + n, genesis_hash=genesis) for n in range(per_sender)]
              for k, call, first in zip(senders, calls, nonces, strict=True)]
    wanted = {blake2_256(raw) for chain in signed for raw in chain}
    submitted: dict[bytes, float] = {}
    final: dict[bytes, float] = {}
    failed: set[bytes] = set()
    block_times: list[int] = []
    done = threading.Event()
    before, cpu_before = abci_seconds(net), cpu_seconds(net)
    follower = threading.Thread(target=_follow, args=(net.nodes[0].grpc, start_height, wanted, final, failed,
                                                      block_times, done), daemon=True)
    follower.start()
    started = time.perf_counter()
    groups = len(net.nodes) * clients_per_node
    refused: list[str] = []
    submitters = [threading.Thread(target=_submit, args=(net.nodes[g % len(net.nodes)].grpc, per_sender,
                                                         signed[g::groups], submitted, refused))
                  for g in range(groups)]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    submitted_s = time.perf_counter() - started
    if refused:
        done.set()
        raise SystemExit(f"submission refused: {refused[0]}")
    follower.join(timeout=300)
    done.set()
    after, cpu_after = abci_seconds(net), cpu_seconds(net)  # the run's window: before the balance checks
    if len(final) != len(wanted):
        raise SystemExit(f"only {len(final)} of {len(wanted)} transfers were finalized")
    succeeded = len(wanted) - len(failed)
    with Client(net.nodes[0].grpc) as client:
        for chain, dest, start in zip(signed, dests, opening, strict=True):
            paid = sum(amount for raw in chain if blake2_256(raw) not in failed)
            got = int.from_bytes(client.account(dest).free, "big") - start
            if got != paid:
                raise SystemExit(f"destination {dest.hex()[:16]}… received {got}, its successful transfers "
                                 f"sent {paid}")
    wall = max(final.values()) - started
    cpu = {role: round(cpu_after[role] - cpu_before.get(role, 0.0), 2) for role in cpu_after}
    latencies = sorted(final[h] - submitted[h] for h in wanted)
    per_node = [{stage: round(a.get(stage, 0) - b.get(stage, 0), 2) for stage in STAGES}
                for a, b in zip(after, before, strict=True)]
    intervals = [b - a for a, b in zip(block_times, block_times[1:], strict=False)]
    return {
        "transfers": len(wanted), "succeeded": succeeded, "failed": len(failed),
        "finalized_tx_per_s": round(succeeded / wall), "balances_checked": True, "wall_s": round(wall, 2),
        "submit_s": round(submitted_s, 2), "blocks": len(block_times),
        "block_interval_ms": round(statistics.mean(intervals)) if intervals else None,
        "latency_ms": {"p50": round(latencies[len(latencies) // 2] * 1000),
                       "p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000)},
        "abci_seconds_per_node": per_node,
        "abci_seconds_all_nodes": {stage: round(sum(n[stage] for n in per_node), 2) for stage in STAGES},
        "abci_share_of_wall": [round(sum(n.values()) / wall, 2) for n in per_node],
        "cpu_seconds": cpu, "cpu_us_per_transfer": round(sum(cpu.values()) / len(wanted) * 1e6),
        "cpu_busy_share": round(sum(cpu.values()) / (wall * len(os.sched_getaffinity(0))), 2),
    }


def measure(args: argparse.Namespace) -> dict:
    """One network of the code under ROOT: generated, started, measured by `run`, stopped."""
    senders = [Keypair.from_uri(f"//bench-sender-{i}") for i in range(args.senders)]
    with tempfile.TemporaryDirectory(prefix="payable-testnet-bench-") as tmp:
        net = Testnet(Path(tmp) / "net")
        net.generate(args.validators, epoch_length=1000, timeout_commit_ms=args.timeout_commit,
                     log_level="error", endow=tuple(k.address for k in senders), ipfs=args.ipfs)
        try:
            net.up()
            with Client(net.nodes[0].grpc) as client:
                client.wait_ready(60)
                while client.chain_info().best_number < 2:
                    time.sleep(0.2)
            result = run(net, senders, args.per_sender, args.clients_per_node)
        finally:
            net.down()
    result["ipfs"] = bool(net.nodes[0].ipfs_peer)  # kubo daemons ran beside the nodes (idle: no blobs sent)
    return result


def measure_revision(revision: str, argv: list[str]) -> dict:
    """The same measurement of the code at git revision `revision` (read out with `git archive`, its nodes run
    from there by a child process of this script): the before column, on the same machine in the same run."""
    with tempfile.TemporaryDirectory(prefix="payable-testnet-before-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        child = subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv, "--network-only"], cwd=tmp,
                               env={**os.environ, ROOT_ENV: tmp}, capture_output=True, text=True)
        if child.returncode:
            raise SystemExit(f"the measurement of {revision} failed:\n{child.stderr[-4000:]}")
    return {"revision": revision, **json.loads(child.stdout)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--per-sender", type=int, default=40)
    parser.add_argument("--clients-per-node", type=int, default=1, help="concurrent gRPC submitters per node")
    parser.add_argument("--timeout-commit", type=int, default=300,
                        help="CometBFT timeout_commit, ms (default 300: what `payable testnet` generates)")
    parser.add_argument("--ipfs", action=argparse.BooleanOptionalAction, default=None,
                        help="a kubo daemon per node, as `payable testnet` runs one when kubo is installed "
                             "(default: when installed)")
    parser.add_argument("--baseline", metavar="REV",
                        help="first measure the code at this git revision the same way (the before column)")
    parser.add_argument("--network-only", action="store_true", help=argparse.SUPPRESS)  # measure_revision's child
    args = parser.parse_args()
    if args.network_only:
        print(json.dumps(measure(args)))
        return
    load = os.getloadavg()[0]
    argv = [f"--validators={args.validators}", f"--senders={args.senders}", f"--per-sender={args.per_sender}",
            f"--clients-per-node={args.clients_per_node}", f"--timeout-commit={args.timeout_commit}",
            *(["--ipfs" if args.ipfs else "--no-ipfs"] if args.ipfs is not None else [])]
    before = measure_revision(args.baseline, argv) if args.baseline else None
    with tempfile.TemporaryDirectory(prefix="payable-testnet-dev-") as tmp:
        dev = runpy.run_path(str(ROOT / "bench" / "runtime.py"))["bench_import"](20_000, 2_000, 3, 2000, Path(tmp))
    result = measure(args)
    result["validators"] = args.validators
    result["timeout_commit_ms"] = args.timeout_commit
    result["dev_node_import_tx_per_s"] = dev["import_tx_per_s"]
    result["ratio_testnet_to_dev_import"] = round(result["finalized_tx_per_s"] / dev["import_tx_per_s"], 3)
    if before is not None:
        result["baseline"] = before
        result["speedup_vs_baseline"] = round(result["finalized_tx_per_s"] / before["finalized_tx_per_s"], 2)
    result["machine"] = f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, " \
                        f"Python {platform.python_version()}, load average before the run {load:.2f}"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Testnet benchmark: finalized transfers per second on 4 CometBFT validators on loopback, block
interval and submit-to-final latency, next to the dev node's in-process import rate (bench/runtime.py's
measurement) on the same machine in the same run, and where each node's time goes.

    python bench/testnet.py [--validators 4] [--senders 200] [--per-sender 40] [--clients-per-node 1]
                            [--timeout-commit 500]

Every transfer goes the way a client's does: gRPC SubmitBatch to one of the nodes, from several
concurrent clients per node (each sender keeps to one client, so its nonces arrive in order); the
node hands it to its CometBFT's mempool (broadcast_tx_sync), CometBFT runs CheckTx on the node's
pool and gossips it; the proposer's PrepareProposal picks it, every validator executes it
(ProcessProposal, reused by FinalizeBlock) and commits. A transfer is final when a committed block
holds it (CometBFT has instant finality). Only transfers that succeeded count (a block may hold a
transfer whose call failed: ExtrinsicFailed), and each destination's balance must show exactly them.
Time breakdown: each node's seconds answering CometBFT by ABCI request, from its metrics; the rest of
the wall time is consensus (waiting for proposals and votes, gossip, timeouts) and the other
processes sharing the cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import runpy
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from node.testnet import Testnet  # noqa: E402
from runtime.codec import ONE_OPEN  # noqa: E402
from runtime.crypto import Keypair, blake2_256  # noqa: E402
from sdk.client import Client  # noqa: E402

STAGES = ("check_tx", "prepare_proposal", "process_proposal", "finalize_block", "commit")
TRANSFER = ONE_OPEN  # above the existential deposit: a transfer that creates its destination succeeds


def abci_seconds(net: Testnet) -> list[dict[str, float]]:
    """Per node: seconds spent answering each ABCI request so far (from its Prometheus metrics)."""
    out = []
    for node in net.nodes:
        text = urllib.request.urlopen(f"http://127.0.0.1:{node.ports['metrics']}/metrics", timeout=5).read().decode()
        found = re.findall(r'payable_abci_seconds_total\{request="(\w+)"\} ([0-9.e+-]+)', text)
        out.append({k: float(v) for k, v in found})
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


def _submit(target: str, per_sender: int, chains: list[list[bytes]], submitted: dict[bytes, float]) -> None:
    """Submit one client's share, noting when each transfer was sent (`submitted`)."""
    with Client(target, timeout=600) as client:
        for n in range(per_sender):  # round-robin over this node's senders: nonce n of each, then n+1
            batch = [chain[n] for chain in chains]
            now = time.perf_counter()
            for raw in batch:
                submitted[blake2_256(raw)] = now
            for result in client.submit_batch(batch):
                if result.error:
                    raise SystemExit(f"submission refused: {result.error}")


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
    before = abci_seconds(net)
    follower = threading.Thread(target=_follow, args=(net.nodes[0].grpc, start_height, wanted, final, failed,
                                                      block_times, done), daemon=True)
    follower.start()
    started = time.perf_counter()
    groups = len(net.nodes) * clients_per_node
    submitters = [threading.Thread(target=_submit, args=(net.nodes[g % len(net.nodes)].grpc, per_sender,
                                                         signed[g::groups], submitted)) for g in range(groups)]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    submitted_s = time.perf_counter() - started
    follower.join(timeout=300)
    done.set()
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
    after = abci_seconds(net)
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
        "abci_share_of_wall": [round(sum(n.values()) / wall, 2) for n in per_node],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--per-sender", type=int, default=40)
    parser.add_argument("--clients-per-node", type=int, default=1, help="concurrent gRPC submitters per node")
    parser.add_argument("--timeout-commit", type=int, default=500, help="CometBFT timeout_commit, ms")
    args = parser.parse_args()
    senders = [Keypair.from_uri(f"//bench-sender-{i}") for i in range(args.senders)]
    with tempfile.TemporaryDirectory(prefix="payable-testnet-bench-") as tmp:
        dev = runpy.run_path(str(ROOT / "bench" / "runtime.py"))["bench_import"](20_000, 2_000, 3, 2000,
                                                                                  Path(tmp) / "dev")
        net = Testnet(Path(tmp) / "net")
        net.generate(args.validators, epoch_length=1000, timeout_commit_ms=args.timeout_commit,
                     log_level="error", endow=tuple(k.address for k in senders))
        try:
            net.up()
            with Client(net.nodes[0].grpc) as client:
                client.wait_ready(60)
                while client.chain_info().best_number < 2:
                    time.sleep(0.2)
            result = run(net, senders, args.per_sender, args.clients_per_node)
        finally:
            net.down()
    result["validators"] = args.validators
    result["timeout_commit_ms"] = args.timeout_commit
    result["dev_node_import_tx_per_s"] = dev["import_tx_per_s"]
    result["ratio_testnet_to_dev_import"] = round(result["finalized_tx_per_s"] / dev["import_tx_per_s"], 3)
    result["machine"] = f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, " \
                        f"Python {platform.python_version()}"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Crash soak: kill -9 a node at random moments under a stream of transfers, and check it after each restart.

Each round starts `payable node` (0.1 s blocks, so kills land on commits often while the chain stays
small enough to re-execute every round) on the same base path, lets client threads send
transfers (recording every one the node reported as finalized, with its block), kills the process
with SIGKILL at a random moment, then re-executes the stored chain from genesis (`check_chain`) and
checks that every reported extrinsic is still in the block the node named. Any partial write, lost
block or root mismatch fails the round.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from node.chaintools import check_chain
from node.node import DB_DIR
from node.ports import free_port
from runtime.chaindb import ChainDB
from runtime.crypto import Keypair, blake2_256
from runtime.storage.backend import RocksBackend
from sdk.client import Client, ClientError

SENDERS = ("//Alice", "//Bob", "//Charlie")


@dataclass
class SoakReport:
    kills: int = 0
    reported_included: int = 0
    blocks: int = 0
    round_seconds: list[float] = field(default_factory=list)


def _send_until_dead(target: str, sender: Keypair, dest: bytes, reported: list, stop: threading.Event) -> None:
    try:
        with Client(target, timeout=10) as client:
            while not stop.is_set():
                raw = client.sign(sender, client.call("token", "transfer_keep_alive", dest=dest, amount=1_000))
                result = client.submit_and_wait(raw)
                reported.append((result.hash, result.block_number))
    except ClientError:
        return  # the node died under us: expected


def run_round(base_path: Path, rng: random.Random, reported: list, log) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "node", "--dev", "--block-time", "0.1",
                             "--base-path", str(base_path), "--grpc-port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        with Client(f"127.0.0.1:{port}") as probe:
            probe.wait_ready(60)
        stop = threading.Event()
        keys = [Keypair.from_uri(u) for u in SENDERS]
        threads = [threading.Thread(target=_send_until_dead,
                                    args=(f"127.0.0.1:{port}", k, keys[(i + 1) % len(keys)].public, reported, stop))
                   for i, k in enumerate(keys)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.05, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def verify_reported(base_path: Path, reported: list[tuple[bytes, int]]) -> int:
    """Re-execute the whole chain and check every reported extrinsic; returns the chain height."""
    report = check_chain(base_path)
    backend = RocksBackend(base_path / DB_DIR)
    try:
        db = ChainDB(backend)
        for tx_hash, number in reported:
            block = db.block(number)
            assert block is not None, f"block #{number}, reported as including {tx_hash.hex()}, was lost"
            assert tx_hash in {blake2_256(x) for x in block.extrinsics}, (
                f"extrinsic {tx_hash.hex()} reported in block #{number} is not there")
    finally:
        backend.close()
    return report.head_number


def soak(base_path: Path, kills: int, seed: int = 0) -> SoakReport:
    rng = random.Random(seed)
    report = SoakReport()
    reported: list[tuple[bytes, int]] = []
    with open(base_path.parent / f"{base_path.name}-soak.log", "ab") as log:
        for _ in range(kills):
            started = time.perf_counter()
            run_round(base_path, rng, reported, log)
            report.blocks = verify_reported(base_path, reported)
            report.kills += 1
            report.round_seconds.append(time.perf_counter() - started)
    report.reported_included = len(reported)
    return report

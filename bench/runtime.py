"""Runtime benchmark: signed transfer_keep_alive per second through block import, with N funded accounts.

Import is the full path a validator runs for a block built elsewhere: decode, ed25519 signature check
(in parallel across cores), apply, state root, and the synced RocksDB commit. Printed side by side, from
the same run: this machine's raw ed25519 verification rate on one core and on all cores (the ceiling
for any chain that checks every signature), and the share of import time spent on the state root.

    python bench/runtime.py                      # 100k and 1M accounts
    python bench/runtime.py --accounts 20000 --blocks 2 --block-size 1000   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from payable.token.v1 import token_pb2
from runtime.chaindb import ChainDB
from runtime.chainspec import ChainSpec
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import BatchVerifier, Keypair, verify
from runtime.executive import Executive
from runtime.extrinsic import sign_extrinsic
from runtime.runtime import Runtime
from runtime.storage.backend import RocksBackend

GENESIS_TS = 1_700_000_000_000


def ed25519_rates(samples: int = 20_000) -> dict:
    key = Keypair.generate()
    items = [(key.public, m, key.sign(m)) for m in (os.urandom(160) for _ in range(samples))]
    start = time.perf_counter()
    assert all(verify(*item) for item in items)
    one_core = samples / (time.perf_counter() - start)
    verifier = BatchVerifier()
    start = time.perf_counter()
    assert all(verifier.verify_all(items))
    all_cores = samples / (time.perf_counter() - start)
    verifier.close()
    return {"one_core_per_s": round(one_core), "all_cores_per_s": round(all_cores), "cores": verifier.threads}


def bench_import(accounts: int, senders: int, blocks: int, block_size: int, workdir: Path) -> dict:
    keys = [Keypair(i.to_bytes(32, "big")) for i in range(1, senders + 1)]
    receivers = [os.urandom(32) for _ in range(accounts - senders)]
    balances = [[k.public, 10**6 * ONE_OPEN] for k in keys] + [[r, ONE_OPEN] for r in receivers]
    spec = ChainSpec.from_dict({"name": "bench", "id": "bench", "pallets": ["token"],
                                "genesis": {"system": {"timestamp_ms": GENESIS_TS}, "token": {"balances": balances}}})
    author_dir, import_dir = workdir / "author", workdir / "import"
    start = time.perf_counter()
    backend = RocksBackend(author_dir)
    Executive.open(spec, backend).close()
    backend.close()
    genesis_s = time.perf_counter() - start
    shutil.copytree(author_dir, import_dir)

    runtime = Runtime(spec)
    start = time.perf_counter()
    author = Executive(runtime, ChainDB(RocksBackend(author_dir)))
    importer = Executive(runtime, ChainDB(RocksBackend(import_dir)))
    reopen_s = (time.perf_counter() - start) / 2
    genesis = author.genesis_hash
    dests = [k.public for k in keys] + receivers

    built = []
    nonces = [0] * senders
    for number in range(blocks):
        txs = []
        for j in range(block_size):
            i = (number * block_size + j) % senders
            dest = dests[(i * 7919 + number * 104729 + j) % len(dests)]
            call = author.runtime.make_call("token", "transfer_keep_alive",
                                            token_pb2.Transfer(dest=dest, amount=encode_u128(ONE_OPEN // 1000)))
            txs.append(sign_extrinsic(keys[i], call, nonce=nonces[i], genesis_hash=genesis))
            nonces[i] += 1
        result = author.author_block(txs, author=keys[0], timestamp_ms=GENESIS_TS + (number + 1) * 6000)
        assert not result.rejected and all(o.ok for o in result.outcomes), result.rejected[:1]
        built.append(result.block.SerializeToString())

    root_time = 0.0
    stage = importer.db.stage_root

    def timed_stage(changes):
        nonlocal root_time
        t0 = time.perf_counter()
        try:
            return stage(changes)
        finally:
            root_time += time.perf_counter() - t0

    importer.db.stage_root = timed_stage
    start = time.perf_counter()
    for raw in built:
        importer.import_block(raw)
    elapsed = time.perf_counter() - start
    assert importer.head == author.head
    importer.try_state() if accounts <= 200_000 else None
    author.close()
    importer.close()
    return {"accounts": accounts, "senders": senders, "blocks": blocks, "block_size": block_size,
            "import_tx_per_s": round(blocks * block_size / elapsed),
            "state_root_share": round(root_time / elapsed, 3),
            "block_import_ms": round(elapsed / blocks * 1000, 1),
            "genesis_build_s": round(genesis_s, 1), "reopen_with_trie_rebuild_s": round(reopen_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--senders", type=int, default=10_000)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--block-size", type=int, default=4000)
    args = parser.parse_args()
    report = {"benchmark": "runtime", "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                                 f"Python {platform.python_version()}",
              "ed25519_verify": ed25519_rates(), "import": [], "target_tx_per_s_at_1M": 10_000}
    for n in args.accounts:
        with tempfile.TemporaryDirectory(prefix="payable-bench-") as tmp:
            report["import"].append(bench_import(n, min(args.senders, n), args.blocks, args.block_size, Path(tmp)))
    for row in report["import"]:
        row["vs_one_core_ed25519"] = round(row["import_tx_per_s"] / report["ed25519_verify"]["one_core_per_s"], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

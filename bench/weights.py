"""Weights benchmark: each call's declared weight next to its measured cost, on this machine.

A call's declared weight must cover what it really costs: compute (`ref_time_ns`) plus its storage
reads and writes priced by the chain's `db_weights`. This runs each token call (and system.remark)
many times on a RocksDB chain, times the dispatch, counts its real reads/writes, and prints declared
vs measured, with `covered` false where a declaration is too low. It also measures the per-extrinsic
base cost (decode, signature, nonce, fee) and the per-key cost of reads and of writes (overlay +
state root + commit), which `base_extrinsic_ns` and `db_weights` must cover.

    python bench/weights.py [--samples 1500]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from payable.system.v1 import system_pb2  # noqa: E402
from payable.token.v1 import token_pb2 as pb  # noqa: E402
from runtime import system  # noqa: E402
from runtime.chainspec import ChainSpec, RuntimeParams  # noqa: E402
from runtime.codec import ONE_OPEN, encode_u128  # noqa: E402
from runtime.crypto import Keypair  # noqa: E402
from runtime.executive import Executive  # noqa: E402
from runtime.extrinsic import inherent_extrinsic, make_call, sign_extrinsic  # noqa: E402
from runtime.storage.backend import RocksBackend  # noqa: E402

GENESIS_TS = 1_700_000_000_000


class Bench:
    def __init__(self, path: Path, signers: int, filler: int):
        self.keys = [Keypair(i.to_bytes(32, "big")) for i in range(1, signers + 1)]
        balances = [[k.public, 10**6 * ONE_OPEN] for k in self.keys]
        balances += [[os.urandom(32), ONE_OPEN] for _ in range(filler)]
        self.spec = ChainSpec.from_dict({"name": "weights", "id": "weights", "pallets": ["token"],
                                         "config": {"token": {"unbonding_period": 1}},
                                         "genesis": {"system": {"timestamp_ms": GENESIS_TS},
                                                     "token": {"balances": balances}}})
        self.backend = RocksBackend(path)
        self.chain = Executive.open(self.spec, self.backend)
        self.nonces = [0] * signers
        self.timestamp = GENESIS_TS
        self.dispatch_ns: list[int] = []
        real = self.chain.runtime.dispatch

        def timed(*args):
            start = time.perf_counter_ns()
            try:
                return real(*args)
            finally:
                self.dispatch_ns.append(time.perf_counter_ns() - start)

        self.chain.runtime.dispatch = timed

    def block(self, make_args, pallet: str = "token", index: int = 0):
        """One block where every signer sends one call.

        Returns (outcomes, apply ns per extrinsic, dispatch ns per extrinsic, finalize+commit ns per changed key).
        """
        txs = []
        for i, key in enumerate(self.keys):
            txs.append(sign_extrinsic(key, make_call(pallet, index, make_args(i)), nonce=self.nonces[i],
                                      genesis_hash=self.chain.genesis_hash))
            self.nonces[i] += 1
        self.timestamp += 6000
        self.dispatch_ns.clear()
        chain = self.chain
        chain.initialize_block(self.keys[0].public)
        chain.apply_extrinsic(inherent_extrinsic(make_call(system.NAME, 0,
                                                           system_pb2.SetTimestamp(now_ms=self.timestamp))))
        self.dispatch_ns.clear()
        outcomes, apply_ns = [], []
        for raw in txs:
            start = time.perf_counter_ns()
            outcomes.append(chain.apply_extrinsic(raw))
            apply_ns.append(time.perf_counter_ns() - start)
        changed_keys = len(chain._pending().ctx.overlay.changes())
        start = time.perf_counter_ns()
        chain.finalize_block()
        chain.commit(chain.seal(self.keys[0]))
        per_key_ns = (time.perf_counter_ns() - start) / changed_keys
        return outcomes, apply_ns, list(self.dispatch_ns), per_key_ns


def percentile(values: list[int], q: float) -> int:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1500, help="signers, i.e. dispatches per call")
    parser.add_argument("--filler", type=int, default=100_000, help="extra funded accounts in the state")
    args = parser.parse_args()
    params = RuntimeParams()
    db = params.db_weights
    with tempfile.TemporaryDirectory(prefix="payable-weights-") as tmp:
        bench = Bench(Path(tmp) / "db", args.samples, args.filler)
        n = len(bench.keys)
        fresh = [os.urandom(32) for _ in range(n)]
        scenarios = [
            ("token", "transfer_keep_alive", 1,
             lambda i: pb.Transfer(dest=bench.keys[(i + 1) % n].public, amount=encode_u128(ONE_OPEN))),
            ("token", "transfer", 0, lambda i: pb.Transfer(dest=fresh[i], amount=encode_u128(ONE_OPEN))),
            ("token", "bond", 2, lambda i: pb.Bond(amount=encode_u128(10 * ONE_OPEN))),
            ("token", "unbond", 3, lambda i: pb.Unbond(amount=encode_u128(4 * ONE_OPEN))),
            ("token", "withdraw_unbonded", 4, lambda i: pb.WithdrawUnbonded()),
            ("system", "remark", 1, lambda i: system_pb2.Remark(data=b"x" * 64)),
        ]
        rows, base_ns, per_key_commit = [], [], []
        for pallet, name, index, make in scenarios:
            definition = bench.chain.runtime.call_by_name(pallet, name)
            outcomes, apply_ns, dispatch_ns, per_key_ns = bench.block(make, pallet, index)
            failed = [o for o in outcomes if not o.ok]
            assert not failed, f"{name}: {type(failed[0].error).__name__}: {failed[0].error.message}"
            w = definition.weight
            declared_total = db.total_ns(w)
            measured = percentile(dispatch_ns, 0.9)
            rows.append({"call": f"{pallet}.{name}", "declared": {"ref_time_ns": w.ref_time_ns, "reads": w.reads,
                                                                   "writes": w.writes, "total_ns": declared_total},
                         "measured": {"dispatch_p50_ns": int(statistics.median(dispatch_ns)),
                                      "dispatch_p90_ns": measured,
                                      "max_reads": max(o.reads for o in outcomes),
                                      "max_writes": max(o.writes for o in outcomes)},
                         "covered": declared_total >= measured and max(o.reads for o in outcomes) <= w.reads
                         and max(o.writes for o in outcomes) <= w.writes})
            base_ns += [a - d for a, d in zip(apply_ns, dispatch_ns, strict=True)]
            per_key_commit.append(per_key_ns)
        base = percentile(base_ns, 0.9)
        bench.chain.close()
        bench.backend.close()
    report = {"benchmark": "weights", "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                                 f"Python {platform.python_version()}",
              "calls": rows,
              "base_extrinsic": {"declared_ns": params.block.base_extrinsic_ns, "measured_p90_ns": base,
                                 "covered": params.block.base_extrinsic_ns >= base},
              "write_commit_per_key": {"declared_write_ns": db.write_ns,
                                       "measured_ns": int(max(per_key_commit)),
                                       "covered": db.write_ns >= max(per_key_commit)}}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

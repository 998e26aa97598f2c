"""Payable flow benchmark: settled paid inferences per second, and where the time goes.

One process holds a dev chain (the real executive, in memory) and one CPU worker, so every phase can
be timed: a block of paid requests, the worker's inference and gradient attribution for each, the
membership proofs it gathers, and the blocks that carry its signed results - whose execution checks
signatures and Merkle proofs and splits the fees. Prints settled inferences per second and the share
of time spent in inference, attribution, gathering proofs (worker side), proof checking on chain (the
result's signature and every Merkle proof), and the rest of block execution.

    python bench/payable_flow.py [--requests 64]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gpu_worker.worker import Worker  # noqa: E402
from payable.attribution.v1 import attribution_pb2 as at  # noqa: E402
from payable.datanet.v1 import datanet_pb2 as dn  # noqa: E402
from payable.inference.v1 import inference_pb2 as inf  # noqa: E402
from payable.modelregistry.v1 import modelregistry_pb2 as mr  # noqa: E402
from payable.worker.v1 import worker_pb2 as wp  # noqa: E402
from runtime.chainspec import ChainSpec, dev_spec  # noqa: E402
from runtime.codec import ONE_OPEN, encode_u128  # noqa: E402
from runtime.crypto import Keypair, blake2_256  # noqa: E402
from runtime.executive import Executive  # noqa: E402
from runtime.extrinsic import make_call, sign_extrinsic  # noqa: E402
from runtime.wire import request_id_bytes  # noqa: E402

# the module (the package re-exports its CallTable under the same name `calls`)
attribution_calls = importlib.import_module("pallets.attribution.calls")

CONTRIBUTORS = ("//Bob", "//Charlie", "//Dave", "//Ferdie")


class Chain:
    def __init__(self, executive: Executive):
        self.ex, self.nonces, self.ts = executive, {}, 1_700_000_000_000
        self.author = Keypair.from_uri("//Alice")

    def tx(self, signer: Keypair, pallet: str, index: int, args) -> bytes:
        nonce = self.nonces.get(signer.public, 0)
        self.nonces[signer.public] = nonce + 1
        return sign_extrinsic(signer, make_call(pallet, index, args), nonce=nonce, genesis_hash=self.ex.genesis_hash)

    def block(self, *raws: bytes):
        self.ts += 6000
        built = self.ex.author_block(list(raws), author=self.author, timestamp_ms=self.ts)
        failed = [o for o in built.outcomes if not o.ok]
        assert not built.rejected and not failed, (built.rejected[:1], failed[:1] and failed[0].error)
        return built

    def query(self, pallet, name, request, response_type):
        return response_type.FromString(self.ex.query(pallet, name, request.SerializeToString()))


def setup(chain: Chain, worker: Worker, x, y) -> None:
    alice = chain.author
    chain.block(chain.tx(alice, "datanet", 0, dn.CreateDataNet(
        name="digits", domain="vision", license="BSD-3-Clause", contribution_deposit=encode_u128(ONE_OPEN),
        accepted_formats=["examples"])))
    shares = np.array_split(np.arange(1000), [100, 350, 700])
    for cid, name in enumerate(CONTRIBUTORS, start=1):
        chain.block(chain.tx(Keypair.from_uri(name), "datanet", 1, dn.Contribute(
            datanet=1, content_hash=blake2_256(name.encode()), size=100, format="examples")))
        chain.block(chain.tx(alice, "datanet", 2, dn.Decide(contribution=cid)))
    chain.block(chain.tx(alice, "datanet", 6, dn.PublishSnapshot(datanet=1)))
    dataset = wp.Dataset(contributions=[wp.Contribution(id=i + 1, contributor=Keypair.from_uri(n).public)
                                        for i, n in enumerate(CONTRIBUTORS)])
    for c, rows in enumerate(shares):
        for i in rows:
            dataset.examples.add(features=x[i].tolist(), label=int(y[i]), contribution=c)
    trained = worker.gradient.train(wp.TrainRequest(dataset=dataset, seed=7, model_config_json=(
        '{"family": "mlp", "inputs": 64, "hidden": [32], "classes": 10}')))
    index = list(worker.gradient.build_index(wp.BuildIndexRequest(model_hash=trained.model_hash,
                                                         dataset_hash=trained.dataset_hash)))[-1]
    chain.block(chain.tx(alice, "modelregistry", 0, mr.RegisterBaseModel(
        artifact_hash=trained.model_hash, architecture="mlp", license="MIT")))
    chain.block(chain.tx(alice, "modelregistry", 1, mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=trained.dataset_hash,
        artifact_hash=trained.model_hash, attribution_index_hash=index.index_hash,
        price_per_inference=encode_u128(ONE_OPEN // 2),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500))))
    chain.block(chain.tx(worker.key, "inference", 0, inf.RegisterWorker(
        endpoint="in-process", models=[1], device="cpu", bond=encode_u128(100 * ONE_OPEN))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target
    doc = dev_spec().to_dict()
    doc["config"]["inference"] = {"deadline_blocks": "1000"}
    chain = Chain(Executive.open(ChainSpec.from_dict(doc)))
    with tempfile.TemporaryDirectory(prefix="payable-flow-") as tmp:
        worker = Worker(tmp, Keypair.from_uri("//Eve"))
        setup(chain, worker, x, y)
        user = Keypair.from_uri("//Alice")
        timing = {"inference": 0.0, "attribution": 0.0, "proof_gathering": 0.0, "proof_checking_on_chain": 0.0,
                  "block_execution": 0.0}
        real_infer = worker.gradient.infer
        real_merkle, real_signature = attribution_calls.verify_membership, attribution_calls.verify

        def timed_infer(*a, **kw):
            t0 = time.perf_counter()
            try:
                return real_infer(*a, **kw)
            finally:
                timing["inference"] += time.perf_counter() - t0

        def checking(real):
            def timed(*a, **kw):
                t0 = time.perf_counter()
                try:
                    return real(*a, **kw)
                finally:
                    timing["proof_checking_on_chain"] += time.perf_counter() - t0
            return timed

        worker.gradient.infer = timed_infer
        attribution_calls.verify_membership = checking(real_merkle)  # Merkle membership proofs
        attribution_calls.verify = checking(real_signature)            # the result's ed25519 signature
        queries = [x[1000 + i % 700].astype("<f4") for i in range(args.requests)]
        started = time.perf_counter()
        t0 = time.perf_counter()
        built = chain.block(*(chain.tx(user, "inference", 2, inf.RequestInference(
            model=1, input=q.tobytes(), max_fee=encode_u128(ONE_OPEN))) for q in queries))
        timing["block_execution"] += time.perf_counter() - t0
        first = chain.query("inference", "get_request", inf.RequestRef(request=1), inf.Request).id
        model = chain.query("modelregistry", "get_model", mr.ModelRequest(model=1), mr.Model)
        results = []
        for i, q in enumerate(queries):
            request_id = first + i
            t0 = time.perf_counter()
            inferred_before = timing["inference"]
            signed = worker.gradient.attribute(wp.AttributeRequest(model_hash=model.artifact_hash,
                                                          index_hash=model.attribution_index_hash, input=q.tolist(),
                                                          label=-1, top_k=10, request_id=request_id_bytes(request_id)))
            timing["attribution"] += time.perf_counter() - t0 - (timing["inference"] - inferred_before)
            t0 = time.perf_counter()
            credits = wp.AttributionResult.FromString(signed.result).top_k
            proofs = [at.ContributionProof(datanet=1, version=1, proof=chain.query(
                "datanet", "get_membership", dn.ProofRequest(datanet=1, version=1, contribution=c.contribution_id),
                dn.MembershipProof)) for c in credits]
            timing["proof_gathering"] += time.perf_counter() - t0
            results.append(chain.tx(worker.key, "attribution", 0, at.SubmitResult(
                request=request_id, signed_attribution=signed.SerializeToString(), proofs=proofs)))
        t0 = time.perf_counter()
        chain.block(*results)
        timing["block_execution"] += time.perf_counter() - t0
        elapsed = time.perf_counter() - started
        settled = sum(1 for i in range(args.requests) if chain.query(
            "inference", "get_request", inf.RequestRef(request=first + i), inf.Request).status == inf.SETTLED)
        timing["block_execution"] -= timing["proof_checking_on_chain"]
        total = sum(timing.values())
        chain.ex.try_state()
    print(json.dumps({"benchmark": "payable_flow", "requests": args.requests, "settled": settled,
                      "request_blocks_extrinsics": len(built.block.extrinsics),
                      "settled_per_s": round(settled / elapsed, 1), "seconds": round(elapsed, 3),
                      "time_share": {k: round(v / total, 3) for k, v in timing.items()},
                      "seconds_by_phase": {k: round(v, 4) for k, v in timing.items()}}, indent=2))


if __name__ == "__main__":
    main()

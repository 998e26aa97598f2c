"""`payable demo`: the Payable AI story on a real dev node and a real worker, driven as clients would.

1. Four contributors each upload their share of scikit-learn's bundled digits to the node's content
   store and contribute it to a DataNet; the curator approves them and publishes snapshot 1.
2. The model builder downloads the snapshot's data from the content store (hash-checked), has the
   worker train a classifier on it and build its gradient-attribution index, uploads the model
   artifact, and registers the model (artifact hash, index hash, price, reward split) on chain.
3. The worker bonds OPEN and registers for the model; it follows the chain by itself.
4. A user pays for a batch of inferences; the worker answers each with a signed attribution result
   that the chain checks and settles, splitting every fee exactly.
5. A table: contributor, contributions, influence share, OPEN earned; model owner, protocol and worker
   totals; a check that payouts equal fees; the chain's state root. Everything started is stopped.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc

from .client import Client, ClientError
from .codec import decode_u128, format_open
from .crypto import Keypair
from .ports import free_port

CONTRIBUTORS = ("//Bob", "//Charlie", "//Dave", "//Ferdie")
REQUESTS, PRICE = 8, "0.5"


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runtime.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def run() -> int:
    with tempfile.TemporaryDirectory(prefix="payable-demo-") as base:
        base = Path(base)
        node_port, worker_port = free_port(), free_port()
        node = _start(["node", "--dev", "--base-path", str(base / "node"), "--grpc-port", str(node_port),
                       "--block-time", "0.5"], base / "node.log")
        worker = _start(["worker", "--data-dir", str(base / "worker"), "--grpc-port", str(worker_port), "--key",
                         "//Eve", "--node", f"127.0.0.1:{node_port}"], base / "worker.log")
        try:
            with Client(f"127.0.0.1:{node_port}") as client:
                client.wait_ready(60)
                return _story(client, f"127.0.0.1:{worker_port}")
        except (ClientError, AssertionError) as exc:
            print(f"demo failed: {exc}\nnode log: {base / 'node.log'}\nworker log: {base / 'worker.log'}",
                  file=sys.stderr)
            return 1
        finally:
            _stop(worker)
            _stop(node)


def _story(client: Client, worker_target: str) -> int:
    import grpc
    import numpy as np
    from sklearn.datasets import load_digits

    alice, eve, user = Keypair.from_uri("//Alice"), Keypair.from_uri("//Eve"), Keypair.from_uri("//Demo-User")
    print(f"dev node up (genesis {client.genesis_hash.hex()[:16]}…); worker //Eve follows it\n")
    client.submit_call(alice, "token", "transfer_keep_alive", dest=user.public, amount="100")
    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target
    client.submit_call(alice, "datanet", "create_datanet", name="handwritten-digits", domain="vision",
                       license="BSD-3-Clause", contribution_deposit="1", accepted_formats=["examples"])
    print("1. contributors upload their data and contribute it to DataNet 1")
    shares = np.array_split(np.arange(1000), [100, 350, 700])  # unequal shares: influence should follow data
    for cid, (name, rows) in enumerate(zip(CONTRIBUTORS, shares, strict=True), start=1):
        blob = wp.Dataset(examples=[wp.Example(features=x[i].tolist(), label=int(y[i])) for i in rows])
        info = client.upload(blob.SerializeToString(deterministic=True))
        client.submit_call(Keypair.from_uri(name), "datanet", "contribute", datanet=1, content_hash=info.hash,
                           size=info.size, format="examples")
        client.submit_call(alice, "datanet", "approve", contribution=cid)
        print(f"   {name:<9} {len(rows):>4} examples  blob {info.hash.hex()[:16]}…  contribution {cid} approved")
    client.submit_call(alice, "datanet", "publish_snapshot", datanet=1)
    snapshot = client.pallet_query("datanet", "get_snapshot", dn.SnapshotRequest(datanet=1), dn.SnapshotWithProofs)
    print(f"   snapshot 1: {snapshot.snapshot.count} contributions, root {snapshot.snapshot.root.hex()[:16]}…")

    print("2. the model builder trains on the snapshot through the worker and registers the model")
    dataset = wp.Dataset()
    for proof in snapshot.proofs:
        part = wp.Dataset.FromString(client.download(proof.leaf.content_hash))  # hash-checked download
        index = len(dataset.contributions)
        dataset.contributions.add(id=proof.leaf.contribution_id, contributor=proof.leaf.contributor)
        for example in part.examples:
            dataset.examples.add(features=example.features, label=example.label, contribution=index)
    channel = grpc.insecure_channel(worker_target, options=[("grpc.max_receive_message_length", 64 << 20),
                                                            ("grpc.max_send_message_length", 64 << 20)])
    grpc.channel_ready_future(channel).result(timeout=60)
    builder = worker_pb2_grpc.WorkerStub(channel)
    trained = builder.Train(wp.TrainRequest(dataset=dataset, seed=7, model_config_json=(
        '{"family": "mlp", "inputs": 64, "hidden": [32], "classes": 10}')), timeout=300)
    built = list(builder.BuildIndex(wp.BuildIndexRequest(model_hash=trained.model_hash,
                                                         dataset_hash=trained.dataset_hash), timeout=600))[-1]
    print(f"   trained: accuracy {trained.train_accuracy:.3f}; index {built.index_hash.hex()[:16]}… "
          f"({built.index_bytes / 1e6:.1f} MB)")
    client.submit_call(alice, "modelregistry", "register_base_model", artifact_hash=trained.model_hash,
                       architecture="mlp-64-32-10", license="Apache-2.0")
    client.submit_call(alice, "modelregistry", "register_model", base_model=1,
                       snapshots=[{"datanet": 1, "version": 1}], training_config_hash=trained.dataset_hash,
                       artifact_hash=trained.model_hash, attribution_index_hash=built.index_hash,
                       attribution_method="gradient", price_per_inference=PRICE,
                       split={"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500})
    client.submit_call(eve, "inference", "register_worker", endpoint=worker_target, models=[1], device="cpu",
                       bond="100")
    print("   model 1 registered; worker //Eve bonded 100 OPEN and serves it")

    print(f"3. a user pays for {REQUESTS} inferences; the worker answers each with a signed attribution")
    for i in range(REQUESTS):
        query = x[1000 + i].astype("<f4")
        client.submit_call(user, "inference", "request_inference", model=1, input=query.tobytes(), max_fee=PRICE)
    settlements = []
    deadline = time.time() + 180
    while len(settlements) < REQUESTS and time.time() < deadline:
        try:
            settlements.append(client.pallet_query("attribution", "get_settlement",
                                                   at.SettlementRequest(request=len(settlements) + 1), at.Settlement))
        except ClientError:
            time.sleep(0.3)
    assert len(settlements) == REQUESTS, f"only {len(settlements)} of {REQUESTS} requests settled"
    return _table(client, settlements)


def _table(client: Client, settlements) -> int:
    fees = sum(decode_u128(s.fee) for s in settlements)
    paid, by_role, by_account = 0, {}, {}
    for settlement in settlements:
        for p in settlement.payments:
            amount = decode_u128(p.amount)
            paid += amount
            key = p.role.split(" ")[0]
            by_role[key] = by_role.get(key, 0) + amount
            if key == "contributor":
                by_account[p.account] = by_account.get(p.account, 0) + amount
    print(f"\n{'contributor':<10} {'contributions':>13} {'influence share':>16} {'OPEN earned':>14}")
    pool = by_role.get("contributor", 0)
    for name in CONTRIBUTORS:
        who = Keypair.from_uri(name).public
        earned = by_account.get(who, 0)
        print(f"{name:<10} {1:>13} {earned / pool if pool else 0:>15.1%} {format_open(earned):>14}")
    for role in ("model_owner", "protocol", "worker"):
        print(f"{role:<10} {'':>13} {'':>16} {format_open(by_role.get(role, 0)):>14}")
    info = client.chain_info()
    root = client.header().header.state_root
    print(f"\nfees {format_open(fees)} OPEN = payouts {format_open(paid)} OPEN: {'OK' if fees == paid else 'MISMATCH'}")
    print(f"chain head #{info.best_number}, state root {root.hex()}")
    return 0 if fees == paid else 1

"""`payable demo`: the Payable AI story on a real dev node and a real worker, driven as clients would.

1. Four contributors each upload their share of scikit-learn's bundled digits to the node's content
   store and contribute it to DataNet 1; the curator approves them and publishes snapshot 1. The
   model builder downloads the snapshot's data from the content store (hash-checked), has the worker
   train a classifier and build its gradient-attribution index, and registers model 1.
2. The same four contribute text that ships with Python (module sources) to DataNet 2; the worker
   trains a tiny language model and a suffix-array span index on the snapshot; model 2 is registered.
3. The worker bonds OPEN and registers for both models; it follows the chain by itself.
4. A user pays for classifications and text generations; the worker answers each with a signed
   attribution result (gradient or span) that the chain checks and settles, splitting every fee exactly.
5. Per model, a table: contributor, contributions, influence share, OPEN earned; model owner, protocol
   and worker totals; then a check that payouts equal fees and the chain's state root.
6. ModelFactory (`demo_modelfactory`): a base pretrained on Python's docs, registered from its Hugging
   Face directory; a DataNet of Q&A rows; a LoRA adapter fine-tuned on it, exported, published with
   provenance, and verified by re-running the recorded job. Everything started is stopped.
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
from runtime.client import Client, ClientError
from runtime.codec import decode_u128, format_open
from runtime.crypto import Keypair
from runtime.grpcserver import MESSAGE_OPTIONS
from runtime.ports import free_port

CONTRIBUTORS = ("//Bob", "//Charlie", "//Dave", "//Ferdie")
PRICE = "0.5"


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli", *args], stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def register(sub) -> None:
    sub.add_parser("demo", help="the Payable AI story: DataNet, training, paid inferences, attributed payouts"
                   ).set_defaults(func=lambda args: run())


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

    alice, eve, user = Keypair.from_uri("//Alice"), Keypair.from_uri("//Eve"), Keypair.from_uri("//Demo-User")
    print(f"dev node up (genesis {client.genesis_hash.hex()[:16]}…); worker //Eve follows it\n")
    client.submit_call(alice, "token", "transfer_keep_alive", dest=user.public, amount="100")
    channel = grpc.insecure_channel(worker_target, options=MESSAGE_OPTIONS)
    grpc.channel_ready_future(channel).result(timeout=60)
    builder = worker_pb2_grpc.WorkerStub(channel)
    queries = _digits_model(client, builder, alice)
    prompts = _text_model(client, builder, alice)
    client.submit_call(eve, "inference", "register_worker", endpoint=worker_target, models=[1, 2], device="cpu",
                       bond="100")
    print("3. worker //Eve bonds 100 OPEN and serves both models")
    print(f"4. a user pays for {len(queries)} classifications and {len(prompts)} text generations; the worker "
          f"answers each with a signed attribution")
    for query in queries:
        client.submit_call(user, "inference", "request_inference", model=1, input=query, max_fee=PRICE)
    for prompt in prompts:
        client.submit_call(user, "inference", "request_inference", model=2, input=prompt, max_fee=PRICE)
    total = len(queries) + len(prompts)
    settlements = []
    deadline = time.time() + 240
    while len(settlements) < total and time.time() < deadline:
        try:
            settlements.append(client.pallet_query("attribution", "get_settlement",
                                                   at.SettlementRequest(request=len(settlements) + 1), at.Settlement))
        except ClientError:
            time.sleep(0.3)
    assert len(settlements) == total, f"only {len(settlements)} of {total} requests settled"
    paid_out = _table(client, settlements)
    from .demo_modelfactory import chapter

    return paid_out | chapter(client, channel, "6")


def _snapshot_dataset(client: Client, datanet: int):
    """The snapshot's contributions, each downloaded from the content store (hash-checked), with provenance."""
    snapshot = client.pallet_query("datanet", "get_snapshot", dn.SnapshotRequest(datanet=datanet),
                                   dn.SnapshotWithProofs)
    return snapshot, [(proof.leaf, client.download(proof.leaf.content_hash)) for proof in snapshot.proofs]


def _contribute(client: Client, alice: Keypair, datanet: int, blobs: list[tuple[str, bytes, str]], first_id: int):
    for cid, (name, blob, what) in enumerate(blobs, start=first_id):
        info = client.upload(blob)
        client.submit_call(Keypair.from_uri(name), "datanet", "contribute", datanet=datanet, content_hash=info.hash,
                           size=info.size, format="examples" if datanet == 1 else "text")
        client.submit_call(alice, "datanet", "approve", contribution=cid)
        print(f"   {name:<9} {what:<26} blob {info.hash.hex()[:16]}…  contribution {cid} approved")
    client.submit_call(alice, "datanet", "publish_snapshot", datanet=datanet)


def _register(client: Client, alice: Keypair, base: int, datanet: int, artifact: bytes, index: bytes, method: str,
              training: bytes, architecture: str) -> None:
    client.submit_call(alice, "modelregistry", "register_base_model", artifact_hash=artifact,
                       architecture=architecture, license="Apache-2.0")
    client.submit_call(alice, "modelregistry", "register_model", base_model=base,
                       snapshots=[{"datanet": datanet, "version": 1}], training_config_hash=training,
                       artifact_hash=artifact, attribution_index_hash=index, attribution_method=method,
                       price_per_inference=PRICE,
                       split={"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500})


def _digits_model(client: Client, builder, alice: Keypair) -> list[bytes]:
    """DataNet 1 (digits) → snapshot → worker-trained classifier with a gradient index → model 1."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target
    client.submit_call(alice, "datanet", "create_datanet", name="handwritten-digits", domain="vision",
                       license="BSD-3-Clause", contribution_deposit="1", accepted_formats=["examples"])
    print("1. contributors upload digits to the content store and contribute them to DataNet 1")
    shares = np.array_split(np.arange(1000), [100, 350, 700])  # unequal shares: influence should follow data
    blobs = [(name, wp.Dataset(examples=[wp.Example(features=x[i].tolist(), label=int(y[i])) for i in rows]
                                ).SerializeToString(deterministic=True), f"{len(rows)} examples")
             for name, rows in zip(CONTRIBUTORS, shares, strict=True)]
    _contribute(client, alice, 1, blobs, 1)
    from gpu_worker.snapshots import snapshot_dataset

    snapshot, dataset = snapshot_dataset(client, 1)
    trained = builder.Train(wp.TrainRequest(dataset=dataset, seed=7, model_config_json=(
        '{"family": "mlp", "inputs": 64, "hidden": [32], "classes": 10}')), timeout=300)
    built = list(builder.BuildIndex(wp.BuildIndexRequest(model_hash=trained.model_hash,
                                                         dataset_hash=trained.dataset_hash), timeout=600))[-1]
    _register(client, alice, 1, 1, trained.model_hash, built.index_hash, "gradient", trained.dataset_hash,
              "mlp-64-32-10")
    print(f"   snapshot root {snapshot.root.hex()[:16]}…; classifier trained (accuracy "
          f"{trained.train_accuracy:.3f}), gradient index built, model 1 registered")
    return [x[1000 + i].astype("<f4").tobytes() for i in range(6)]


def _text_model(client: Client, builder, alice: Keypair) -> list[bytes]:
    """DataNet 2 (text that ships with Python) → snapshot → worker-trained tiny LM with a span index → model 2."""
    import colorsys
    import inspect
    import string
    import textwrap

    sources = [(name, inspect.getsource(module)) for name, module in
               zip(CONTRIBUTORS, (colorsys, textwrap, string, colorsys), strict=True)]
    sources[3] = (CONTRIBUTORS[3], inspect.getsource(textwrap)[:3000])  # a smaller, overlapping contribution
    client.submit_call(alice, "datanet", "create_datanet", name="python-sources", domain="code", license="PSF-2.0",
                       contribution_deposit="1", accepted_formats=["text"])
    print("2. contributors contribute text that ships with Python to DataNet 2")
    blobs = [(name, text.encode(), f"{len(text)} characters") for name, text in sources]
    _contribute(client, alice, 2, blobs, 5)
    _, parts = _snapshot_dataset(client, 2)
    dataset = wp.TextDataset()
    for index, (leaf, blob) in enumerate(parts):
        dataset.contributions.add(id=leaf.contribution_id, contributor=leaf.contributor)
        for _ in range(6):  # several passes of each text: the tiny LM memorises, which span attribution traces
            dataset.documents.add(text=blob.decode(), contribution=index)
    trained = builder.TrainLanguageModel(wp.TrainLanguageModelRequest(dataset=dataset, vocab_size=1000, steps=800,
                                                                      seed=3), timeout=600)
    built = list(builder.BuildSpanIndex(wp.SpanIndexRequest(model_hash=trained.model_hash,
                                                            dataset_hash=trained.dataset_hash), timeout=600))[-1]
    _register(client, alice, 2, 2, trained.model_hash, built.index_hash, "span", trained.dataset_hash, "tiny-lm")
    print("   tiny language model trained, suffix-array index built, model 2 registered")
    colors, wrap = sources[0][1], sources[1][1]
    return [colors[colors.index("def rgb_to_hls"):][:60].encode(), wrap[wrap.index("def wrap("):][:60].encode(),
            colors[colors.index("def hls_to_rgb"):][:60].encode(), wrap[wrap.index("def fill("):][:60].encode()]


def _table(client: Client, settlements) -> int:
    fees = sum(decode_u128(s.fee) for s in settlements)
    paid, ok = 0, True
    for model, title in ((1, "model 1 (digits classifier, gradient attribution)"),
                         (2, "model 2 (tiny LM, span attribution)")):
        mine = [s for s in settlements if s.model == model]
        by_role, by_account = {}, {}
        for settlement in mine:
            for p in settlement.payments:
                amount = decode_u128(p.amount)
                paid += amount
                key = p.role.split(" ")[0]
                by_role[key] = by_role.get(key, 0) + amount
                if key == "contributor":
                    by_account[p.account] = by_account.get(p.account, 0) + amount
        print(f"\n{title}: {len(mine)} paid inferences")
        print(f"{'contributor':<10} {'contributions':>13} {'influence share':>16} {'OPEN earned':>14}")
        pool = by_role.get("contributor", 0)
        for name in CONTRIBUTORS:
            earned = by_account.get(Keypair.from_uri(name).public, 0)
            print(f"{name:<10} {1:>13} {earned / pool if pool else 0:>15.1%} {format_open(earned):>14}")
        for role in ("model_owner", "protocol", "worker"):
            print(f"{role:<10} {'':>13} {'':>16} {format_open(by_role.get(role, 0)):>14}")
        ok &= pool > 0
    root = client.header().header.state_root
    ok &= fees == paid
    print(f"\nfees {format_open(fees)} OPEN = payouts {format_open(paid)} OPEN: {'OK' if fees == paid else 'MISMATCH'}")
    print(f"chain head #{client.chain_info().best_number}, state root {root.hex()}")
    return 0 if ok else 1

"""The worker on chain: it follows a real node, answers its assigned requests, survives a node restart, and
refuses (signed, BUSY) a paid request past its capacity instead of being slashed for silence."""

import threading
import time

import numpy as np
import pytest

pytest.importorskip("torch", reason="the worker extra is part of `make test`'s install")

from gpu_worker.datasets import Snapshot, dataset_to_proto
from gpu_worker.follower import Follower
from gpu_worker.worker import Worker
from payable.attribution.v1 import attribution_pb2 as at
from payable.worker.v1 import worker_pb2 as wp
from runtime.codec import ONE_OPEN, decode_u128
from runtime.crypto import Keypair, blake2_256
from sdk.client import ClientError

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

pytestmark = pytest.mark.e2e

EVE = Keypair.from_uri("//Eve")


def _settlement(client, request_id, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return client.pallet_query("attribution", "get_settlement", at.SettlementRequest(request=request_id),
                                       at.Settlement)
        except ClientError:
            time.sleep(0.2)
    raise AssertionError(f"request {request_id} was not settled within {timeout}s")


def _tail_paid(client, request_id, timeout=60):
    """Wait until the request's tail is paid out (the chain holds none for it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            client.pallet_query("attribution", "get_tail", at.SettlementRequest(request=request_id), at.Tail)
            time.sleep(0.2)
        except ClientError as exc:
            assert str(exc).startswith("NOT_FOUND"), exc
            return
    raise AssertionError(f"request {request_id}'s tail was not paid within {timeout}s")


def _register_model_and_worker(client, owner, worker_key, model_hash, index_hash, price):
    """Model 1 on snapshot 1 of DataNet 1 (70/20/5/5 split), and a bonded worker serving it."""
    client.submit_call(owner, "modelregistry", "register_base_model", artifact_hash=b"\x01" * 32,
                       architecture="mlp", license="MIT")
    client.submit_call(owner, "modelregistry", "register_model", base_model=1,
                       snapshots=[{"datanet": 1, "version": 1}], training_config_hash=b"\x02" * 32,
                       artifact_hash=model_hash, attribution_index_hash=index_hash, price_per_inference=price,
                       split={"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500})
    client.submit_call(worker_key, "inference", "register_worker", endpoint="127.0.0.1:0", models=[1], device="cpu",
                       bond="100")


def _digits_chain(start_node, tmp_path, contributions=3):
    """A dev node with DataNet 1 (Bob's, Charlie's and Dave's digits in `contributions` contributions, theirs
    in turn; snapshot 1), the worker's MLP registered as model 1 at 2 OPEN an inference, and Eve bonded serving
    it: (worker, node, digits, contributor uris)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.data[:300] / 16.0).astype(np.float32), digits.target[:300]
    names = ("//Bob", "//Charlie", "//Dave")
    worker = Worker(tmp_path / "worker", EVE)
    trained = worker.gradient.train(wp.TrainRequest(
        dataset=dataset_to_proto(Snapshot(x, y, np.arange(300) % contributions, list(range(1, contributions + 1)),
                                          [Keypair.from_uri(names[i % 3]).public for i in range(contributions)])),
        model_config_json='{"family":"mlp","inputs":64,"classes":10,"hidden":[16]}', seed=2))
    index = list(worker.gradient.build_index(wp.BuildIndexRequest(model_hash=trained.model_hash,
                                                         dataset_hash=trained.dataset_hash, ensemble=1)))[-1]
    node = start_node("chain", "--dev", "--instant-seal")
    alice = Keypair.from_uri("//Alice")
    with node.client() as client:
        client.submit_call(alice, "datanet", "create_datanet", name="digits", domain="vision", license="CC0-1.0",
                           contribution_deposit="1", accepted_formats=["npy"])
        for i in range(contributions):
            client.submit_call(Keypair.from_uri(names[i % 3]), "datanet", "contribute", datanet=1,
                               content_hash=blake2_256(bytes([i])), size=10, format="npy")
            client.submit_call(alice, "datanet", "approve", contribution=i + 1)
        client.submit_call(alice, "datanet", "publish_snapshot", datanet=1)
        _register_model_and_worker(client, alice, EVE, trained.model_hash, index.index_hash, price="2")
    return worker, node, digits, names


def test_the_worker_answers_assigned_requests_and_survives_a_node_restart(start_node, tmp_path):
    worker, node, digits, names = _digits_chain(start_node, tmp_path)
    dave = Keypair.from_uri("//Dave")
    follower = Follower(worker, node.target, EVE, top_k=1)  # lists 1 of the 3 credited: the others in its tail
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    try:
        query = (digits.data[1200] / 16.0).astype("<f4")
        with node.client() as client:
            client.submit_call(dave, "inference", "request_inference", model=1, input=query.tobytes(), max_fee="2")
            settled = _settlement(client, 1)
            assert sum(decode_u128(p.amount) for p in settled.payments) == 2 * ONE_OPEN
            assert EVE.public in [p.account for p in settled.payments if p.role == "worker"]
            set_aside = sum(decode_u128(p.amount) for p in settled.payments if p.role == "tail")
            assert set_aside > 0
            _tail_paid(client, 1)  # the follower paid the tail's page
            earned = {n: decode_u128(client.pallet_query("attribution", "get_earnings", at.EarningsRequest(
                contributor=Keypair.from_uri(n).public), at.Earnings).total) for n in names}
            assert all(earned.values())  # every credited contribution paid: one listed, two from the tail
            listed = sum(decode_u128(p.amount) for p in settled.payments if p.role == "contributor")
            assert 0 <= listed + set_aside - sum(earned.values()) <= 2  # the tail's rounding went to the owner

        assert node.stop() == 0  # the node goes away and comes back (same base path and address)
        node = start_node("chain", "--dev", "--instant-seal", port=node.port)
        with node.client() as client:
            client.submit_call(dave, "inference", "request_inference", model=1, input=query.tobytes(), max_fee="2")
            _settlement(client, 2)
        assert follower.answered == [1, 2]  # each request answered once, across the restart
    finally:
        follower.stop()
        thread.join(timeout=30)


class _StopsBeforePaying(Follower):
    """A follower whose process ends right after its result settled, before it paid the result's tail."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tails.tick = lambda client, block: None


def test_a_tail_handed_in_before_a_worker_restart_is_paid_by_the_restarted_worker(start_node, tmp_path):
    """The tail is kept on disk with the result: the worker that comes back pays it - here 39 contributions,
    two pages, one after the other - and forgets it then."""
    worker, node, digits, names = _digits_chain(start_node, tmp_path, contributions=40)
    first = _StopsBeforePaying(worker, node.target, EVE, top_k=1)
    thread = threading.Thread(target=first.run, daemon=True)
    thread.start()
    try:
        with node.client() as client:
            client.submit_call(Keypair.from_uri("//Dave"), "inference", "request_inference", model=1,
                               input=(digits.data[1200] / 16.0).astype("<f4").tobytes(), max_fee="2")
            settled = _settlement(client, 1)
            tail = client.pallet_query("attribution", "get_tail", at.SettlementRequest(request=1), at.Tail)
            assert tail.left > 32 and decode_u128(tail.paid) == 0  # more than a page
    finally:
        first.stop()
        thread.join(timeout=30)
    assert [p.name for p in (worker.store.root / "tails").rglob("*.bin")] == ["1.bin"]  # under the chain's genesis
    again = Follower(worker, node.target, EVE, top_k=1)
    thread = threading.Thread(target=again.run, daemon=True)
    thread.start()
    try:
        with node.client() as client:
            _tail_paid(client, 1)
            earned = [decode_u128(client.pallet_query("attribution", "get_earnings", at.EarningsRequest(
                contributor=Keypair.from_uri(n).public), at.Earnings).total) for n in names]
            set_aside = sum(decode_u128(p.amount) for p in settled.payments if p.role == "tail")
            listed = sum(decode_u128(p.amount) for p in settled.payments if p.role == "contributor")
            assert all(earned) and 0 <= listed + set_aside - sum(earned) <= tail.left  # rounding: to the owner
        deadline = time.time() + 30
        while any((worker.store.root / "tails").rglob("*.bin")) and time.time() < deadline:
            time.sleep(0.2)
        assert not any((worker.store.root / "tails").rglob("*.bin"))  # paid out: forgotten
    finally:
        again.stop()
        thread.join(timeout=30)


def test_a_fresh_worker_fetches_the_model_and_rebuilds_its_index_from_the_snapshot(start_node, tmp_path):
    from sklearn.datasets import load_digits

    from gpu_worker.snapshots import snapshot_dataset

    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target
    node = start_node("fresh", "--dev", "--instant-seal")
    alice, ferdie, dave = (Keypair.from_uri(u) for u in ("//Alice", "//Ferdie", "//Dave"))
    with node.client() as client:
        client.submit_call(alice, "datanet", "create_datanet", name="digits", domain="vision", license="CC0-1.0",
                           contribution_deposit="1", accepted_formats=["examples"])
        for i, name in enumerate(("//Bob", "//Charlie", "//Dave")):
            rows = range(100 * i, 100 * i + 100)
            blob = wp.Dataset(examples=[wp.Example(features=x[r].tolist(), label=int(y[r])) for r in rows])
            info = client.upload(blob.SerializeToString(deterministic=True), uploader=UPLOADER)
            client.submit_call(Keypair.from_uri(name), "datanet", "contribute", datanet=1, content_hash=info.hash,
                               size=info.size, format="examples")
            client.submit_call(alice, "datanet", "approve", contribution=i + 1)
        client.submit_call(alice, "datanet", "publish_snapshot", datanet=1)
        builder = Worker(tmp_path / "builder", alice)  # the model builder's own worker
        _, dataset = snapshot_dataset(client, 1)
        trained = builder.gradient.train(wp.TrainRequest(dataset=dataset, seed=5, model_config_json=(
            '{"family":"mlp","inputs":64,"classes":10,"hidden":[16]}')))
        index = list(builder.gradient.build_index(wp.BuildIndexRequest(model_hash=trained.model_hash,
                                                              dataset_hash=trained.dataset_hash)))[-1]
        _, _, artifact = builder.store.model(trained.model_hash)
        stored = client.upload(artifact.SerializeToString(deterministic=True), uploader=UPLOADER)
        assert stored.hash == trained.model_hash
        _register_model_and_worker(client, alice, ferdie, trained.model_hash, index.index_hash, price="1")
    fresh = Worker(tmp_path / "fresh", ferdie)  # knows nothing: no model, no data, no index
    follower = Follower(fresh, node.target, ferdie)
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    try:
        with node.client() as client:
            client.submit_call(dave, "inference", "request_inference", model=1,
                               input=x[1500].astype("<f4").tobytes(), max_fee="1")
            settled = _settlement(client, 1)
        assert sum(decode_u128(p.amount) for p in settled.payments) == ONE_OPEN
        assert fresh.store.model(trained.model_hash)  # downloaded, and checked against the registered hash
        assert fresh.gradient.index(index.index_hash).hash == index.index_hash  # rebuilt to the very same index
    finally:
        follower.stop()
        thread.join(timeout=30)


def test_a_paid_request_over_the_workers_capacity_is_refused_busy_at_once_and_nobody_is_slashed(start_node,
                                                                                                 tmp_path):
    """A follower running as many paid generations as it has threads refuses one more at once - a signed BUSY
    refusal, not a queue past the deadline that the chain would slash as silence: the request closes REFUSED
    long before its deadline, the requester gets the whole escrow back and the worker keeps its bond."""
    from payable.inference.v1 import inference_pb2 as inf
    from payable.system.v1 import system_pb2

    node = start_node("busy", "--dev", "--instant-seal")
    alice, dave = Keypair.from_uri("//Alice"), Keypair.from_uri("//Dave")
    with node.client() as client:
        client.submit_call(alice, "datanet", "create_datanet", name="rows", domain="text", license="CC0-1.0",
                           contribution_deposit="1", accepted_formats=["jsonl"])
        client.submit_call(Keypair.from_uri("//Bob"), "datanet", "contribute", datanet=1,
                           content_hash=blake2_256(b"row"), size=3, format="jsonl")
        client.submit_call(alice, "datanet", "approve", contribution=1)
        client.submit_call(alice, "datanet", "publish_snapshot", datanet=1)
        client.submit_call(alice, "modelregistry", "register_base_model", artifact_hash=b"\x01" * 32,
                           architecture="llama", license="MIT", context_length=512)
        made = client.submit_call(alice, "modelregistry", "register_model", base_model=1, format="PEFT_LORA",
                                  snapshots=[{"datanet": 1, "version": 1}], training_config_hash=b"\x02" * 32,
                                  artifact_hash=b"\x03" * 32, attribution_index_hash=b"\x04" * 32,
                                  attribution_method="SPAN", price_per_inference="2",
                                  split={"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500})
        assert made.success, made.error
        client.submit_call(EVE, "inference", "register_worker", endpoint="127.0.0.1:0", models=[1], device="cpu",
                           bond="100")
        bond = client.pallet_query("inference", "get_worker", inf.WorkerRef(worker=EVE.public), inf.Worker).bond
    follower = Follower(Worker(tmp_path / "worker", EVE), node.target, EVE, paid_threads=1)
    assert follower._admit_paid() and not follower._admit_paid()  # its one slot is taken: at capacity
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    try:
        with node.client() as client:
            before = client.account(dave.public)
            paid = client.submit_call(dave, "inference", "request_inference", model=1, input=b"hello",
                                      max_new_tokens=8, max_fee="2")
            assert paid.success, paid.error
            settled = _settlement(client, 1)
            request = client.pallet_query("inference", "get_request", inf.RequestRef(request=1), inf.Request)
            assert request.status == inf.REFUSED and request.refused == inf.BUSY
            assert settled.refused == inf.BUSY and settled.limit == 1 and not settled.slashed_workers
            assert decode_u128(settled.fee) == 0 and decode_u128(settled.refund) == 2 * ONE_OPEN
            assert settled.settled_at < request.deadline  # at once, not at the deadline
            assert client.pallet_query("inference", "get_worker", inf.WorkerRef(worker=EVE.public),
                                       inf.Worker).bond == bond
            fee = decode_u128(client.emitted(paid.block_number, paid.extrinsic_index, "ExtrinsicSuccess",
                                             system_pb2.ExtrinsicSuccess).fee)
            after = client.account(dave.public)  # the escrow came back whole: only the transaction's fee is gone
            assert decode_u128(after.reserved) == decode_u128(before.reserved)
            assert decode_u128(before.free) - decode_u128(after.free) == fee > 0
        assert follower.answered == [1]
    finally:
        follower.stop()
        thread.join(timeout=30)

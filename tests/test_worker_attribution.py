"""The influence engine and index: exactness, credit to the right contributor, reproducibility, integrity."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the worker extra (torch) is part of `make test`'s install")

from gpu_worker.artifacts import Store  # noqa: E402
from gpu_worker.configs import ModelConfig  # noqa: E402
from gpu_worker.datasets import Snapshot, dataset_to_proto  # noqa: E402
from gpu_worker.errors import ArtifactError  # noqa: E402
from gpu_worker.gradient.index import AttributionIndex, IndexBuilder, IndexParams  # noqa: E402
from gpu_worker.gradient.models import artifact_from_state  # noqa: E402
from gpu_worker.gradient.training import TrainConfig, load_model, train  # noqa: E402
from gpu_worker.results import PPB, verify_signed  # noqa: E402
from gpu_worker.worker import Worker  # noqa: E402
from payable.attribution.v1 import attribution_pb2 as at  # noqa: E402
from payable.worker.v1 import worker_pb2 as pb  # noqa: E402
from runtime.crypto import Keypair  # noqa: E402

torch.set_num_threads(1)
LOGREG = ModelConfig("logreg", 4, 3)


def _blobs(n: int = 60, seed: int = 0) -> Snapshot:
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    labels = rng.integers(0, 3, n)
    features = (centers[labels] + rng.normal(0, 1.0, (n, 4))).astype(np.float32)
    return Snapshot(features, labels, np.arange(n) % 6, list(range(6)), [bytes([i + 1]) * 32 for i in range(6)])


def _test_loss(state, x, y) -> float:
    model = load_model(LOGREG, state)
    with torch.no_grad():
        logits = model(torch.as_tensor(x[None], dtype=torch.float64))
        return float(torch.nn.functional.cross_entropy(logits, torch.tensor([y])))


def _index(tmp_path, data: Snapshot, config: ModelConfig, params: IndexParams, seed: int = 0):
    store = Store(tmp_path / "store")
    trained = train(config, data, TrainConfig(seed=seed, weight_decay=params.weight_decay))
    model_hash = store.put_model(artifact_from_state(config, trained.state))
    dataset_hash = store.put_dataset(dataset_to_proto(data))
    index_hash = IndexBuilder(store, model_hash, dataset_hash, params).build()
    return store, trained, AttributionIndex(store, index_hash)


def _weighted_fit(data: Snapshot, weights: np.ndarray, wd: float) -> dict:
    """Independent oracle: minimise (1/n)Σ wᵢ·CEᵢ + wd/2‖θ‖² for logistic regression with L-BFGS."""
    x = torch.as_tensor(data.features, dtype=torch.float64)
    y = torch.as_tensor(data.labels)
    w = torch.as_tensor(weights, dtype=torch.float64)
    weight = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=1000, tolerance_grad=1e-13,
                                  tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        ce = torch.nn.functional.cross_entropy(x @ weight.T + bias, y, reduction="none")
        loss = (w * ce).mean() + 0.5 * wd * ((weight ** 2).sum() + (bias ** 2).sum())
        loss.backward()
        return loss

    optimizer.step(closure)
    return {"0.weight": weight.detach(), "0.bias": bias.detach()}


def test_exact_influence_matches_brute_force_reweighting_and_leave_one_out(tmp_path):
    """The index's 'if' scores equal the brute-force derivative of the test loss with respect to removing
    each example (by retraining with its weight lowered by ε), and track real leave-one-out retraining."""
    data = _blobs()
    wd, eps, n = 0.1, 1e-4, len(data.labels)
    _, trained, index = _index(tmp_path, data, LOGREG, IndexParams(method="if", ensemble=1, damping=0.0,
                                                                    weight_decay=wd))
    x, y = np.array([1.0, 1.0, 0.2, 0.0], dtype=np.float32), 0
    predicted = index.example_scores(x, y)
    base = _test_loss(_weighted_fit(data, np.ones(n), wd), x, y)
    derivative, loo = [], []
    for i in range(n):
        weights = np.ones(n)
        weights[i] = 1 - eps
        derivative.append((_test_loss(_weighted_fit(data, weights, wd), x, y) - base) / eps * n)
        weights[i] = 0.0
        loo.append((_test_loss(_weighted_fit(data, weights, wd), x, y) - base) * n)
    derivative = np.array(derivative)
    scale = np.abs(derivative).max()
    assert np.abs(predicted - derivative).max() < 0.01 * scale  # float16 index storage is the only gap
    assert np.corrcoef(predicted, loo)[0, 1] > 0.98
    assert _test_loss(trained.state, x, y) == pytest.approx(base, rel=1e-6)  # the worker trained the same optimum


def test_a_contributor_who_alone_covers_a_region_tops_matching_queries(tmp_path):
    data = _blobs(90)
    special = np.array([[0.0, 0.0, 0.0, 3.0]], dtype=np.float32)  # a region only contributor 5 covers, with 30
    spread = np.random.default_rng(11).normal(scale=0.3, size=(30, 4)).astype(np.float32)  # distinct examples
    features = np.concatenate([data.features, special + spread])
    labels = np.concatenate([data.labels, np.full(30, 2)])
    contribution = np.concatenate([data.contribution % 5, np.full(30, 5)])
    dup = Snapshot(features, labels, contribution, data.contribution_ids, data.contributors)
    store, _, index = _index(tmp_path, dup, ModelConfig("mlp", 4, 3, (8,)), IndexParams(ensemble=2))
    worker = Worker(tmp_path / "store", Keypair.from_uri("//Worker"))
    signed = worker.gradient.attribute(pb.AttributeRequest(model_hash=index.model_hash, index_hash=index.hash,
                                                  input=[0.0, 0.0, 0.0, 3.0], label=-1, top_k=16))
    result = verify_signed(signed)
    assert result.top_k[0].contributor == dup.contributors[5]
    assert result.top_k[0].score_ppb > PPB // 2
    assert sum(s.score_ppb for s in result.top_k) <= PPB
    assert [s.score_ppb for s in result.top_k] == sorted((s.score_ppb for s in result.top_k), reverse=True)


def test_a_tampered_index_is_refused(tmp_path):
    store, _, index = _index(tmp_path, _blobs(), LOGREG, IndexParams(ensemble=1))
    features = index.root / "features.f16"
    raw = bytearray(features.read_bytes())
    raw[7] ^= 0x01
    features.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="tampered"):
        AttributionIndex(store, index.hash)
    manifest = index.root / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["params"]["damping"] = 0.5
    manifest.write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match="tampered"):
        AttributionIndex(store, index.hash)


def test_an_artifact_whose_bytes_do_not_match_the_registered_hash_is_refused(tmp_path):
    store = Store(tmp_path)
    trained = train(LOGREG, _blobs(), TrainConfig())
    artifact = artifact_from_state(LOGREG, trained.state)
    good = store.put_model(artifact)
    with pytest.raises(ArtifactError, match="refused"):
        store.put_model(artifact, expected=b"\x00" * 32)
    (tmp_path / "models" / f"{good.hex()}.bin").write_bytes(b"corrupt")
    with pytest.raises(ArtifactError, match="corrupted"):
        store.model(good)


@pytest.mark.slow
def test_an_interrupted_build_resumes_to_the_same_index(tmp_path):
    data = _blobs(700)
    config = ModelConfig("mlp", 4, 3, (8,))
    params = IndexParams(ensemble=2)
    store = Store(tmp_path / "store")
    trained = train(config, data, TrainConfig(weight_decay=params.weight_decay))
    model_hash = store.put_model(artifact_from_state(config, trained.state))
    dataset_hash = store.put_dataset(dataset_to_proto(data))

    class Stop(Exception):
        pass

    def stop_after_first_chunk(phase, done, total):
        seen.append(done)
        if len(seen) == 2:
            raise Stop

    seen: list[int] = []
    with pytest.raises(Stop):
        IndexBuilder(store, model_hash, dataset_hash, params).build(stop_after_first_chunk)
    resumed_progress: list[int] = []
    resumed = IndexBuilder(store, model_hash, dataset_hash, params).build(lambda p, d, t: resumed_progress.append(d))
    assert resumed_progress[0] > seen[0]  # it did not start over
    fresh = IndexBuilder(Store(tmp_path / "fresh"), *_copy(store, tmp_path / "fresh", model_hash, dataset_hash),
                         params).build()
    assert resumed == fresh


def _copy(store: Store, root, model_hash: bytes, dataset_hash: bytes):
    other = Store(root)
    _, _, artifact = store.model(model_hash)
    other.put_model(artifact)
    from payable.worker.v1.worker_pb2 import Dataset

    other.put_dataset(Dataset.FromString((store.root / "datasets" / f"{dataset_hash.hex()}.bin").read_bytes()))
    return model_hash, dataset_hash


SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from gpu_worker.worker import Worker
    from payable.worker.v1 import worker_pb2 as pb
    from runtime.crypto import Keypair
    model, index = bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
    worker = Worker(sys.argv[1], Keypair.from_uri("//Worker"))
    signed = worker.gradient.attribute(pb.AttributeRequest(model_hash=model, index_hash=index,
                                                           input=[1.5, 0.5, 0.1, 0.0], label=-1, top_k=6,
                                                           request_id=b"r1"))
    sys.stdout.write(signed.SerializeToString(deterministic=True).hex())
""")


@pytest.mark.e2e
def test_results_are_byte_identical_across_processes(tmp_path):
    _, _, index = _index(tmp_path, _blobs(200), ModelConfig("mlp", 4, 3, (8,)), IndexParams(ensemble=2))
    outputs = []
    for seed in ("1", "999"):
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "store"), index.model_hash.hex(),
                               index.hash.hex()], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] and len(outputs[0]) > 200
    result = verify_signed(at.SignedAttribution.FromString(bytes.fromhex(outputs[0])))
    assert result.request_id == b"r1" and result.index_hash == index.hash


def test_an_index_larger_than_the_memory_budget_is_streamed_with_the_same_scores(tmp_path, monkeypatch):
    _, _, index = _index(tmp_path, _blobs(300), ModelConfig("mlp", 4, 3, (8,)), IndexParams(ensemble=2))
    x = np.array([0.5, 1.5, 0.0, 0.2], dtype=np.float32)
    in_memory = index.example_scores(x, 1)
    index._dense = None
    monkeypatch.setattr(AttributionIndex, "_member_features", lambda self, m, budget=0: None)
    streamed = index.example_scores(x, 1)
    np.testing.assert_allclose(streamed, in_memory, rtol=1e-5, atol=1e-9)

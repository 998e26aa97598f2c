"""The worker process end to end over gRPC: train, build an index with progress, infer, attribute, status."""


import grpc
import numpy as np
import pytest

pytest.importorskip("torch", reason="the worker extra (torch) is part of `make test`'s install")

from grpc_health.v1 import health_pb2, health_pb2_grpc

from gpu_worker.datasets import Snapshot, dataset_to_proto
from gpu_worker.results import PPB, verify_signed
from payable.worker.v1 import worker_pb2 as pb
from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import Keypair

pytestmark = pytest.mark.e2e


@pytest.fixture
def worker(worker_channel):
    """One stub per service (Gradient, Span, WorkerInfo) and the channel."""
    return (worker_pb2_grpc.GradientStub(worker_channel), worker_pb2_grpc.SpanStub(worker_channel),
            worker_pb2_grpc.WorkerInfoStub(worker_channel), worker_channel)


def _dataset() -> pb.Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data[:400] / 16.0).astype(np.float32)
    contributors = [Keypair.from_uri(f"//Contributor{i}").public for i in range(8)]
    return dataset_to_proto(Snapshot(x, digits.target[:400], np.arange(400) % 8, list(range(1, 9)), contributors))


def test_worker_serves_training_indexing_inference_and_signed_attribution(worker):
    stub, _, worker_info, channel = worker
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    trained = stub.Train(pb.TrainRequest(dataset=_dataset(), model_config_json=(
        '{"family": "mlp", "inputs": 64, "classes": 10, "hidden": [16]}'), seed=3), timeout=120)
    assert trained.train_accuracy > 0.9
    progress = list(stub.BuildIndex(pb.BuildIndexRequest(model_hash=trained.model_hash,
                                                         dataset_hash=trained.dataset_hash, ensemble=2), timeout=300))
    assert progress[-1].phase == "done" and len(progress[-1].index_hash) == 32
    assert any(p.phase == "features" and p.examples_per_s > 0 for p in progress)
    from sklearn.datasets import load_digits

    query = (load_digits().data[1500] / 16.0).astype(np.float32).tolist()
    inferred = stub.Infer(pb.InferRequest(model_hash=trained.model_hash, input=query), timeout=30)
    assert len(inferred.logits) == 10 and inferred.label == int(np.argmax(inferred.logits))
    signed = stub.Attribute(pb.AttributeRequest(model_hash=trained.model_hash, index_hash=progress[-1].index_hash,
                                                input=query, label=-1, top_k=4, request_id=b"req-7"), timeout=30)
    result = verify_signed(signed)
    assert result.worker == Keypair.from_uri("//Worker").public
    assert result.output_hash == inferred.output_hash and result.request_id == b"req-7"
    assert 0 < len(result.top_k) <= 4 and sum(s.score_ppb for s in result.top_k) <= PPB
    for bad, reason in (({"input": [float("nan")] + query[1:]}, "NaN"), ({"top_k": 1000}, "top_k")):
        with pytest.raises(grpc.RpcError) as info:
            stub.Attribute(pb.AttributeRequest(**{"model_hash": trained.model_hash, "input": query, "label": -1,
                                                  "index_hash": progress[-1].index_hash, **bad}), timeout=30)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and reason in info.value.details()
    status = worker_info.Status(pb.StatusRequest(), timeout=10)
    assert status.device == "cpu" and trained.model_hash in list(status.models)
    assert status.indexes[0].examples == 400


def test_worker_rejects_bad_requests_with_reasons(worker):
    stub, _, _, _ = worker
    with pytest.raises(grpc.RpcError) as info:
        stub.Train(pb.TrainRequest(dataset=_dataset(), model_config_json='{"family": "transformer"}'), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        stub.Infer(pb.InferRequest(model_hash=b"\x01" * 32, input=[0.0] * 64), timeout=30)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        stub.LoadModel(pb.LoadModelRequest(artifact=pb.ModelArtifact(config_json="{}"), expected_hash=b"\x02" * 32),
                       timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "refused" in info.value.details()


def test_worker_serves_span_attribution_over_grpc(worker):
    import inspect
    import json as json_module

    _, stub, _, _ = worker
    text = inspect.getsource(json_module)
    dataset = pb.TextDataset(documents=[pb.TextDocument(text=text, contribution=0)] * 3,
                             contributions=[pb.Contribution(id=5, contributor=Keypair.from_uri("//Writer").public)])
    trained = stub.TrainLanguageModel(pb.TrainLanguageModelRequest(dataset=dataset, vocab_size=500, steps=150),
                                      timeout=300)
    index = list(stub.BuildSpanIndex(pb.SpanIndexRequest(model_hash=trained.model_hash,
                                                         dataset_hash=trained.dataset_hash), timeout=300))[-1]
    generated = stub.Generate(pb.GenerateRequest(model_hash=trained.model_hash, prompt=text[:40], max_tokens=30),
                              timeout=60)
    assert len(generated.tokens) == 30 and generated.text
    signed = stub.AttributeSpans(pb.SpanAttributeRequest(model_hash=trained.model_hash, index_hash=index.index_hash,
                                                         tokens=generated.tokens, min_length=4), timeout=60)
    result = verify_signed(signed)
    assert result.method == "span" and result.index_hash == index.index_hash
    assert all(s.contribution_id == 5 for s in result.top_k)
    with pytest.raises(grpc.RpcError) as info:
        stub.AttributeSpans(pb.SpanAttributeRequest(model_hash=trained.model_hash, index_hash=b"\x09" * 32,
                                                    tokens=[1, 2, 3]), timeout=30)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    for tokens, reason in (([1, 70_000, 2], "vocabulary"), ([], "no output")):
        with pytest.raises(grpc.RpcError) as info:
            stub.AttributeSpans(pb.SpanAttributeRequest(model_hash=trained.model_hash, index_hash=index.index_hash,
                                                        tokens=tokens), timeout=30)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and reason in info.value.details()

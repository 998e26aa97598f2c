"""Span attribution through the worker: a memorised contributor is credited first; results reproduce."""

import inspect

import numpy as np
import pytest

pytest.importorskip("tokenizers", reason="part of the worker extra that `make test` installs")

from gpu_worker.results import PPB, verify_signed
from gpu_worker.worker import Worker
from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import Keypair, blake2_256

pytestmark = pytest.mark.slow


def _dataset() -> tuple[pb.TextDataset, str]:
    import colorsys
    import csv
    import textwrap

    memorised = inspect.getsource(colorsys)  # contributor 2's text, contributed many times over
    texts = [(inspect.getsource(csv), 0), (inspect.getsource(textwrap)[:6000], 1)] + [(memorised, 2)] * 8
    contributors = [Keypair.from_uri(f"//Writer{i}").public for i in range(3)]
    dataset = pb.TextDataset(documents=[pb.TextDocument(text=t, contribution=c) for t, c in texts],
                             contributions=[pb.Contribution(id=10 + i, contributor=who)
                                            for i, who in enumerate(contributors)])
    return dataset, memorised


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    worker = Worker(tmp_path_factory.mktemp("span-worker"), Keypair.from_uri("//Worker"))
    dataset, memorised = _dataset()
    response = worker.span.train(pb.TrainLanguageModelRequest(dataset=dataset, vocab_size=800,
                                                                        steps=500, seed=1))
    index_hash = list(worker.span.build_index(pb.SpanIndexRequest(model_hash=response.model_hash,
                                                                  dataset_hash=response.dataset_hash)))[-1].index_hash
    return worker, response, index_hash, memorised


def test_the_memorised_contributor_is_credited_first(trained):
    worker, response, index_hash, memorised = trained
    prompt = memorised[memorised.index("def rgb_to_hls"):][:80]
    generated = worker.span.generate(pb.GenerateRequest(model_hash=response.model_hash, prompt=prompt, max_tokens=60))
    signed = worker.span.attribute(pb.SpanAttributeRequest(
        model_hash=response.model_hash, index_hash=index_hash, tokens=generated.tokens, top_k=3, request_id=b"q1",
        input_hash=blake2_256(prompt.encode())))
    result = verify_signed(signed)
    assert result.method == "span" and result.top_k, "the model reproduced no span of its training text"
    assert result.top_k[0].contribution_id == 12
    assert result.top_k[0].contributor == Keypair.from_uri("//Writer2").public
    assert sum(s.score_ppb for s in result.top_k) <= PPB
    assert all(span.contribution_ids and span.length >= 8 for span in result.spans)  # every span names its source
    longest = max(result.spans, key=lambda s: s.length)
    assert 12 in longest.contribution_ids and longest.start + longest.length <= len(generated.tokens)


def test_results_reproduce_and_a_tampered_index_is_refused(trained, tmp_path):
    worker, response, index_hash, memorised = trained
    tokens = worker.span.generate(pb.GenerateRequest(model_hash=response.model_hash, prompt=memorised[:60],
                                                max_tokens=40)).tokens
    request = pb.SpanAttributeRequest(model_hash=response.model_hash, index_hash=index_hash, tokens=tokens, top_k=3)
    again = Worker(worker.store.root, Keypair.from_uri("//Worker"))  # a fresh process-level state
    assert worker.span.attribute(request).SerializeToString() == again.span.attribute(request).SerializeToString()
    sa = next((worker.store.root / "span-indexes" / index_hash.hex()).glob("shard-0.sa"))
    raw = bytearray(sa.read_bytes())
    raw[3] ^= 1
    sa.write_bytes(bytes(raw))
    from gpu_worker.errors import ArtifactError

    with pytest.raises(ArtifactError, match="tampered"):
        Worker(worker.store.root, Keypair.from_uri("//Worker")).span.attribute(request)
    raw[3] ^= 1
    sa.write_bytes(bytes(raw))


def test_the_language_model_runs_in_onnx_runtime_like_torch(trained):
    import onnxruntime as ort
    import torch

    from gpu_worker.span.lm import load_lm

    worker, response, _, _ = trained
    config, state, artifact = worker.store.model(response.model_hash)
    tokens = np.array([[5, 17, 42, 8, 99, 3, 250]], dtype=np.int64)
    session = ort.InferenceSession(artifact.onnx, providers=["CPUExecutionProvider"])
    onnx_logits = session.run(["logits"], {"tokens": tokens})[0]
    with torch.no_grad():
        torch_logits = load_lm(config, state)(torch.as_tensor(tokens)).numpy()
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)


@pytest.mark.e2e
def test_span_results_are_byte_identical_across_processes(trained):
    import os
    import subprocess
    import sys
    import textwrap

    worker, response, index_hash, memorised = trained
    tokens = list(worker.span.generate(pb.GenerateRequest(model_hash=response.model_hash, prompt=memorised[:70],
                                                     max_tokens=50)).tokens)
    script = textwrap.dedent("""
        import sys
        from gpu_worker.worker import Worker
        from payable.worker.v1 import worker_pb2 as pb
        from runtime.crypto import Keypair
        worker = Worker(sys.argv[1], Keypair.from_uri("//Worker"))
        request = pb.SpanAttributeRequest(model_hash=bytes.fromhex(sys.argv[2]), index_hash=bytes.fromhex(sys.argv[3]),
                                          tokens=[int(t) for t in sys.argv[4].split(",")], top_k=5, request_id=b"x")
        sys.stdout.write(worker.span.attribute(request).SerializeToString(deterministic=True).hex())
    """)
    outputs = []
    for seed in ("3", "77"):
        done = subprocess.run([sys.executable, "-c", script, str(worker.store.root), response.model_hash.hex(),
                               index_hash.hex(), ",".join(map(str, tokens))], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] and outputs[0]
    request = pb.SpanAttributeRequest(model_hash=response.model_hash, index_hash=index_hash, tokens=tokens, top_k=5,
                                      request_id=b"x")
    assert worker.span.attribute(request).SerializeToString(deterministic=True).hex() == outputs[0]

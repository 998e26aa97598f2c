"""From example scores to a signed, reproducible attribution result.

Example scores are summed per contribution; only positive influence earns credit. A contribution's
score is its share of the total positive influence, in integer parts per billion (floor), so the
shares of the top-k never sum above 10⁹ and the chain checks them with integers alone.

Reproducibility: the same query on the same kind of device gives the same bytes (fixed threads,
deterministic kernels, float64 accumulation). Across device kinds (CPU vs CUDA) float sums may differ
in the last bits, which can move a ppb share by ±1 or, rarely, swap two near-equal contributions;
that is why replicated results are compared within a tolerance rather than byte for byte.
"""

from __future__ import annotations

import json

import numpy as np

from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import Keypair, blake2_256, verify

PPB = 1_000_000_000


def contribution_scores(example_scores: np.ndarray, example_contribution: np.ndarray, count: int) -> np.ndarray:
    return np.bincount(example_contribution, weights=example_scores, minlength=count)


def top_k_shares(scores: np.ndarray, k: int) -> list[tuple[int, int]]:
    """[(contribution index, share in ppb)] for the k largest positive scores, ties by lower index."""
    positive = np.where(scores > 0, scores, 0.0)
    total = positive.sum()
    if total <= 0:
        return []
    order = sorted(range(len(scores)), key=lambda i: (-positive[i], i))[:k]
    return [(i, int(positive[i] / total * PPB)) for i in order if positive[i] > 0]


def input_hash(x: np.ndarray) -> bytes:
    return blake2_256(np.ascontiguousarray(x, dtype="<f4").tobytes())


def output_hash(logits: np.ndarray, label: int) -> bytes:
    return blake2_256(np.ascontiguousarray(logits, dtype="<f4").tobytes() + int(label).to_bytes(8, "big", signed=True))


def build_result(*, model_hash: bytes, index_hash: bytes, input_hash: bytes, output_hash: bytes, method: str,
                 params: dict, shares: list[tuple[int, int]], contributions: list[tuple[int, bytes]],
                 worker: Keypair, request_id: bytes = b"", spans=()) -> pb.SignedAttribution:
    """The signed result; `contributions[i]` is (contribution id, contributor) of share index i."""
    result = pb.AttributionResult(
        model_hash=model_hash, index_hash=index_hash, input_hash=input_hash, output_hash=output_hash, method=method,
        params_json=json.dumps(params, sort_keys=True), worker=worker.public, request_id=request_id, spans=spans,
        top_k=[pb.ContributionScore(contribution_id=contributions[i][0], contributor=contributions[i][1],
                                    score_ppb=s) for i, s in shares])
    body = result.SerializeToString(deterministic=True)
    return pb.SignedAttribution(result=body, signature=worker.sign(body))


def verify_signed(signed: pb.SignedAttribution) -> pb.AttributionResult:
    """The result, if its signature is the worker's over exactly these bytes; else ValueError."""
    result = pb.AttributionResult.FromString(signed.result)
    if not verify(result.worker, signed.result, signed.signature):
        raise ValueError("attribution result: the signature does not match the worker key and bytes")
    if sum(s.score_ppb for s in result.top_k) > PPB:
        raise ValueError("attribution result: shares sum above one")
    return result

"""From per-unit credit to a signed, reproducible attribution result.

The payout rule is additive over examples, so it cannot care how the same examples are grouped into
contributions or accounts (README: "Who gets paid"):
1. Credit is clipped at the unit - a training example, or a document for span attribution - never
   after summing a contribution: only positive influence is paid, unit by unit.
2. Each contribution holding at least a billionth of the positive credit (less would round to no ppb at
   all) is paid its exact share: its units' credit over all units', so a small contributor is paid in
   every query its examples help, in proportion - not by lottery - and what a set of units earns is the
   sum of what each unit earns: grouping them moves at most the rounding. The chain bounds what one
   result lists (`listed`: the request's `top_k`, 16 by default, its `max_credited`); the largest
   shares are listed, with their proofs, and the rest form the result's tail - committed to by a root
   (`sdk.wire.tail_root`, over the tail ordered by contribution id) and paid after settlement a page at a
   time (`attribution.pay_tail`), each at its exact share as well. A tail share is its fraction of the
   budget rounded down; the listed shares take the rest, largest remainder. Nothing is drawn at random: no input
   variation or block can move what anyone is paid.
3. `paid_fraction` scales the whole pool (span attribution pays contributors only the share of the
   output that credited spans reproduce); what it leaves, and what rounds away, goes to the model owner.
Shares are integer parts per billion of the pool, summing exactly to paid_fraction·10⁹ (largest
remainder), so the chain checks and splits them with integers alone.

Reproducibility: the same query on the same kind of device gives the same bytes (fixed threads,
deterministic kernels, float64 accumulation). Across device kinds (CPU vs CUDA) float sums may differ
in the last bits, which can move an exact share by a few ppb, swap two near-equal contributions in the
list, or leave out on one device a contribution holding about a billionth of the credit; that is why the
chain compares replicated results by contribution, within a tolerance (a contribution one result lists and
another does not counts as 0 there), rather than byte for byte. A tail's root commits to its exact shares,
so two device kinds' tails differ; the chain pays the one most replicas hold (`calls._tail_to_pay`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from payable.attribution.v1 import attribution_pb2 as at
from runtime.apportion import largest_remainder
from runtime.crypto import Keypair, blake2_256, verify
from sdk.wire import tail_root

PPB = 1_000_000_000


MAX_LISTED = 16  # the chain's bound on the contributions a result lists (attribution.max_credited)
EXACT_SCALE = 2**52  # exact shares as integer weights: each contribution's fraction of the credit, float64-precise


@dataclass(frozen=True)
class Shares:
    """[(contribution index, share in ppb)]: the listed ones largest first (ties: lower index), the tail's in
    no particular order (`build_result` orders them by contribution id)."""
    listed: list[tuple[int, int]]
    tail: list[tuple[int, int]]


def credit_shares(unit_credit: np.ndarray, unit_contribution: np.ndarray, listed: int,
                  paid_fraction: float = 1.0) -> Shares:
    """Every credited contribution's exact share by the rule above: the `listed` largest in the result, the
    rest in its tail."""
    if not 1 <= listed <= MAX_LISTED:
        raise ValueError(f"top_k (the most contributions a result lists) must be within 1..{MAX_LISTED}, "
                         f"got {listed}")
    positive = np.where(np.isfinite(unit_credit) & (unit_credit > 0), unit_credit, 0.0).astype(np.float64)
    total = positive.sum()
    if total <= 0 or paid_fraction <= 0:
        return Shares([], [])
    held = np.bincount(np.asarray(unit_contribution, dtype=np.int64), weights=positive)
    credited = np.flatnonzero(held >= total / PPB)  # at least a ppb of the credit: less would round to nothing
    order = credited[np.lexsort((credited, -held[credited]))]  # largest first, ties by lower index
    budget = int(round(min(1.0, paid_fraction) * PPB))
    tail = [(int(c), int(budget * (held[c] / total))) for c in order[listed:]]
    tail = [(c, ppb) for c, ppb in tail if ppb]
    weights = [int(round(held[c] / total * EXACT_SCALE)) for c in order[:listed]]
    if not any(weights):
        return Shares([], tail)
    shares = largest_remainder(budget - sum(ppb for _, ppb in tail), weights)
    return Shares([(int(c), ppb) for c, ppb in zip(order[:listed], shares, strict=True) if ppb], tail)


def input_hash(x: np.ndarray) -> bytes:
    return blake2_256(np.ascontiguousarray(x, dtype="<f4").tobytes())


def output_hash(logits: np.ndarray, label: int) -> bytes:
    return blake2_256(np.ascontiguousarray(logits, dtype="<f4").tobytes() + int(label).to_bytes(8, "big", signed=True))


def build_result(*, model_hash: bytes, index_hash: bytes, input_hash: bytes, output_hash: bytes, method: str,
                 params: dict, shares: Shares, contributions: list[tuple[int, bytes]],
                 worker: Keypair, request_id: bytes = b"", spans=(), tokens: tuple[int, int] = (0, 0),
                 label: int | None = None, draw_seed: bytes = b"") -> at.SignedAttribution:
    """The signed result, its tail beside it (ordered by contribution id); `contributions[i]` is
    (contribution id, contributor) of share index i; `tokens` is (input, output) token counts, what a
    token-priced request is charged for; `label` a classifier's answer; `draw_seed` the paid request's block
    hash, which the chain checks the result names."""
    tail = sorted((at.ContributionScore(contribution_id=contributions[i][0], contributor=contributions[i][1],
                                        score_ppb=s) for i, s in shares.tail), key=lambda leaf: leaf.contribution_id)
    result = at.AttributionResult(
        model_hash=model_hash, index_hash=index_hash, input_hash=input_hash, output_hash=output_hash, method=method,
        params_json=json.dumps(params, sort_keys=True), worker=worker.public, request_id=request_id, spans=spans,
        input_tokens=tokens[0], output_tokens=tokens[1], draw_seed=draw_seed,
        top_k=[at.ContributionScore(contribution_id=contributions[i][0], contributor=contributions[i][1],
                                    score_ppb=s) for i, s in shares.listed], label=label,
        tail_root=tail_root(tail), tail_ppb=sum(leaf.score_ppb for leaf in tail), tail_contributions=len(tail))
    body = result.SerializeToString(deterministic=True)
    return at.SignedAttribution(result=body, signature=worker.sign(body), tail=tail)


def verify_signed(signed: at.SignedAttribution) -> at.AttributionResult:
    """The result, if its signature is the worker's over exactly these bytes; else ValueError."""
    result = at.AttributionResult.FromString(signed.result)
    if not verify(result.worker, signed.result, signed.signature):
        raise ValueError("attribution result: the signature does not match the worker key and bytes")
    if sum(s.score_ppb for s in result.top_k) + result.tail_ppb > PPB:
        raise ValueError("attribution result: shares sum above one")
    if signed.tail and tail_root(signed.tail) != result.tail_root:
        raise ValueError("attribution result: the tail handed out is not the one the result commits to")
    return result

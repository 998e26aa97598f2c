"""From per-unit credit to a signed, reproducible attribution result.

The payout rule is additive over examples, so it cannot care how the same examples are grouped into
contributions or accounts (README: "Who gets paid"):
1. Credit is clipped at the unit - a training example, or a document for span attribution - never
   after summing a contribution: only positive influence is paid, unit by unit.
2. The contributors' pool is split over at most `draws` credited contributions (the request's `top_k`; 16
   by default, the chain's bound). When no more than that many contributions hold at least a billionth of
   the positive credit (less would round to no ppb at all), each of them is paid its exact share: its
   units' credit over all units' (a small contributor is paid in every query its examples help, in
   proportion, not by lottery; what a set of units earns is the sum of what each unit earns, so grouping
   them moves at most the rounding). When more do, the pool is paid in `draws` equal parts placed by
   systematic sampling over the units' cumulative positive credit - units laid out by credit, largest
   first, so neither their order nor their grouping moves them - from an offset derived from the
   request's draw seed: a unit holding a fraction f of the credit gets ⌊draws·f⌋ or ⌈draws·f⌉ draws, and
   exactly draws·f in expectation; a contribution gets its units' draws. Both ways a contribution is
   paid its credit's share in expectation, so splitting data over more accounts (which may cross from
   one way to the other) changes what it earns on average by nothing.
   The draw seed of a paid request is the hash of the block that included it (`Request.draw_seed`; the
   chain refuses a result drawn from any other): it did not exist when the requester signed, so no
   variation of the input bytes (one low bit of one feature, which changes neither answer nor credit)
   can be tried until the offset favours a chosen contributor - and the worker cannot pick another. An
   unpaid, ad-hoc attribution (a gRPC call without a seed) starts from its request id and input instead.
3. `paid_fraction` scales the whole pool (span attribution pays contributors only the share of the
   output that credited spans reproduce); what it leaves, and what rounds away, goes to the model owner.
Shares are integer parts per billion of the pool, summing exactly to paid_fraction·10⁹ (largest
remainder), so the chain checks and splits them with integers alone.

Reproducibility: the same query on the same kind of device gives the same bytes (fixed threads,
deterministic kernels, float64 accumulation). Across device kinds (CPU vs CUDA) float sums may differ
in the last bits, which can move an exact share by a few ppb, swap two near-equal contributions in the
list, or leave out on one device a contribution holding about a billionth of the credit; that is why the
chain compares replicated results by contribution, within a tolerance (a contribution one result lists and
another does not counts as 0 there), rather than byte for byte. (Rarely, such a contribution is the one
that takes the count past `draws` on one device only: the two then pay by different rules and disagree.)
"""

from __future__ import annotations

import json

import numpy as np

from payable.attribution.v1 import attribution_pb2 as at
from runtime.apportion import largest_remainder
from runtime.crypto import Keypair, blake2_256, verify

PPB = 1_000_000_000


MAX_DRAWS = 16  # the chain's bound on credited contributions per result (attribution.max_credited)
EXACT_SCALE = 2**52  # exact shares as integer weights: each contribution's fraction of the credit, float64-precise


def sampled_credit(unit_credit: np.ndarray, unit_contribution: np.ndarray, draws: int, seed: bytes,
                   paid_fraction: float = 1.0) -> list[tuple[int, int]]:
    """[(contribution index, share in ppb)] by the rule above, largest share first (ties: lower index):
    exact shares when at most `draws` contributions hold a billionth of the credit or more (the others are
    not credited), else `draws` systematic draws."""
    if not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"top_k (the most contributions a result credits) must be within 1..{MAX_DRAWS}, "
                         f"got {draws}")
    positive = np.where(np.isfinite(unit_credit) & (unit_credit > 0), unit_credit, 0.0).astype(np.float64)
    total = positive.sum()
    if total <= 0 or paid_fraction <= 0:
        return []
    contribution = np.asarray(unit_contribution, dtype=np.int64)
    held = np.bincount(contribution, weights=positive)
    credited = np.flatnonzero(held >= total / PPB)  # at least a ppb of the credit: less would round to nothing
    if len(credited) <= draws:
        weights = {int(c): int(round(held[c] / total * EXACT_SCALE)) for c in credited}
    else:
        weights = _drawn(positive, contribution, draws, seed, total)
    order = sorted((c for c in weights if weights[c]), key=lambda c: (-weights[c], c))
    if not order:  # every credited unit's share rounds to nothing
        return []
    budget = int(round(min(1.0, paid_fraction) * PPB))
    shares = largest_remainder(budget, [weights[c] for c in order])
    return [(c, ppb) for c, ppb in zip(order, shares, strict=True) if ppb]  # a tiny paid fraction may round to 0


def _drawn(positive: np.ndarray, contribution: np.ndarray, draws: int, seed: bytes, total: float) -> dict[int, int]:
    """Per contribution, the number of the `draws` systematic draws its units take (the rule above)."""
    layout = np.lexsort((np.arange(len(positive)), -positive))  # largest credit first, ties by unit index
    offset = int.from_bytes(blake2_256(b"payable/draws" + seed)[:8], "big") / 2**64
    marks = (offset + np.arange(draws)) / draws * total
    units = layout[np.searchsorted(np.cumsum(positive[layout]), marks, side="right").clip(0, len(positive) - 1)]
    counts: dict[int, int] = {}
    for unit in units:
        counts[int(contribution[unit])] = counts.get(int(contribution[unit]), 0) + 1
    return counts


def draws_from(draw_seed: bytes, request_id: bytes, input_hash: bytes) -> bytes:
    """What `sampled_credit` derives the offset from: the block's hash and the request id (requests of one
    block start apart), or for an unpaid attribution without a draw seed its request id and input."""
    return draw_seed + request_id if draw_seed else request_id + input_hash


def input_hash(x: np.ndarray) -> bytes:
    return blake2_256(np.ascontiguousarray(x, dtype="<f4").tobytes())


def output_hash(logits: np.ndarray, label: int) -> bytes:
    return blake2_256(np.ascontiguousarray(logits, dtype="<f4").tobytes() + int(label).to_bytes(8, "big", signed=True))


def build_result(*, model_hash: bytes, index_hash: bytes, input_hash: bytes, output_hash: bytes, method: str,
                 params: dict, shares: list[tuple[int, int]], contributions: list[tuple[int, bytes]],
                 worker: Keypair, request_id: bytes = b"", spans=(), tokens: tuple[int, int] = (0, 0),
                 label: int | None = None, draw_seed: bytes = b"") -> at.SignedAttribution:
    """The signed result; `contributions[i]` is (contribution id, contributor) of share index i; `tokens` is
    (input, output) token counts, what a token-priced request is charged for; `label` a classifier's answer;
    `draw_seed` where the draws started (a paid request's block hash)."""
    result = at.AttributionResult(
        model_hash=model_hash, index_hash=index_hash, input_hash=input_hash, output_hash=output_hash, method=method,
        params_json=json.dumps(params, sort_keys=True), worker=worker.public, request_id=request_id, spans=spans,
        input_tokens=tokens[0], output_tokens=tokens[1], draw_seed=draw_seed,
        top_k=[at.ContributionScore(contribution_id=contributions[i][0], contributor=contributions[i][1],
                                    score_ppb=s) for i, s in shares], label=label)
    body = result.SerializeToString(deterministic=True)
    return at.SignedAttribution(result=body, signature=worker.sign(body))


def verify_signed(signed: at.SignedAttribution) -> at.AttributionResult:
    """The result, if its signature is the worker's over exactly these bytes; else ValueError."""
    result = at.AttributionResult.FromString(signed.result)
    if not verify(result.worker, signed.result, signed.signature):
        raise ValueError("attribution result: the signature does not match the worker key and bytes")
    if sum(s.score_ppb for s in result.top_k) > PPB:
        raise ValueError("attribution result: shares sum above one")
    return result

"""From a generated output to credit per contribution: maximal spans, rarity weights, shared credit.

1. For every output position, the longest run of tokens starting there that occurs verbatim in the
   corpus (see index.py). A span is *maximal* when it is not inside one that starts earlier; only
   maximal spans of at least `min_length` tokens count (OLMoTrace's rule).
2. Very common spans (more than `max_count` occurrences: boilerplate, stock phrases) are dropped.
3. A span's weight is its self-information under the corpus unigram model, Σ −log₂ p(token): long
   spans of rare tokens weigh the most - reproducing them is evidence of memorisation, not chance.
4. The weight is split equally among the distinct documents holding the span, and a document's share
   goes to its contribution. So the credits sum exactly to the total weight of the kept spans.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import SEPARATOR, SpanIndex


@dataclass(frozen=True)
class SpanCredit:
    start: int
    length: int
    count: int
    weight: float
    documents: tuple[int, ...]


@dataclass(frozen=True)
class CreditParams:
    min_length: int = 8
    max_count: int = 100

    def __post_init__(self) -> None:
        if self.min_length < 1 or self.max_count < 1:
            raise ValueError("min_length and max_count must be positive")


def maximal_spans(lengths: np.ndarray, min_length: int) -> list[tuple[int, int]]:
    """(start, length) of the maximal matches: each ends beyond every span that starts before it."""
    spans, furthest = [], -1
    for start, length in enumerate(lengths):
        end = start + int(length)
        if length >= min_length and end > furthest:
            spans.append((start, int(length)))
        furthest = max(furthest, end)
    return spans


def attribute_spans(index: SpanIndex, tokens, params: CreditParams = CreditParams()) -> tuple[list[SpanCredit],
                                                                                               np.ndarray]:
    """The kept spans and the credit per contribution (float64, index order of index.contributions)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    log_p = np.log2((index.unigram[:SEPARATOR].astype(np.float64) + 1) / (index.total_tokens + SEPARATOR))
    credit = np.zeros(len(index.contributions))
    kept = []
    for start, length in maximal_spans(index.longest_matches(tokens), params.min_length):
        span = tokens[start:start + length]
        count = index.count(span)
        if count == 0 or count > params.max_count:
            continue
        documents = tuple(index.documents(span))
        weight = float(-log_p[span].sum())
        for doc in documents:
            credit[index.doc_contribution[doc]] += weight / len(documents)
        kept.append(SpanCredit(start, length, count, weight, documents))
    return kept, credit

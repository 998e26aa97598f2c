"""From a generated output to credit per document, and the share of the output the data explains.

1. For every output position, the longest run of tokens starting there that occurs verbatim in the
   corpus (see index.py). A span is *maximal* when it is not inside one that starts earlier; only
   maximal spans of at least `min_length` tokens count (OLMoTrace's rule).
2. Very common spans (more than `max_count` occurrences: boilerplate, stock phrases) are dropped.
3. A span's weight is its self-information under the corpus unigram model, Σ −log₂ p(token) - long
   spans of rare tokens weigh the most: reproducing them is evidence of memorisation, not chance -
   times its specificity, log(D/d)/log(D) for a span found in d of the corpus's D distinct documents
   (near-duplicate documents count once, see index.py): a span every document shares (an import line,
   `def __init__(self,`) counts for nothing.
4. The weight is split equally among the distinct documents holding the span - a set of near-duplicates
   is one, its part shared among its members, all paid to the contribution that held the first - so
   padding a document with edited copies of itself takes no more of a span it shares with someone
   else's; the credits sum exactly to the total weight of the kept spans; the payout rule (results.py)
   pays documents.
5. Coverage: the fraction of the output's information, Σ −log₂ p over its tokens, that credited spans
   reproduce, each token counted at the specificity of the most specific span covering it. The
   contributors' pool is paid in that proportion; the rest of it goes to the model owner (the model
   produced it, not the data).
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
                                                                                               np.ndarray, float]:
    """The kept spans, the credit per document (float64, global document order) and the coverage."""
    tokens = np.asarray(tokens, dtype=np.int64)
    vocab = int(index.manifest["vocab_size"])
    if tokens.size == 0:
        raise ValueError("no output tokens to attribute")
    if tokens.min() < 0 or tokens.max() >= vocab:
        raise ValueError(f"token ids must lie in 0..{vocab - 1} (the model's vocabulary)")
    log_p = np.log2((index.unigram[:SEPARATOR].astype(np.float64) + 1) / (index.total_tokens + SEPARATOR))
    info = -log_p[tokens]
    distinct = int(index.manifest["distinct_documents"])
    credit = np.zeros(len(index.doc_contribution))
    covered = np.zeros(len(tokens))
    kept = []
    for start, length in maximal_spans(index.longest_matches(tokens), params.min_length):
        span = tokens[start:start + length]
        count = index.count(span)
        if count == 0 or count > params.max_count:
            continue
        documents = tuple(index.documents(span))
        holders: dict[int, list[int]] = {}  # near-duplicates count once: grouped under their first
        for doc in documents:
            holders.setdefault(int(index.canonical[doc]), []).append(doc)
        specificity = float(np.log(distinct / len(holders)) / np.log(distinct)) if distinct > 1 else 1.0
        weight = float(info[start:start + length].sum() * specificity)
        for group in holders.values():
            for doc in group:
                credit[doc] += weight / len(holders) / len(group)
        covered[start:start + length] = np.maximum(covered[start:start + length], specificity)
        kept.append(SpanCredit(start, length, count, weight, documents))
    coverage = float((info * covered).sum() / info.sum()) if info.sum() > 0 else 0.0
    return kept, credit, coverage

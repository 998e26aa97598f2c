"""The suffix-array index against brute force, and the span credit rule."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pydivsufsort", reason="part of the worker extra that `make test` installs")

from gpu_worker.span.credit import CreditParams, attribute_spans, maximal_spans
from gpu_worker.span.index import Document, SpanIndex, build_index

corpora = st.lists(st.lists(st.integers(0, 5), min_size=0, max_size=30), min_size=1, max_size=8)


def _build(tmp_path_factory, docs, shard_tokens=1000):
    root = tmp_path_factory.mktemp("idx")
    contributions = [(100 + i, bytes([i + 1]) * 32) for i in range(len(docs))]
    build_index((Document(np.array(d), i) for i, d in enumerate(docs)), contributions, root,
                shard_tokens=shard_tokens, vocab_size=6)
    return SpanIndex(root)


def _occurs(docs, gram) -> list[int]:
    n = len(gram)
    return [d for d, doc in enumerate(docs) for i in range(len(doc) - n + 1) if list(doc[i:i + n]) == gram]


@settings(max_examples=60, deadline=None)
@given(docs=corpora, gram=st.lists(st.integers(0, 5), min_size=1, max_size=4),
       query=st.lists(st.integers(0, 5), min_size=1, max_size=12), shard_tokens=st.sampled_from([7, 1000]))
def test_counts_occurrences_and_longest_matches_equal_brute_force(tmp_path_factory, docs, gram, query,
                                                                  shard_tokens):
    index = _build(tmp_path_factory, docs, shard_tokens)
    hits = _occurs(docs, gram)
    assert index.count(gram) == len(hits)
    assert index.documents(gram) == sorted(set(hits))
    expected = []
    for i in range(len(query)):
        best = 0
        for n in range(1, len(query) - i + 1):
            if _occurs(docs, query[i:i + n]):
                best = n
        expected.append(best)
    assert list(index.longest_matches(query)) == expected
    index.close()


@given(st.lists(st.integers(0, 12), max_size=40), st.integers(1, 5))
def test_maximal_spans_are_maximal_and_not_nested(lengths, min_length):
    # a valid matching-statistics sequence: l[i+1] >= l[i] - 1
    fixed = []
    for length in lengths:
        fixed.append(max(length, (fixed[-1] - 1) if fixed else 0))
    spans = maximal_spans(np.array(fixed), min_length)
    for (s1, l1), (s2, l2) in zip(spans, spans[1:], strict=False):
        assert s1 < s2 and s1 + l1 < s2 + l2  # later spans start later and end later: none nested
    covered = {(s, s + n) for s, n in spans}
    for start, length in enumerate(fixed):  # every long-enough match lies inside some kept span
        if length >= min_length:
            assert any(s <= start and start + length <= e for s, e in covered)


def test_credit_sums_to_the_total_and_goes_to_the_copied_document(tmp_path_factory):
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 50, 400) for _ in range(6)]
    root = tmp_path_factory.mktemp("credit")
    contributions = [(i, bytes([i + 1]) * 32) for i in range(3)]
    build_index((Document(d, i % 3) for i, d in enumerate(docs)), contributions, root, vocab_size=50)
    index = SpanIndex(root)
    output = np.concatenate([rng.integers(0, 50, 20), docs[4][100:140], rng.integers(0, 50, 20)])
    spans, credit, _ = attribute_spans(index, output, CreditParams(min_length=8))
    assert credit.argmax() == 4 and np.bincount(index.doc_contribution, weights=credit).argmax() == 4 % 3
    assert credit.sum() == pytest.approx(sum(s.weight for s in spans))
    assert any(s.length >= 40 for s in spans)
    index.close()


def test_a_tampered_index_is_refused(tmp_path_factory):
    root = tmp_path_factory.mktemp("tamper")
    index_hash = build_index([Document(np.arange(20) % 7, 0)], [(1, b"\x01" * 32)], root, vocab_size=7)
    raw = bytearray((root / "shard-0.sa").read_bytes())
    raw[0] ^= 1
    (root / "shard-0.sa").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="tampered"):
        SpanIndex(root, index_hash)

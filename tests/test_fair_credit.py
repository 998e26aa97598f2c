"""Attribution that pays the right people: credit additive over examples (split-invariant), span credit
in proportion to what was reproduced, and bad input refused with a reason."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch", reason="the worker extra is part of `make test`'s install")

from gpu_worker.datasets import Snapshot, dataset_to_proto
from gpu_worker.results import MAX_LISTED, PPB, Shares, credit_shares, verify_signed
from gpu_worker.span.credit import CreditParams, attribute_spans
from gpu_worker.span.index import Document, SpanIndex, build_index
from gpu_worker.worker import Worker
from pallets.attribution.split import split_fee
from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import Keypair


def _paid_to(shares: Shares, contributions: set[int]) -> int:
    return sum(ppb for c, ppb in shares.listed + shares.tail if c in contributions)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=60), st.integers(1, MAX_LISTED),
       st.data())
def test_what_a_set_of_examples_earns_does_not_depend_on_how_they_are_grouped(scores, listed, data):
    """In every query, whether the set's contributions are listed in the result or in its tail: exact up to
    rounding - a tail share is rounded down (under 1 ppb each), and the listed ones take what that leaves."""
    scores = np.array(scores)
    n = len(scores)
    fixed = data.draw(st.integers(1, n - 1))  # examples 0..fixed-1 are the fixed set
    # grouping A: the fixed set is one contribution; the others are grouped at random
    a = np.array([0] * fixed + data.draw(st.lists(st.integers(1, 4), min_size=n - fixed, max_size=n - fixed)))
    # grouping B: the fixed set split over up to 3 accounts; the others regrouped differently
    b = np.array(data.draw(st.lists(st.integers(0, 2), min_size=fixed, max_size=fixed))
                 + data.draw(st.lists(st.integers(3, 9), min_size=n - fixed, max_size=n - fixed)))
    shares_a, shares_b = credit_shares(scores, a, listed), credit_shares(scores, b, listed)
    owed = scores[:fixed].clip(0).sum() / scores.clip(0).sum() if (scores > 0).any() else 0.0
    for shares, accounts in ((shares_a, {0}), (shares_b, {0, 1, 2})):
        assert abs(_paid_to(shares, accounts) - owed * PPB) <= 3 + 10  # its own floors, a share of the others'
        assert sum(ppb for _, ppb in shares.listed + shares.tail) == (PPB if (scores > 0).any() else 0)  # exact
        assert all(ppb > 0 for _, ppb in shares.listed + shares.tail) and len(shares.listed) <= listed
        assert not shares.tail or len(shares.listed) == listed  # a tail only past a full list


def test_a_small_contributor_among_many_is_paid_its_exact_share_in_every_query():
    """Issue 29.3: a contributor holding under 1% of the credit, among 40 contributions (more than a result
    lists), is paid its exact share in every query - from the result's tail - not a whole draw now and then:
    its income's spread over queries is the spread of its credit, nothing added. Split over 3 accounts, it
    earns the same in every query, to the rounding."""
    rng = np.random.default_rng(3)
    for _ in range(20):  # queries
        scores = rng.uniform(0.5, 2.0, 400)
        whole = np.concatenate([np.zeros(3, dtype=int), 1 + np.arange(397) % 40])
        split = np.where(whole == 0, 41 + np.arange(400) % 3, whole)
        owed = scores[:3].sum() / scores.sum()
        shares = credit_shares(scores, whole, MAX_LISTED)
        assert 0 in dict(shares.tail) and len(shares.listed) == MAX_LISTED  # in the tail: paid by its page
        assert abs(_paid_to(shares, {0}) / PPB - owed) <= 1e-9
        assert abs(_paid_to(credit_shares(scores, split, MAX_LISTED), {41, 42, 43}) - _paid_to(shares, {0})) <= 3


def test_no_variation_of_the_input_can_move_a_share_beyond_what_the_credit_says():
    """Issue 29.1: nothing is drawn, so trying variations of the input (or waiting for another block) moves a
    contributor's share only as far as its credit moves: the share is the credit's fraction, every time."""
    rng = np.random.default_rng(11)
    base = rng.uniform(0.5, 2.0, 300)
    owners = np.arange(300) % 30
    for _ in range(32):
        scores = base * (1 + 1e-7 * rng.normal(size=300))  # a low bit of the input: the credit barely moves
        shares = credit_shares(scores, owners, MAX_LISTED)
        assert abs(_paid_to(shares, {29}) / PPB - scores[owners == 29].sum() / scores.sum()) <= 1e-9


def test_a_contribution_holding_less_than_a_billionth_is_not_credited_nor_counted():
    """What would round to no ppb is left out, and takes no place in the list or the tail: a device computing
    its credit as 1e-12 of the total and another as 0 give the same result."""
    scores = np.concatenate([np.linspace(1.0, 2.0, MAX_LISTED + 4), [1e-12]])
    owners = np.arange(MAX_LISTED + 5)
    shares = credit_shares(scores, owners, MAX_LISTED)
    assert MAX_LISTED + 4 not in dict(shares.listed + shares.tail) and len(shares.tail) == 4
    assert shares == credit_shares(np.concatenate([scores[:-1], [0.0]]), owners, MAX_LISTED)
    assert sum(ppb for _, ppb in shares.listed + shares.tail) == PPB


def test_each_example_earns_its_share_of_positive_influence_and_negative_influence_nothing():
    scores = np.array([4.0, -3.0, 1.0, 2.5, 0.5, -1.0, 2.0])
    shares = credit_shares(scores, np.arange(len(scores)), 2)
    earned = np.zeros(len(scores))
    for c, ppb in shares.listed + shares.tail:
        earned[c] += ppb
    assert np.allclose(earned / PPB, np.clip(scores, 0, None) / scores[scores > 0].sum(), atol=1e-8)
    assert earned[1] == earned[5] == 0 and [c for c, _ in shares.listed] == [0, 3]


@given(st.integers(0, 10**24), st.integers(0, PPB), st.lists(st.integers(0, 10**9), max_size=8))
def test_the_unpaid_part_of_the_pool_goes_to_the_owner_and_nothing_is_minted(fee, paid_ppb, scores):
    full = split_fee(fee, (7000, 2000, 500, 500), scores)
    part = split_fee(fee, (7000, 2000, 500, 500), scores, paid_ppb=paid_ppb)
    assert part.total == fee
    assert sum(part.contributors) <= sum(full.contributors)
    assert part.model_owner - full.model_owner == sum(full.contributors) - sum(part.contributors)


def test_bad_credit_requests_are_refused():
    with pytest.raises(ValueError, match="top_k"):
        credit_shares(np.ones(3), np.zeros(3, dtype=int), 1000)
    assert credit_shares(np.array([np.nan, -1.0, np.inf]), np.zeros(3, dtype=int), 4) == Shares([], [])


@pytest.mark.slow
def test_one_contributor_split_over_three_accounts_earns_the_same_through_the_worker(tmp_path):
    """Tolerance: exact up to rounding - at most 3 ppb per query (one per account) - since the same
    examples train the same model and get the same influence, whoever holds them."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.data[:300] / 16.0).astype(np.float32), digits.target[:300]
    owner = np.arange(300) % 3  # contributor 0 holds every third example
    people = [Keypair.from_uri(f"//Person{i}").public for i in range(5)]
    whole = Snapshot(x, y, owner, [1, 2, 3], people[:3])
    split_owner = np.where(owner == 0, 2 + (np.arange(300) // 3) % 3, owner - 1)  # 1, 2 -> 0, 1; 0 -> 2, 3, 4
    split = Snapshot(x, y, split_owner, [1, 2, 3, 4, 5], [people[1], people[2], people[0], people[3], people[4]])
    config = '{"family": "mlp", "inputs": 64, "classes": 10, "hidden": [16]}'
    totals = []
    for name, snapshot, accounts in (("whole", whole, {0}), ("split", split, {2, 3, 4})):
        worker = Worker(tmp_path / name, Keypair.from_uri("//Worker"))
        trained = worker.gradient.train(pb.TrainRequest(dataset=dataset_to_proto(snapshot), model_config_json=config,
                                                        seed=4))
        index = list(worker.gradient.build_index(pb.BuildIndexRequest(
            model_hash=trained.model_hash, dataset_hash=trained.dataset_hash, ensemble=1)))[-1]
        per_query = []
        for q in range(1000, 1012):
            signed = worker.gradient.attribute(pb.AttributeRequest(
                model_hash=trained.model_hash, index_hash=index.index_hash,
                input=(digits.data[q] / 16.0).astype(np.float32).tolist(), label=-1, request_id=b"q%d" % q))
            result = verify_signed(signed)
            ids = {snapshot.contribution_ids[i] for i in accounts}
            per_query.append(sum(s.score_ppb for s in result.top_k if s.contribution_id in ids))
        totals.append(per_query)
    assert max(abs(a - b) for a, b in zip(*totals, strict=True)) <= 3
    assert sum(totals[0]) > 0


def test_a_small_contributor_is_paid_its_exact_share_in_every_query_it_helps(tmp_path):
    """Issue 29.3: a contributor holding 6 of 300 digits (4 contributors in all) is paid, in every query
    its examples help, exactly its share of the credit (±1 ppb) - not a whole draw in one query of a few
    and nothing in the others."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.data[:300] / 16.0).astype(np.float32), digits.target[:300]
    owner = np.where(np.arange(300) % 50 == 0, 0, 1 + np.arange(300) % 3)  # contributor 0: rows 0, 50, ... 250
    people = [Keypair.from_uri(f"//Person{i}").public for i in range(4)]
    snapshot = Snapshot(x, y, owner, [1, 2, 3, 4], people)
    worker = Worker(tmp_path / "worker", Keypair.from_uri("//Worker"))
    trained = worker.gradient.train(pb.TrainRequest(dataset=dataset_to_proto(snapshot), seed=4, model_config_json=(
        '{"family": "mlp", "inputs": 64, "classes": 10, "hidden": [16]}')))
    built = list(worker.gradient.build_index(pb.BuildIndexRequest(
        model_hash=trained.model_hash, dataset_hash=trained.dataset_hash, ensemble=1)))[-1]
    index = worker.gradient.index(built.index_hash)
    helped = paid = 0
    for q in range(1000, 1040):
        features = (digits.data[q] / 16.0).astype(np.float32)
        result = verify_signed(worker.gradient.attribute(pb.AttributeRequest(
            model_hash=trained.model_hash, index_hash=built.index_hash, input=features.tolist(), label=-1,
            request_id=b"q%d" % q)))
        credit = np.clip(index.example_scores(features, worker.gradient.infer(trained.model_hash, features).label),
                         0, None)
        share = credit[index.example_contribution == 0].sum() / credit.sum()
        got = sum(s.score_ppb for s in result.top_k if s.contribution_id == 1) / PPB
        assert abs(got - share) <= 1e-9, (q, got, share)
        helped += share > 0
        paid += got > 0
    assert paid == helped >= 30  # paid in every query it helps (a draw's worth would be 1/16 of the pool)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """20 documents of 3 contributors: a boilerplate line in 16 of them, then each its own random text."""
    rng = np.random.default_rng(7)
    boilerplate = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])  # frequent tokens, like `def __init__(self,`
    docs = [np.concatenate([boilerplate if i < 16 else rng.integers(11, 400, 10), rng.integers(11, 400, 300)])
            for i in range(20)]
    root = tmp_path_factory.mktemp("span-credit")
    build_index((Document(d, i % 3) for i, d in enumerate(docs)), [(i + 1, bytes([i + 1]) * 32) for i in range(3)],
                root, vocab_size=400)
    index = SpanIndex(root)
    yield index, docs, rng
    index.close()


def test_an_output_that_reproduces_nothing_pays_no_contributor(corpus):
    index, _, _ = corpus
    novel = np.array([399, 398, 397, 396] * 10)
    spans, credit, coverage = attribute_spans(index, novel, CreditParams(min_length=8))
    assert spans == [] and coverage == 0.0
    assert credit_shares(credit, index.doc_contribution, MAX_LISTED, paid_fraction=coverage) == Shares([], [])
    assert split_fee(1000, (7000, 2000, 500, 500), [], paid_ppb=0).model_owner == 900


def test_a_long_rare_passage_pays_its_owner_and_most_of_the_pool(corpus):
    index, docs, rng = corpus
    output = np.concatenate([rng.integers(11, 400, 6), docs[17][40:140], rng.integers(11, 400, 6)])
    _, credit, coverage = attribute_spans(index, output, CreditParams(min_length=8))
    shares = credit_shares(credit, index.doc_contribution, MAX_LISTED, paid_fraction=coverage).listed
    assert coverage > 0.85
    assert shares[0][0] == 17 % 3 and shares[0][1] >= 0.8 * PPB


def test_boilerplate_alone_pays_contributors_a_small_stated_fraction(corpus):
    """Stated: a generation whose only reproduction is a line 16 of the 20 documents share pays the
    contributors under 5% of their pool (here about 1.5%); the rest goes to the model owner."""
    index, _, rng = corpus
    output = np.concatenate([np.arange(1, 11), rng.integers(11, 400, 40)])
    _, credit, coverage = attribute_spans(index, output, CreditParams(min_length=8))
    shares = credit_shares(credit, index.doc_contribution, MAX_LISTED, paid_fraction=coverage).listed
    assert 0 < coverage < 0.05
    assert sum(ppb for _, ppb in shares) == round(coverage * PPB)


def test_out_of_vocabulary_and_empty_outputs_are_refused(corpus):
    index, _, _ = corpus
    for tokens, reason in (([5, 70_000, 6], "vocabulary"), ([400], "vocabulary"), ([], "no output")):
        with pytest.raises(ValueError, match=reason):
            attribute_spans(index, np.array(tokens, dtype=np.int64))


def test_a_copier_of_someone_elses_rows_or_documents_earns_nothing(tmp_path):
    from gpu_worker.near_duplicates import distinct_rows

    rng = np.random.default_rng(3)
    rows, labels = rng.normal(size=(6, 4)).astype(np.float32), np.array([0, 1, 2, 0, 1, 2])
    copied = np.concatenate([rows, rows[::-1]])  # the copier (contribution 1) re-uploads them shuffled
    kept = distinct_rows(Snapshot(copied, np.concatenate([labels, labels[::-1]]), np.array([0] * 6 + [1] * 6),
                                  [1, 2], [b"\x01" * 32, b"\x02" * 32]))
    assert kept.contribution.tolist() == [0] * 6 and np.array_equal(kept.features, rows)
    noisy = rows + rng.normal(scale=0.02, size=rows.shape).astype(np.float32)  # or with a little noise on each
    fresh = rng.normal(size=(6, 4)).astype(np.float32)  # and rows of its own
    kept = distinct_rows(Snapshot(np.concatenate([rows, noisy, fresh]), np.tile(labels, 3),
                                  np.array([0] * 6 + [1] * 12), [1, 2], [b"\x01" * 32, b"\x02" * 32]))
    assert kept.contribution.tolist() == [0] * 6 + [1] * 6 and np.array_equal(kept.features[6:], fresh)
    original = rng.integers(11, 400, 200)
    build_index([Document(original, 0), Document(rng.integers(11, 400, 200), 1), Document(original.copy(), 2)],
                [(1, b"\x01" * 32), (2, b"\x02" * 32), (3, b"\x03" * 32)], tmp_path, vocab_size=400)
    index = SpanIndex(tmp_path)
    _, credit, coverage = attribute_spans(index, original[20:120], CreditParams(min_length=8))
    shares = credit_shares(credit, index.doc_contribution, MAX_LISTED, paid_fraction=coverage).listed
    assert coverage > 0.9 and [c for c, _ in shares] == [0]
    index.close()


def test_damping_is_chosen_from_the_data_and_recorded_with_the_weight_decay(tmp_path):
    from gpu_worker.gradient.damping import CANDIDATES
    from gpu_worker.gradient.index import AttributionIndex

    rng = np.random.default_rng(5)
    x = rng.normal(size=(160, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    data = Snapshot(x, y, np.arange(160) % 4, [1, 2, 3, 4], [bytes([i + 1]) * 32 for i in range(4)])
    hashes = []
    for name in ("a", "b"):
        worker = Worker(tmp_path / name, Keypair.from_uri("//Worker"))
        trained = worker.gradient.train(pb.TrainRequest(dataset=dataset_to_proto(data), seed=2, weight_decay=0.05,
                                                        model_config_json='{"family": "mlp", "inputs": 6, '
                                                                          '"classes": 3, "hidden": [8]}'))
        built = list(worker.gradient.build_index(pb.BuildIndexRequest(
            model_hash=trained.model_hash, dataset_hash=trained.dataset_hash, ensemble=1, weight_decay=0.05)))[-1]
        manifest = AttributionIndex(worker.store, built.index_hash).manifest
        hashes.append(built.index_hash)
    assert hashes[0] == hashes[1]  # the choice is reproducible, so the index hash is checkable
    selection = manifest["damping_selection"]
    assert manifest["params"]["weight_decay"] == 0.05 and manifest["params"]["damping"] in CANDIDATES
    assert selection["damping"] == manifest["params"]["damping"] and len(selection["validation_lds"]) == len(CANDIDATES)
    assert selection["validation_lds"][CANDIDATES.index(selection["damping"])] == max(selection["validation_lds"])


@pytest.mark.slow
def test_padding_with_noisy_copies_does_not_pay_and_new_rows_near_them_still_do(tmp_path):
    """A contributor with 15 of 300 digits adds 3 copies of each row with Gaussian noise of 0.05 standard
    deviations (which passed the exact-duplicate check and, paid per row, took its expected share from 4.1%
    to 9.2%), or adds 45 genuinely new digits of its own. Its expected share - the fraction of the positive
    credit its rows hold, averaged over 40 queries, through the worker's training, index and scores - must
    move by at most 10% with the copies (they are left out of training and credit), and grow with the
    new rows."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target
    n, mine = 300, np.arange(0, 300, 20)
    owner = np.where(np.isin(np.arange(n), mine), 0, 1 + np.arange(n) % 2)
    people = [Keypair.from_uri(f"//Person{i}").public for i in range(3)]
    noise = np.random.default_rng(0).normal(size=(3 * len(mine), 64)) * 0.05 * x[:n].std(axis=0)
    extra = {"alone": (x[:0], y[:0]), "padded": (np.tile(x[mine], (3, 1)) + noise, np.tile(y[mine], 3)),
             "new rows": (x[n:n + 45], y[n:n + 45])}
    share, dropped = {}, {}
    for name, (more_x, more_y) in extra.items():
        snapshot = Snapshot(np.concatenate([x[:n], more_x]).astype(np.float32), np.concatenate([y[:n], more_y]),
                            np.concatenate([owner, np.full(len(more_x), 3)]), [1, 2, 3, 4],
                            [people[0], people[1], people[2], people[0]])
        worker = Worker(tmp_path / name, Keypair.from_uri("//Worker"))
        trained = worker.gradient.train(pb.TrainRequest(dataset=dataset_to_proto(snapshot), seed=1,
                                                        model_config_json='{"family": "mlp", "inputs": 64, '
                                                                          '"classes": 10, "hidden": [16]}'))
        built = list(worker.gradient.build_index(pb.BuildIndexRequest(
            model_hash=trained.model_hash, dataset_hash=trained.dataset_hash, ensemble=1)))[-1]
        index = worker.gradient.index(built.index_hash)
        theirs = np.isin(index.example_contribution, [0, 3])  # the contributor's two contributions
        fractions = []
        for query in x[1000:1040]:
            credit = np.clip(index.example_scores(query, worker.gradient.infer(trained.model_hash, query).label),
                             0, None)
            fractions.append(credit[theirs].sum() / credit.sum())
        share[name], dropped[name] = float(np.mean(fractions)), index.manifest["near_duplicate_rows"]
    assert dropped == {"alone": 0, "padded": 45, "new rows": 0}
    assert abs(share["padded"] / share["alone"] - 1) <= 0.10, share
    assert share["new rows"] > 2 * share["alone"], share


def test_padding_a_document_with_edited_copies_takes_no_more_of_a_shared_passage(tmp_path):
    """Contributor 0's document and contributor 1's share a 40-token passage; an output repeating it pays
    them half each. Three copies of contributor 0's document with a few tokens changed each (which passed
    the identical-document check and took 4/5 of the passage) leave that at a half; a genuinely different
    document of its own holding the passage still earns (2/3)."""
    rng = np.random.default_rng(9)
    passage = rng.integers(11, 400, 40)
    mine = np.concatenate([rng.integers(11, 400, 150), passage, rng.integers(11, 400, 150)])
    theirs = np.concatenate([rng.integers(11, 400, 120), passage, rng.integers(11, 400, 90)])

    def edited(doc):
        copy = doc.copy()
        copy[rng.choice(np.r_[0:150, 190:340], 6, replace=False)] = rng.integers(11, 400, 6)  # not the passage
        return copy

    others = [rng.integers(11, 400, 300) for _ in range(8)]  # contributor 2's, without the passage
    corpora = {"alone": [mine, theirs], "padded": [mine, theirs, edited(mine), edited(mine), edited(mine)],
               "new document": [mine, theirs, np.concatenate([rng.integers(11, 400, 200), passage])]}
    owner = {"alone": [0, 1], "padded": [0, 1, 0, 0, 0], "new document": [0, 1, 0]}
    share = {}
    for name, docs in corpora.items():
        build_index([Document(d, c) for d, c in zip(docs + others, owner[name] + [2] * 8, strict=True)],
                    [(1, b"\x01" * 32), (2, b"\x02" * 32), (3, b"\x03" * 32)], tmp_path / name, vocab_size=400)
        index = SpanIndex(tmp_path / name)
        _, credit, _ = attribute_spans(index, passage, CreditParams(min_length=8))
        share[name] = credit[index.doc_contribution == 0].sum() / credit.sum()
        index.close()
    assert share["alone"] == pytest.approx(0.5)
    assert abs(share["padded"] / share["alone"] - 1) <= 0.10, share
    assert share["new document"] == pytest.approx(2 / 3), share

"""Proof of Attribution on chain: a worker's real signed result settles exactly; bad results are refused."""

import functools

import numpy as np
import pytest

pytest.importorskip("torch", reason="the worker extra is part of `make test`'s install")

from gpu_worker.datasets import Snapshot, dataset_to_proto
from gpu_worker.worker import Worker
from pallets.token import interface as token
from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.token.v1 import token_pb2
from payable.worker.v1 import worker_pb2 as wp
from runtime.chainspec import ChainSpec, dev_spec
from runtime.codec import ONE_OPEN, decode_u128, encode_u128
from runtime.crypto import Keypair, blake2_256
from runtime.errors import InvalidTransaction, NotFound, PalletError
from sdk.wire import request_id_bytes, tail_page_hash, tail_pages
from sdk.wire import tail_root as sdk_tail_root

EVE, FERDIE = Keypair.from_uri("//Eve"), Keypair.from_uri("//Ferdie")
PRICE = 3 * ONE_OPEN


def _call(chain, signer, pallet, call, args):
    return chain.block(chain.sign(signer, pallet, call, args)).outcomes[0]


def _ok(chain, signer, pallet, call, args):
    outcome = _call(chain, signer, pallet, call, args)
    assert outcome.ok, outcome.error
    return outcome


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.data[:300] / 16.0).astype(np.float32), digits.target[:300]
    contributors = [Keypair.from_uri(u).public for u in ("//Bob", "//Charlie", "//Dave")]
    data = Snapshot(x, y, np.arange(300) % 3, [1, 2, 3], contributors)  # on-chain contribution ids 1..3
    worker = Worker(tmp_path_factory.mktemp("worker"), EVE)
    response = worker.gradient.train(wp.TrainRequest(
        dataset=dataset_to_proto(data), seed=1,
        model_config_json='{"family":"mlp","inputs":64,"classes":10,"hidden":[16]}'))
    index = list(worker.gradient.build_index(wp.BuildIndexRequest(model_hash=response.model_hash,
                                                                  dataset_hash=response.dataset_hash, ensemble=1)))[-1]
    return worker, response.model_hash, index.index_hash, (digits.data[1000] / 16.0).astype(np.float32)


def _world(make_chain, trained, replication=1, deadline_blocks=5, existential_deposit=None, tail_window=None):
    """Three contributions in DataNet 1 (snapshot 1), the worker's model registered, workers bonded."""
    worker, model_hash, index_hash, _ = trained
    doc = dev_spec().to_dict()
    doc["config"]["inference"] = {"replication": str(replication), "deadline_blocks": str(deadline_blocks)}
    if tail_window is not None:
        doc["config"]["attribution"] = {"tail_window": str(tail_window)}
    if existential_deposit is not None:
        doc["config"]["token"]["existential_deposit"] = str(existential_deposit)
    chain = make_chain(ChainSpec.from_dict(doc))
    _ok(chain, chain.alice, "datanet", "create_datanet",
        dn.CreateDataNet(name="digits", domain="vision", license="CC0-1.0",
                         contribution_deposit=encode_u128(ONE_OPEN),
                         accepted_formats=["npy"]))
    for i, who in enumerate((chain.bob, chain.charlie, chain.dave)):
        _ok(chain, who, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=blake2_256(bytes([i])), size=100,
                                                               format="npy"))
    for cid in (1, 2, 3):
        _ok(chain, chain.alice, "datanet", "approve", dn.Decide(contribution=cid))
    _ok(chain, chain.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1))
    _ok(chain, chain.alice, "modelregistry", "register_base_model",
        mr.RegisterBaseModel(artifact_hash=b"\x01" * 32, architecture="mlp",
                             license="MIT"))
    _ok(chain, chain.alice, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=b"\x02" * 32,
        artifact_hash=model_hash, attribution_index_hash=index_hash, attribution_method=mr.GRADIENT,
        price_per_inference=encode_u128(PRICE),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500)))
    for who in (EVE, FERDIE, chain.charlie):
        _ok(chain, who, "inference", "register_worker",
            inf.RegisterWorker(endpoint="127.0.0.1:1", models=[1], device="cpu",
                               bond=encode_u128(100 * ONE_OPEN)))
    return chain


def _request(chain, x):
    """Dave pays for one inference on x (inline input: the float32 bytes the worker hashes)."""
    _ok(chain, chain.dave, "inference", "request_inference",
        inf.RequestInference(model=1, input=x.astype("<f4").tobytes(),
                             max_fee=encode_u128(PRICE)))
    return inf.Request.FromString(chain.ex.query("inference", "get_request",
                                                 inf.RequestRef(request=1).SerializeToString()))


def _proofs(chain, signed, datanet=1, version=1):
    result = at.AttributionResult.FromString(signed.result)
    proofs = []
    for credit in result.top_k:
        proof = dn.MembershipProof.FromString(chain.ex.query("datanet", "get_membership", dn.ProofRequest(
            datanet=datanet, version=version, contribution=credit.contribution_id).SerializeToString()))
        proofs.append(at.ContributionProof(datanet=datanet, version=version, proof=proof))
    return proofs


def _keys():
    """The three bonded workers' keys by account."""
    return {k.public: k for k in (EVE, FERDIE, Keypair.from_uri("//Charlie"))}


def _attribute(chain, worker, model_hash, index_hash, x, request_id=1, key=None, top_k=3):
    """The worker's result for request `request_id`, naming the request's seed (the hash of the block that
    included it; none for a request the chain does not have), listing at most `top_k` contributions."""
    if key is not None:
        worker = Worker(worker.store.root, key)
    try:
        seed = _get_request(chain, request_id).draw_seed
    except PalletError:  # no such request: a replay's result
        seed = b""
    return worker.gradient.attribute(wp.AttributeRequest(model_hash=model_hash, index_hash=index_hash,
                                                         input=x.tolist(), label=-1, top_k=top_k,
                                                         request_id=request_id_bytes(request_id), draw_seed=seed))


def _get_request(chain, request_id):
    return inf.Request.FromString(chain.ex.query("inference", "get_request",
                                                 inf.RequestRef(request=request_id).SerializeToString()))


def _submit(chain, signer, signed, proofs, request_id=1):
    return _call(chain, signer, "attribution", "submit_result", at.SubmitResult(
        request=request_id, signed_attribution=signed.SerializeToString(), proofs=proofs))


def test_a_real_result_settles_and_the_fee_is_split_exactly(make_chain, trained):
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained)
    request = _request(chain, x)
    assigned = _keys()[request.workers[0]]
    signed = _attribute(chain, worker, model_hash, index_hash, x, key=assigned)
    ctx = chain.ex.read_context()
    before = {who: token.account(ctx, who).total for who in (chain.bob.public, chain.charlie.public)}
    submitted = _submit(chain, assigned, signed, _proofs(chain, signed))
    assert submitted.ok
    settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
        request=1).SerializeToString()))
    assert sum(decode_u128(p.amount) for p in settlement.payments) == PRICE
    # the settlement points at the submit_result that carried its result: the block and the index it landed at
    assert list(settlement.agreeing_workers) == [assigned.public]
    where = settlement.evidence[0]
    assert len(settlement.evidence) == 1 and submitted.index > 0  # the block's inherents come first
    assert (where.block, where.index) == (chain.ex.head.number, submitted.index)
    assert blake2_256(chain.ex.db.block(where.block).extrinsics[where.index]) == submitted.hash
    stored = at.StoredResult.FromString(chain.ex.query("attribution", "get_result", at.ResultRequest(
        request=1, worker=assigned.public).SerializeToString()))
    assert stored.included == where
    roles = {p.role for p in settlement.payments}
    assert {"contributor", "model_owner", "protocol", "worker"} <= roles
    contributor_total = sum(decode_u128(p.amount) for p in settlement.payments if p.role == "contributor")
    assert contributor_total == PRICE * 7000 // 10_000
    earnings = at.Earnings.FromString(chain.ex.query("attribution", "get_earnings", at.EarningsRequest(
        contributor=settlement.payments[0].account).SerializeToString()))
    assert decode_u128(earnings.total) > 0
    stats = dn.ContributorStats.FromString(chain.ex.query("datanet", "get_stats", dn.StatsRequest(
        datanet=1, contributor=settlement.payments[0].account).SerializeToString()))
    assert decode_u128(stats.earned) == decode_u128(earnings.total)
    ctx = chain.ex.read_context()
    assert token.account(ctx, chain.dave.public).reserved == 0  # nothing left in escrow
    assert token.balance_on_hold(ctx, "inference/escrow", chain.dave.public) == 0
    for who, total in before.items():
        if who == assigned.public:
            continue  # the submitting worker paid a fee; everyone else sent nothing since
        paid = sum(decode_u128(p.amount) for p in settlement.payments if p.account == who)
        assert token.account(ctx, who).total - total == paid  # their gain is exactly their pay
    chain.ex.try_state()
    assert inf.Request.FromString(chain.ex.query("inference", "get_request", inf.RequestRef(
        request=1).SerializeToString())).status == inf.SETTLED


def test_bad_results_are_refused_and_change_nothing(make_chain, trained):
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained)
    _ok(chain, chain.alice, "datanet", "create_datanet", dn.CreateDataNet(name="other", domain="x", license="MIT",
                                                                          contribution_deposit=encode_u128(ONE_OPEN),
                                                                          accepted_formats=["npy"]))
    _ok(chain, chain.bob, "datanet", "contribute",
        dn.Contribute(datanet=2, content_hash=b"\x09" * 32, size=1, format="npy"))
    _ok(chain, chain.alice, "datanet", "approve", dn.Decide(contribution=4))
    _ok(chain, chain.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=2))
    request = _request(chain, x)
    assigned = _keys()[request.workers[0]]
    other = next(k for a, k in _keys().items() if a not in request.workers)
    good = _attribute(chain, worker, model_hash, index_hash, x, key=assigned)
    proofs = _proofs(chain, good)
    forged = at.SignedAttribution(result=good.result, signature=other.sign(good.result))
    assert type(_submit(chain, assigned, forged, proofs).error).__name__ == "BadSignature"
    assert type(_submit(chain, other, _attribute(chain, worker, model_hash, index_hash, x, key=other),
                        proofs).error).__name__ == "NotAssigned"
    replayed = _attribute(chain, worker, model_hash, index_hash, x, request_id=7, key=assigned)
    assert type(_submit(chain, assigned, replayed, _proofs(chain, replayed)).error).__name__ == "Mismatch"
    result = at.AttributionResult.FromString(good.result)
    inflated = at.AttributionResult()
    inflated.CopyFrom(result)
    inflated.top_k[0].score_ppb += 10**9  # above the whole pool, however many were credited
    body = inflated.SerializeToString(deterministic=True)
    too_much = at.SignedAttribution(result=body, signature=assigned.sign(body))
    assert type(_submit(chain, assigned, too_much, proofs).error).__name__ == "BadScores"
    # a valid proof, but into a snapshot (DataNet 2) the model does not cite
    outside = at.AttributionResult()
    outside.CopyFrom(result)
    outside.top_k[0].contribution_id, outside.top_k[0].contributor = 4, chain.bob.public
    body = outside.SerializeToString(deterministic=True)
    signed_outside = at.SignedAttribution(result=body, signature=assigned.sign(body))
    bad_proofs = [p for p in proofs if p.proof.leaf.contribution_id != result.top_k[0].contribution_id]
    bad_proofs += _proofs(chain, at.SignedAttribution(result=at.AttributionResult(
        top_k=[outside.top_k[0]]).SerializeToString()), datanet=2)
    assert type(_submit(chain, assigned, signed_outside, bad_proofs).error).__name__ == "BadProof"
    for _ in range(6):  # past the deadline: a late result is refused (and the request was refunded)
        chain.block()
    assert type(_submit(chain, assigned, good, proofs).error).__name__ in ("Closed",)
    assert token.account(chain.ex.read_context(), chain.dave.public).reserved == 0
    chain.ex.try_state()


def _settled_with_a_liar(make_chain, trained, honest, lie, liar_at=2):
    """Three replicas answer, the one assigned at `liar_at` with `lie`, the others with `honest`: (chain, the
    liar's key, its bond before, the settlement)."""
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained, replication=3)
    request = _request(chain, x)
    keys = _keys()
    liar_key = keys[request.workers[liar_at]]
    bonded = token.account(chain.ex.read_context(), liar_key.public).bonded
    for account in request.workers:
        key = keys[account]
        signed = (honest if key is not liar_key else lie)(chain, worker, model_hash, index_hash, x, key=key)
        assert _submit(chain, key, signed, _proofs(chain, signed)).ok
    settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
        request=1).SerializeToString()))
    return chain, liar_key, bonded, settlement


def test_disagreeing_replicas_settle_by_majority_and_the_minority_is_slashed(make_chain, trained):
    # the liar credits everything to one contribution
    chain, liar_key, bonded, settlement = _settled_with_a_liar(make_chain, trained, _attribute, _lie)
    assert list(settlement.slashed_workers) == [liar_key.public] and len(settlement.agreeing_workers) == 2
    assert token.account(chain.ex.read_context(), liar_key.public).bonded == bonded - 10 * ONE_OPEN
    assert sum(decode_u128(p.amount) for p in settlement.payments) == PRICE
    chain.ex.try_state()


def test_replicas_listing_the_same_credits_in_another_order_agree(make_chain, trained):
    """Exact shares of two near-equal contributions may come out in either order on two devices (a result
    lists the largest first): the chain compares credits by contribution, so neither worker is slashed."""
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained, replication=2)
    request = _request(chain, x)
    keys = _keys()
    for i, account in enumerate(request.workers):
        key = keys[account]
        signed = _attribute(chain, worker, model_hash, index_hash, x, key=key)
        result = at.AttributionResult.FromString(signed.result)
        assert len(result.top_k) > 1
        if i:  # the second worker lists the same credits the other way round
            listed = list(result.top_k)[::-1]
            del result.top_k[:]
            result.top_k.extend(listed)
            body = result.SerializeToString(deterministic=True)
            signed = at.SignedAttribution(result=body, signature=key.sign(body))
        assert _submit(chain, key, signed, _proofs(chain, signed)).ok
    settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
        request=1).SerializeToString()))
    assert sorted(settlement.agreeing_workers) == sorted(request.workers) and not settlement.slashed_workers
    chain.ex.try_state()


def test_replicas_are_compared_by_contribution_within_the_tolerance():
    """A credit one replica lists and the other does not counts as 0 there; order does not matter."""
    from pallets.attribution.calls import _agree

    def answer(*shares):
        return at.StoredResult(output_hash=b"o" * 32, contribution_ids=[c for c, _ in shares],
                               scores_ppb=[s for _, s in shares])

    tolerance = 1_000_000
    assert _agree(answer((1, 600_000_000), (2, 400_000_000)), answer((2, 400_000_000), (1, 600_000_000)), tolerance)
    assert _agree(answer((1, 599_999_999), (2, 400_000_000), (3, 1)), answer((1, 600_000_000), (2, 400_000_000)),
                  tolerance)
    assert not _agree(answer((1, 590_000_000), (2, 400_000_000), (3, 10_000_000)),
                      answer((1, 600_000_000), (2, 400_000_000)), tolerance)


def test_replicas_without_a_majority_escalate_to_another_worker(make_chain, trained):
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained, replication=2)
    request = _request(chain, x)
    keys = _keys()
    honest, liar = (keys[w] for w in request.workers)

    good = _attribute(chain, worker, model_hash, index_hash, x, key=honest)
    assert _submit(chain, honest, good, _proofs(chain, good)).ok
    bad = _lie(chain, worker, model_hash, index_hash, x, liar)
    assert _submit(chain, liar, bad, _proofs(chain, bad)).ok  # 1 against 1: no majority
    escalated = inf.Request.FromString(chain.ex.query("inference", "get_request",
                                                      inf.RequestRef(request=1).SerializeToString()))
    assert escalated.status == inf.PENDING and len(escalated.workers) == 3
    third = keys[escalated.workers[2]]
    bonded = token.account(chain.ex.read_context(), liar.public).bonded
    extra = _attribute(chain, worker, model_hash, index_hash, x, key=third)
    assert _submit(chain, third, extra, _proofs(chain, extra)).ok
    settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
        request=1).SerializeToString()))
    assert sorted(settlement.agreeing_workers) == sorted([honest.public, third.public])
    assert list(settlement.slashed_workers) == [liar.public]
    assert token.account(chain.ex.read_context(), liar.public).bonded == bonded - 10 * ONE_OPEN
    chain.ex.try_state()


def _lie(chain, worker, model_hash, index_hash, x, key):
    """A signed result that credits 90% to the first contribution: agrees with no honest worker."""
    signed = _attribute(chain, worker, model_hash, index_hash, x, key=key)
    result = at.AttributionResult.FromString(signed.result)
    for credit in result.top_k:
        credit.score_ppb = 0
    result.top_k[0].score_ppb = 900_000_000
    body = result.SerializeToString(deterministic=True)
    return at.SignedAttribution(result=body, signature=key.sign(body))


def _challenge_world(make_chain, trained, first_lies: bool):
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained)
    request = _request(chain, x)
    keys = _keys()
    first = keys[request.workers[0]]
    challenger, juror = (k for a, k in keys.items() if a != first.public)
    signed = (_lie if first_lies else _attribute)(chain, worker, model_hash, index_hash, x, key=first)
    assert _submit(chain, first, signed, _proofs(chain, signed)).ok  # replication 1: settles at once
    return chain, first, challenger, juror


def _dispute(chain, call, signer, signed):
    """`call`: "challenge" a settled result, or "vote" on a challenged one."""
    return _call(chain, signer, "attribution", call, at.Challenge(
        request=1, signed_attribution=signed.SerializeToString(), proofs=_proofs(chain, signed)))


def test_a_false_challenge_costs_the_challenger_its_bond(make_chain, trained):
    worker, model_hash, index_hash, x = trained
    chain, first, challenger, juror = _challenge_world(make_chain, trained, first_lies=False)
    honest = _attribute(chain, worker, model_hash, index_hash, x, key=challenger)
    assert type(_dispute(chain, "challenge", challenger, honest).error).__name__ == "NotADispute"  # it agrees
    lie = _lie(chain, worker, model_hash, index_hash, x, first)
    assert type(_dispute(chain, "challenge", first, lie).error).__name__ == \
        "NotADispute"  # the majority cannot dispute itself
    before = token.account(chain.ex.read_context(), challenger.public).total
    claim = _lie(chain, worker, model_hash, index_hash, x, challenger)
    challenged = _dispute(chain, "challenge", challenger, claim)
    assert challenged.ok, challenged.error
    assert token.account(chain.ex.read_context(), challenger.public).reserved == 20 * ONE_OPEN
    vote = _attribute(chain, worker, model_hash, index_hash, x, key=juror)  # the juror recomputes honestly
    assert _dispute(chain, "vote", juror, vote).ok
    after = token.account(chain.ex.read_context(), challenger.public)
    assert after.reserved == 0 and after.total == before - 20 * ONE_OPEN - challenged.fee
    events = [e.name for e in chain.ex.db.events(chain.ex.head.number).events]
    assert "DisputeResolved" in events
    chain.ex.try_state()


def test_a_proven_dispute_slashes_the_original_worker_and_rewards_the_challenger(make_chain, trained):
    worker, model_hash, index_hash, x = trained
    chain, first, challenger, juror = _challenge_world(make_chain, trained, first_lies=True)
    bonded = token.account(chain.ex.read_context(), first.public).bonded
    free = token.account(chain.ex.read_context(), challenger.public).free
    honest = _attribute(chain, worker, model_hash, index_hash, x, key=challenger)
    challenged = _dispute(chain, "challenge", challenger, honest)
    assert challenged.ok, challenged.error
    assert _dispute(chain, "vote", juror, _attribute(chain, worker, model_hash, index_hash, x, key=juror)).ok
    assert token.account(chain.ex.read_context(), first.public).bonded == bonded - 10 * ONE_OPEN
    reward = token.account(chain.ex.read_context(), challenger.public).free - (free - challenged.fee)
    assert reward == 10 * ONE_OPEN  # its bond back plus what the liar was slashed
    for _ in range(25):  # past the window nobody can challenge any more
        chain.block()
    lie = _lie(chain, worker, model_hash, index_hash, x, juror)
    assert type(_dispute(chain, "challenge", juror, lie).error).__name__ == \
        "NotChallengeable"
    chain.ex.try_state()


def _empty(chain, who: Keypair) -> None:
    """`who` sends everything it has (less the fee) away: its account is reaped."""
    free, nonce = token.account(chain.ex.read_context(), who.public).free, chain.nonces.get(who.public, 0)
    fee = chain.ex.validate_transaction(chain.transfer(who, chain.alice.public, free, keep_alive=False,
                                                       nonce=nonce)).fee
    raw = chain.transfer(who, chain.alice.public, free - fee, keep_alive=False, nonce=nonce)
    assert chain.ex.validate_transaction(raw).fee == fee
    chain.nonces[who.public] = nonce + 1
    assert chain.block(raw).outcomes[0].ok
    assert token.account(chain.ex.read_context(), who.public).total == 0


def test_a_contributors_payment_too_small_for_its_empty_account_is_held_for_it_not_lost(make_chain, trained):
    """Exact shares make small payments common (issue 29.3). A contributor who emptied its account after its
    deposit came back cannot receive less than the existential deposit there: that payment used to go to the
    treasury. Now it is held for the contributor (`Owed`, in OWED_TO_CONTRIBUTORS), shown in its earnings, and
    paid out whole with the payment that brings it up to the existential deposit."""
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained, existential_deposit=2 * ONE_OPEN)  # above Bob's share of a 3 OPEN fee
    _empty(chain, chain.bob)

    def earnings():
        return at.Earnings.FromString(chain.ex.query("attribution", "get_earnings", at.EarningsRequest(
            contributor=chain.bob.public).SerializeToString()))

    received, n = [], 0
    while True:
        n += 1
        assert n <= 10, f"Bob was owed {decode_u128(earnings().owed)} after {n - 1} requests"
        _ok(chain, chain.dave, "inference", "request_inference", inf.RequestInference(
            model=1, input=x.astype("<f4").tobytes(), max_fee=encode_u128(PRICE)))
        assigned = _keys()[_get_request(chain, n).workers[0]]
        signed = _attribute(chain, worker, model_hash, index_hash, x, request_id=n, key=assigned)
        built = chain.block(chain.sign(assigned, "attribution", "submit_result", at.SubmitResult(
            request=n, signed_attribution=signed.SerializeToString(), proofs=_proofs(chain, signed))))
        assert built.outcomes[0].ok, built.outcomes[0].error
        events = {e.name: e for e in chain.ex.db.events(built.header.number).events if e.pallet == "attribution"}
        settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
            request=n).SerializeToString()))
        mine = [decode_u128(p.amount) for p in settlement.payments if p.account == chain.bob.public]
        assert len(mine) == 1 and 0 < mine[0] < 2 * ONE_OPEN  # Bob's own payment: none of it to the treasury
        received.append(mine[0])
        chain.ex.try_state()  # OWED_TO_CONTRIBUTORS holds exactly what is owed
        roles = [p.role for p in settlement.payments if p.account == chain.bob.public]
        paid_events = [at.Paid.FromString(e.data) for e in chain.ex.db.events(built.header.number).events
                       if e.pallet == "attribution" and e.name == "Paid"]
        assert [p.role for p in paid_events if p.account == chain.bob.public] == roles
        if sum(received) < 2 * ONE_OPEN:
            assert roles == ["contributor (held until its account can take it)"]  # not in Bob's account yet
            held = at.OwedHeld.FromString(events["OwedHeld"].data)
            page = at.EarningsPage.FromString(chain.ex.query("attribution", "list_earnings", at.EarningsPageRequest(
                contributor=chain.bob.public).SerializeToString()))
            assert decode_u128(held.owed) == sum(received) == decode_u128(earnings().owed) == decode_u128(page.owed)
            assert token.account(chain.ex.read_context(), chain.bob.public).total == 0
            continue
        assert roles == ["contributor"]  # this one reached the account, with what was held
        paid = at.OwedPaid.FromString(events["OwedPaid"].data)
        assert decode_u128(paid.amount) == sum(received[:-1]) > 0  # what was held, with the payment that opened
        break
    assert token.account(chain.ex.read_context(), chain.bob.public).free == sum(received)
    assert decode_u128(earnings().owed) == 0 and decode_u128(earnings().total) == sum(received)


def test_what_is_held_for_a_contributor_is_claimed_once_its_account_exists(make_chain, trained):
    """A contributor no later payment reaches (its data withdrawn, the model deprecated) still gets what was
    held for it: `claim_owed`, asked by anyone once the account holds something, pays it to the contributor."""
    from runtime.protocol import OWED_TO_CONTRIBUTORS

    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained, existential_deposit=2 * ONE_OPEN)
    _empty(chain, chain.bob)
    request = _request(chain, x)
    assigned = _keys()[request.workers[0]]
    signed = _attribute(chain, worker, model_hash, index_hash, x, key=assigned)
    assert _submit(chain, assigned, signed, _proofs(chain, signed)).ok
    owed = decode_u128(at.Earnings.FromString(chain.ex.query("attribution", "get_earnings", at.EarningsRequest(
        contributor=chain.bob.public).SerializeToString())).owed)
    assert 0 < owed < 2 * ONE_OPEN
    # while Bob's account is empty the claim runs and fails (someone must fund it first: it may be the
    # transfer just before the claim, in the same block)
    early = _call(chain, chain.alice, "attribution", "claim_owed", at.ClaimOwed(contributor=chain.bob.public))
    assert type(early.error).__name__ == "AccountEmpty" and "fund the account first" in str(early.error)
    # Alice funds Bob's account and claims in one block; Charlie's claim behind hers finds nothing left
    charlie_before = token.account(chain.ex.read_context(), chain.charlie.public).free
    fund_and_claim = chain.block(
        chain.sign(chain.alice, "token", "transfer", token_pb2.Transfer(dest=chain.bob.public,
                                                                         amount=encode_u128(2 * ONE_OPEN))),
        chain.sign(chain.alice, "attribution", "claim_owed", at.ClaimOwed(contributor=chain.bob.public)),
        chain.sign(chain.charlie, "attribution", "claim_owed", at.ClaimOwed(contributor=chain.bob.public)))
    assert [o.ok for o in fund_and_claim.outcomes] == [True, True]
    assert len(fund_and_claim.rejected) == 1 and "attribution.NothingOwed" in fund_and_claim.rejected[0][1].detail
    chain.nonces[chain.charlie.public] -= 1  # left out of the block: its nonce unused, no fee
    ctx = chain.ex.read_context()
    assert token.account(ctx, chain.bob.public).free == 2 * ONE_OPEN + owed
    assert token.account(ctx, OWED_TO_CONTRIBUTORS).total == 0
    assert token.account(ctx, chain.charlie.public).free == charlie_before
    # a claim of nothing is refused at the door (a stale earnings page): nobody pays a fee for asking
    name, message = chain.run(chain.charlie, "attribution", "claim_owed", at.ClaimOwed(contributor=chain.bob.public))
    assert name == "NothingOwed" and "nothing is held" in message
    with pytest.raises(InvalidTransaction, match="attribution.NothingOwed"):  # what a node's pool checks
        chain.ex.validate_transaction(chain.sign(chain.bob, "attribution", "claim_owed",
                                                 at.ClaimOwed(contributor=chain.bob.public)))
    chain.nonces[chain.bob.public] -= 1
    assert token.account(chain.ex.read_context(), chain.charlie.public).free == charlie_before
    chain.ex.try_state()


def test_an_unbonded_worker_cannot_submit(make_chain, trained):
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained)
    request = _request(chain, x)
    assigned = _keys()[request.workers[0]]
    _ok(chain, assigned, "inference", "deregister_worker", inf.Deregister())  # its bond starts unbonding
    signed = _attribute(chain, worker, model_hash, index_hash, x, key=assigned)
    assert type(_submit(chain, assigned, signed, _proofs(chain, signed)).error).__name__ == "NotBonded"
    chain.ex.try_state()


def test_every_payout_is_an_event_and_the_earnings_queries_page_what_settled(make_chain, trained):
    """Explorer and earnings data: a Paid event per payment (indexed in each payee's history), a contributor's
    earnings linked to the request and model, a model's contributors and a DataNet's ranking - paged."""
    from runtime.chainindex import account_history

    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained)
    paid_by: dict[bytes, list[int]] = {}  # contributor -> the requests that paid it
    n = 0
    # requests until one contributor has been paid twice (three contributions, exact shares: the second request)
    while not any(len(requests) == 2 for requests in paid_by.values()):
        n += 1
        assert n <= 8, f"no contributor paid twice in {n - 1} requests: {paid_by}"
        _request(chain, x)
        request = inf.Request.FromString(chain.ex.query("inference", "get_request",
                                                        inf.RequestRef(request=n).SerializeToString()))
        assigned = _keys()[request.workers[0]]
        signed = _attribute(chain, worker, model_hash, index_hash, x, request_id=n, key=assigned)
        outcome = _submit(chain, assigned, signed, _proofs(chain, signed), request_id=n)
        assert outcome.ok, outcome.error
        settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
            request=n).SerializeToString()))
        for account in {p.account for p in settlement.payments if p.role == "contributor"}:
            paid_by.setdefault(account, []).append(n)
    number = settlement.settled_at
    paid = [at.Paid.FromString(e.data) for e in chain.ex.db.events(number).events if e.name == "Paid"]
    assert [(p.account, p.amount, p.role) for p in paid] == [(p.account, p.amount, p.role)
                                                            for p in settlement.payments]
    contributor, (before, last) = next((who, requests) for who, requests in paid_by.items() if len(requests) == 2)
    assert last == n
    history, _ = account_history(chain.ex.db.backend, contributor, limit=5)
    assert history[0].block_number == number and "attribution.Paid" in history[0].roles

    def query(pallet, name, request, out):
        return out.FromString(chain.ex.query(pallet, name, request.SerializeToString()))

    first = query("attribution", "list_earnings", at.EarningsPageRequest(contributor=contributor, limit=1),
                  at.EarningsPage)
    assert [(i.request, i.model) for i in first.items] == [(before, 1)] and first.next_start_after == before
    second = query("attribution", "list_earnings", at.EarningsPageRequest(
        contributor=contributor, start_after=before, limit=1), at.EarningsPage)
    assert [i.request for i in second.items] == [last] and second.next_start_after == 0
    assert second.items[0].settled_at == number
    items = list(first.items) + list(second.items)
    assert decode_u128(first.total) == sum(decode_u128(i.amount) for i in items) == decode_u128(query(
        "attribution", "get_earnings", at.EarningsRequest(contributor=contributor), at.Earnings).total)
    shares = query("attribution", "list_model_contributors", at.ModelContributorsRequest(model=1),
                   at.ModelContributors)
    earned = [decode_u128(s.earned) for s in shares.contributors]
    assert earned == sorted(earned, reverse=True) and shares.total == len(earned)
    assert sum(earned) == n * PRICE * 7000 // 10_000
    ranked = query("datanet", "rank_contributors", dn.RankRequest(datanet=1, limit=1), dn.RankedContributors)
    assert ranked.total == 3 and ranked.next_offset == 1
    assert ranked.contributors[0].contributor == shares.contributors[0].contributor
    assert decode_u128(ranked.contributors[0].stats.earned) == earned[0]


def test_a_result_must_name_the_hash_of_the_block_that_included_its_request(make_chain, trained):
    """The chain gives each request the hash of its block as its draw seed (answered while that block is the
    head, stored at the next one's start) and refuses a result naming any other seed - the worker's own
    choice, the request id and input, or nothing."""
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained)
    request = _request(chain, x)
    included = blake2_256(chain.ex.db.block(request.created_at).header)
    assert request.draw_seed == included and request.created_at == chain.ex.head.number
    chain.block()
    assert _get_request(chain, 1).draw_seed == included  # stored, no longer the head's hash
    assigned = _keys()[request.workers[0]]
    good = _attribute(chain, worker, model_hash, index_hash, x, key=assigned)
    assert at.AttributionResult.FromString(good.result).draw_seed == included
    for seed in (b"", blake2_256(b"the worker's choice"), request_id_bytes(1) + request.input_hash):
        result = at.AttributionResult.FromString(good.result)
        result.draw_seed = seed
        body = result.SerializeToString(deterministic=True)
        outcome = _submit(chain, assigned, at.SignedAttribution(result=body, signature=assigned.sign(body)),
                          _proofs(chain, good))
        assert type(outcome.error).__name__ == "Mismatch", seed
        assert f"hash of block {request.created_at}" in str(outcome.error)
    assert _submit(chain, assigned, good, _proofs(chain, good)).ok
    chain.ex.try_state()


def _tail(chain, request_id=1):
    return at.Tail.FromString(chain.ex.query("attribution", "get_tail",
                                             at.SettlementRequest(request=request_id).SerializeToString()))


def test_a_results_tail_is_paid_page_by_page_each_contribution_its_exact_share(make_chain, trained, monkeypatch):
    """Issue 29.3: a result that lists fewer contributions than it credits (here 1 of 3; a real one, 16 of
    many) commits to the rest, its tail; settling sets the tail's part of the pool aside, and its pages - one
    contribution each here - pay each contribution ⌊amount·share/tail share⌋ in order, anyone submitting
    them; the last sends the rounding to the model owner. Pages out of order, altered or without proofs are
    refused (the pool refuses a page that is not the next before any fee), and a paid tail is gone."""
    import pallets.attribution.tail
    import sdk.wire
    from runtime.protocol import TAIL_SHARES

    monkeypatch.setattr(sdk.wire, "TAIL_PAGE", 1)
    monkeypatch.setattr(pallets.attribution.tail, "TAIL_PAGE", 1)
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained)
    request = _request(chain, x)
    assigned = _keys()[request.workers[0]]
    signed = _attribute(chain, worker, model_hash, index_hash, x, key=assigned, top_k=1)
    result = at.AttributionResult.FromString(signed.result)
    assert len(result.top_k) == 1 and result.tail_contributions == len(signed.tail) == 2
    assert result.top_k[0].score_ppb + result.tail_ppb == 10**9 and result.tail_root == sdk_tail_root(signed.tail)
    leaves = {leaf.contribution_id: leaf for leaf in signed.tail}
    owners = {1: chain.bob.public, 2: chain.charlie.public, 3: chain.dave.public}
    before = {cid: token.account(chain.ex.read_context(), owners[cid]).total for cid in leaves}
    assert _submit(chain, assigned, signed, _proofs(chain, signed)).ok
    settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
        request=1).SerializeToString()))
    set_aside = [p for p in settlement.payments if p.role == "tail"]
    assert [p.account for p in set_aside] == [TAIL_SHARES]
    amount = decode_u128(set_aside[0].amount)
    pool = PRICE * 7000 // 10_000
    listed = sum(decode_u128(p.amount) for p in settlement.payments if p.role == "contributor")
    assert listed + amount == pool and abs(amount - pool * result.tail_ppb // 10**9) <= 1
    tail = _tail(chain)
    assert (tail.next, decode_u128(tail.amount), tail.left) == (result.tail_root, amount, 2)
    chain.ex.try_state()

    pages = tail_pages(list(signed.tail))
    assert len(pages) == 2 and not pages[1][1]

    def page(which, leaves=None, proofs=None, following=None):
        chosen, after = pages[which]
        chosen = list(chosen if leaves is None else leaves)
        return at.PayTail(request=1, leaves=chosen, next=after if following is None else following,
                          proofs=_proofs(chain, at.SignedAttribution(result=at.AttributionResult(
                              top_k=chosen).SerializeToString())) if proofs is None else proofs)

    payer = FERDIE  # anyone may pay a page: the money goes only to the contributors
    assert chain.run(payer, "attribution", "pay_tail", page(1))[0] == "NotTheNextPage"  # out of order
    altered = at.ContributionScore()
    altered.CopyFrom(pages[0][0][0])
    altered.score_ppb += 1
    assert chain.run(payer, "attribution", "pay_tail", page(0, leaves=[altered]))[0] == "NotTheNextPage"
    assert chain.run(payer, "attribution", "pay_tail", page(0, following=b"\0" * 32))[0] == "NotTheNextPage"
    assert chain.run(payer, "attribution", "pay_tail", page(0, proofs=[]))[0] == "BadProof"
    assert chain.run(payer, "attribution", "pay_tail", page(0)) is None
    assert _tail(chain).left == 1 and _tail(chain).next == tail_page_hash(*pages[1])
    assert chain.run(payer, "attribution", "pay_tail", page(0))[0] == "NotTheNextPage"  # paid already
    assert chain.run(payer, "attribution", "pay_tail", page(1)) is None
    assert chain.run(payer, "attribution", "pay_tail", page(1))[0] == "NoTail"
    with pytest.raises(NotFound, match="no tail left"):
        _tail(chain)
    ctx = chain.ex.read_context()
    listed_to = {p.contribution_id: decode_u128(p.amount) for p in settlement.payments if p.role == "contributor"}
    for cid, leaf in leaves.items():
        earned = decode_u128(at.Earnings.FromString(chain.ex.query("attribution", "get_earnings", at.EarningsRequest(
            contributor=owners[cid]).SerializeToString())).total)
        assert earned - listed_to.get(cid, 0) == amount * leaf.score_ppb // result.tail_ppb
        if owners[cid] != chain.dave.public:  # Dave also paid the fee
            assert token.account(ctx, owners[cid]).total - before[cid] == earned
    assert token.account(ctx, TAIL_SHARES).total == 0  # all of it paid out, the rounding to the owner
    chain.ex.try_state()


def _tail_altered(chain, worker, model_hash, index_hash, x, key, alter):
    """The worker's result listing 1 contribution, its tail's shares changed by `alter(leaves)` (the tail's
    total kept): signed anew, the root over the changed leaves."""
    signed = _attribute(chain, worker, model_hash, index_hash, x, key=key, top_k=1)
    result = at.AttributionResult.FromString(signed.result)
    tail = list(signed.tail)
    alter(tail)
    result.tail_root = sdk_tail_root(tail)
    body = result.SerializeToString(deterministic=True)
    return at.SignedAttribution(result=body, signature=key.sign(body), tail=tail)


def _moved(tail, by):
    tail[0].score_ppb, tail[1].score_ppb = tail[0].score_ppb + by, tail[1].score_ppb - by


def _tail_lie(chain, worker, model_hash, index_hash, x, key):
    """A signed result listing what the honest ones list, its tail moved almost whole to one contribution."""
    return _tail_altered(chain, worker, model_hash, index_hash, x, key,
                         lambda tail: _moved(tail, tail[1].score_ppb - 1))


def _result_of(chain, request_id, worker):
    return at.StoredResult.FromString(chain.ex.query("attribution", "get_result", at.ResultRequest(
        request=request_id, worker=worker).SerializeToString()))


@pytest.mark.parametrize("liar_at", [0, 2])
def test_the_tail_most_replicas_hold_is_paid_and_nobody_is_slashed_over_a_tail(make_chain, trained, liar_at):
    """One replica's tail differs - moved almost whole to one contribution, as a liar would, or off by a ppb,
    as another device kind's float sums make it: the tail the two others hold is paid, first or not, and its
    worker named to pay it; nobody is slashed over a tail (honest replicas on a CPU and a GPU differ there),
    and a challenge over a tail alone is not a dispute."""
    honest = functools.partial(_attribute, top_k=1)
    chain, liar_key, _, settlement = _settled_with_a_liar(make_chain, trained, honest, _tail_lie, liar_at)
    assert not settlement.slashed_workers and len(settlement.agreeing_workers) == 3
    honest_root = next(_result_of(chain, 1, w).tail_root for w in settlement.agreeing_workers if w != liar_key.public)
    assert _tail(chain).next == settlement.tail_root == honest_root != _result_of(chain, 1, liar_key.public).tail_root
    assert settlement.tail_worker != liar_key.public and _result_of(chain, 1, settlement.tail_worker).tail_root \
        == honest_root
    chain.ex.try_state()


def _tail_off_by_one(chain, worker, model_hash, index_hash, x, key, by=1):
    """The honest result with one tail share `by` ppb up and another down: another device kind's tail."""
    return _tail_altered(chain, worker, model_hash, index_hash, x, key, lambda tail: _moved(tail, by))


def test_two_replicas_holding_two_tails_get_a_third_and_without_one_the_listed_take_the_tail(make_chain, trained):
    """Two replicas, two tail roots (a CPU and a GPU): the chain cannot tell which is right, so it assigns
    another worker, whose tail decides - nobody slashed. Three roots and no worker left: the tail's part of
    the pool goes to the listed contributions, pro rata."""
    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained, replication=2)
    request = _request(chain, x)
    keys = _keys()
    first, second = (keys[a] for a in request.workers)
    for key, answer in ((first, _attribute), (second, _tail_off_by_one)):
        signed = answer(chain, worker, model_hash, index_hash, x, key=key, **({"top_k": 1} if answer is _attribute
                                                                                else {}))
        assert _submit(chain, key, signed, _proofs(chain, signed)).ok
    request = _get_request(chain, 1)
    assert request.status == inf.PENDING and len(request.workers) == 3  # escalated: a third worker
    third = keys[request.workers[2]]
    signed = _attribute(chain, worker, model_hash, index_hash, x, key=third, top_k=1)
    assert _submit(chain, third, signed, _proofs(chain, signed)).ok
    settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
        request=1).SerializeToString()))
    assert not settlement.slashed_workers and len(settlement.agreeing_workers) == 3
    assert settlement.tail_root == _result_of(chain, 1, first.public).tail_root == _tail(chain).next
    chain.ex.try_state()

    chain = _world(make_chain, trained, replication=3)
    request = _request(chain, x)
    for n, account in enumerate(request.workers):  # three device kinds, as it were
        signed = _tail_off_by_one(chain, worker, model_hash, index_hash, x, keys[account], by=n)
        assert _submit(chain, keys[account], signed, _proofs(chain, signed)).ok
    settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
        request=1).SerializeToString()))
    assert not settlement.slashed_workers and not settlement.tail_root
    assert "tail" not in {p.role for p in settlement.payments}
    listed = sum(decode_u128(p.amount) for p in settlement.payments if p.role == "contributor")
    assert listed == PRICE * 7000 // 10_000  # the whole pool to the listed contribution
    with pytest.raises(NotFound):
        _tail(chain)
    chain.ex.try_state()


def test_a_tail_whose_shares_fall_short_sends_the_shortfall_to_the_treasury_not_the_owner(make_chain, trained):
    """A worker's tail whose leaves add up to less than the tail's share (an owner running the worker might
    try it, to collect the rest as rounding): the owner gets at most a base unit per contribution paid, the
    treasury the rest. A challenge over a tail alone is not a dispute (tails are settled by replication)."""
    def tenth(tail):
        for leaf in tail:
            leaf.score_ppb //= 10

    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained)
    request = _request(chain, x)
    assigned = _keys()[request.workers[0]]
    short = _tail_altered(chain, worker, model_hash, index_hash, x, assigned, tenth)
    tail = list(short.tail)
    assert _submit(chain, assigned, short, _proofs(chain, short)).ok
    other = next(k for a, k in _keys().items() if a != assigned.public)
    honest = _attribute(chain, worker, model_hash, index_hash, x, key=other, top_k=1)
    assert chain.run(other, "attribution", "challenge", at.Challenge(
        request=1, signed_attribution=honest.SerializeToString(), proofs=_proofs(chain, honest)))[0] == "NotADispute"
    amount = decode_u128(_tail(chain).amount)
    ((leaves, after),) = tail_pages(tail)
    assert chain.run(FERDIE, "attribution", "pay_tail", at.PayTail(
        request=1, leaves=leaves, next=after, proofs=_proofs(chain, at.SignedAttribution(
            result=at.AttributionResult(top_k=leaves).SerializeToString())))) is None
    paid = [at.Paid.FromString(e.data) for e in chain.ex.db.events(chain.ex.head.number).events if e.name == "Paid"]
    by_role = {}
    for p in paid:
        by_role[p.role] = by_role.get(p.role, 0) + decode_u128(p.amount)
    assert by_role["model_owner (the tail's rounding)"] <= 2
    assert by_role["protocol (a tail whose shares fall short of its total)"] > amount * 8 // 10
    assert sum(by_role.values()) == amount
    chain.ex.try_state()


def test_a_tail_nobody_pays_within_its_window_is_closed_to_the_treasury(make_chain, trained):
    """Its worker gone with the leaves, a tail would hold its money forever: from the block after its window
    anyone may close it (the pool refuses it earlier, before any fee), and what it holds goes to the treasury
    - not to the model owner, who may run the worker that left it unpaid."""
    from runtime.protocol import TAIL_SHARES

    worker, model_hash, index_hash, x = trained
    chain = _world(make_chain, trained, tail_window=3)
    request = _request(chain, x)
    assigned = _keys()[request.workers[0]]
    signed = _attribute(chain, worker, model_hash, index_hash, x, key=assigned, top_k=1)
    assert _submit(chain, assigned, signed, _proofs(chain, signed)).ok
    tail = _tail(chain)
    assert tail.expires_at == chain.ex.head.number + 3
    for _ in range(3):
        refused = chain.run(FERDIE, "attribution", "close_tail", at.CloseTail(request=1))
        assert refused[0] == "TailNotDue" and f"closed from block {tail.expires_at + 1}" in refused[1]
    assert chain.run(FERDIE, "attribution", "close_tail", at.CloseTail(request=1)) is None
    assert chain.ex.head.number == tail.expires_at + 1
    closed = [at.TailClosed.FromString(e.data) for e in chain.ex.db.events(chain.ex.head.number).events
              if e.name == "TailClosed"]
    assert [(c.request, decode_u128(c.amount), c.left) for c in closed] == [(1, decode_u128(tail.amount), 2)]
    assert token.account(chain.ex.read_context(), TAIL_SHARES).total == 0  # to the treasury: see the event
    assert chain.run(FERDIE, "attribution", "close_tail", at.CloseTail(request=1))[0] == "NoTail"
    chain.ex.try_state()

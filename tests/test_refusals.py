"""Nobody is punished for being right: a worker's signed refusal ("refused, and why") closes a request with
its reason, refunds the requester (less the worker's part of the flat fee when the request was at fault) and
slashes nobody; the chain refuses, uncharged, what it can check itself. In-process, the real executive."""

import pytest

from gpu_worker.paid.refusal import Refused, sign_refusal
from gpu_worker.results import Shares, build_result
from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.chainspec import ChainSpec, dev_spec
from runtime.codec import ONE_OPEN, decode_u128, encode_u128
from runtime.crypto import Keypair, blake2_256
from runtime.errors import Invalid
from sdk.wire import request_id_bytes

EVE, FERDIE = Keypair.from_uri("//Eve"), Keypair.from_uri("//Ferdie")
FLAT, PER_OUT = 2 * ONE_OPEN, ONE_OPEN // 100
CONTEXT = 512
SPLIT = mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500)
PROMPT = b"tell me everything"


def _ok(chain, signer, pallet, call, args):
    outcome = chain.block(chain.sign(signer, pallet, call, args)).outcomes[0]
    assert outcome.ok, outcome.error
    return outcome


def _world(make_chain, replication=1):
    """A language base of 512 positions, a flat + per-output-token model on it, Eve and Ferdie bonded."""
    doc = dev_spec().to_dict()
    doc["config"]["inference"] = {"replication": str(replication), "deadline_blocks": "10"}
    chain = make_chain(ChainSpec.from_dict(doc))
    for who in (EVE, FERDIE):
        assert chain.block(chain.transfer(chain.alice, who.public, 1000 * ONE_OPEN)).outcomes[0].ok
    _ok(chain, chain.alice, "datanet", "create_datanet", dn.CreateDataNet(
        name="facts", domain="text", license="CC0-1.0", contribution_deposit=encode_u128(ONE_OPEN),
        accepted_formats=["jsonl"]))
    _ok(chain, chain.bob, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=blake2_256(b"row"), size=3,
                                                                 format="jsonl"))
    _ok(chain, chain.alice, "datanet", "approve", dn.Decide(contribution=1))
    _ok(chain, chain.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1))
    _ok(chain, chain.alice, "modelregistry", "register_base_model",
        mr.RegisterBaseModel(artifact_hash=b"\x01" * 32, architecture="llama", license="MIT",
                             context_length=CONTEXT))
    _ok(chain, chain.alice, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=b"\x02" * 32,
        artifact_hash=b"\x03" * 32,
        attribution_index_hash=b"\x04" * 32, attribution_method=mr.GRADIENT, price_per_inference=encode_u128(FLAT),
        price_per_output_token=encode_u128(PER_OUT), split=SPLIT))
    for who in (EVE, FERDIE):
        _ok(chain, who, "inference", "register_worker", inf.RegisterWorker(
            endpoint="127.0.0.1:1", models=[1], device="cpu", bond=encode_u128(100 * ONE_OPEN)))
    return chain


def _args(max_new=100, **kw):
    return inf.RequestInference(model=1, input=PROMPT, max_new_tokens=max_new,
                                max_fee=encode_u128(FLAT + max_new * PER_OUT), **kw)


def _get(chain, pallet, query, ref, out):
    return out.FromString(chain.ex.query(pallet, query, ref.SerializeToString()))


def _request(chain, max_new=100):
    _ok(chain, chain.dave, "inference", "request_inference", _args(max_new))
    return _get(chain, "inference", "get_request", inf.RequestRef(request=1), inf.Request)


def _model(chain):
    return _get(chain, "modelregistry", "get_model", mr.ModelRequest(model=1), mr.Model)


def _refuse(chain, key, request, refused, *, request_id=None):
    signed = sign_refusal(key, request, _model(chain), refused)
    return chain.block(chain.sign(key, "attribution", "submit_refusal", at.SubmitRefusal(
        request=request_id or request.id, signed_refusal=signed.SerializeToString()))).outcomes[0]


def _over_context(request, tokens=480):
    return Refused(inf.CONTEXT_EXCEEDED, "too long", input_tokens=tokens, max_new_tokens=request.max_new_tokens,
                   limit=CONTEXT)


def _account(chain, who):
    from pallets.token import interface as token
    from runtime.context import Context

    ctx = Context(chain.ex.runtime, chain.ex.db.overlay(), block_number=0, parent_hash=bytes(32), timestamp_ms=0,
                  author=bytes(32))
    return token.account(ctx, who)


def _worker_bond(chain, who):
    return decode_u128(_get(chain, "inference", "get_worker", inf.WorkerRef(worker=who.public), inf.Worker).bond)


def _worker_part():
    return FLAT * SPLIT.worker // 10_000


def test_a_verified_context_refusal_closes_refunds_and_slashes_nobody(make_chain):
    chain = _world(make_chain)
    dave_before = _account(chain, chain.dave.public).free
    request = _request(chain)
    key = {EVE.public: EVE, FERDIE.public: FERDIE}[request.workers[0]]
    bond, free = _worker_bond(chain, key), _account(chain, key.public).free
    outcome = _refuse(chain, key, request, _over_context(request))
    assert outcome.ok, outcome.error
    closed = _get(chain, "inference", "get_request", inf.RequestRef(request=1), inf.Request)
    assert closed.status == inf.REFUSED and closed.refused == inf.CONTEXT_EXCEEDED
    settlement = _get(chain, "attribution", "get_settlement", at.SettlementRequest(request=1), at.Settlement)
    assert settlement.refused == inf.CONTEXT_EXCEEDED
    assert (settlement.input_tokens, settlement.max_new_tokens, settlement.limit) == (480, 100, CONTEXT)
    escrow = FLAT + 100 * PER_OUT
    assert decode_u128(settlement.fee) == _worker_part() and decode_u128(settlement.refund) == escrow - _worker_part()
    assert [(p.account, decode_u128(p.amount)) for p in settlement.payments] == [(key.public, _worker_part())]
    assert settlement.challenge_until == 0 and list(settlement.agreeing_workers) == [key.public]
    for _ in range(11):  # past the deadline: nothing expires, nobody is penalised
        chain.block()
    assert _get(chain, "inference", "get_request", inf.RequestRef(request=1), inf.Request).status == inf.REFUSED
    assert _worker_bond(chain, key) == bond
    fee_paid = outcome.fee
    assert _account(chain, key.public).free == free + _worker_part() - fee_paid
    dave = _account(chain, chain.dave.public)
    assert dave.reserved == 0
    request_fee = dave_before - dave.free - _worker_part()  # all the escrow came back but the worker's part
    assert 0 < request_fee < ONE_OPEN // 10  # what is left is the request's transaction fee alone


def test_refusals_the_chain_can_disprove_are_refused_and_change_nothing(make_chain):
    chain = _world(make_chain)
    request = _request(chain)
    key = {EVE.public: EVE, FERDIE.public: FERDIE}[request.workers[0]]
    other = FERDIE if key is EVE else EVE
    cases = [
        (key, Refused(inf.CONTEXT_EXCEEDED, "", input_tokens=480, max_new_tokens=100, limit=4096), "BadRefusal"),
        (key, Refused(inf.CONTEXT_EXCEEDED, "", input_tokens=100, max_new_tokens=100, limit=CONTEXT), "BadRefusal"),
        (key, Refused(inf.CONTEXT_EXCEEDED, "", input_tokens=480, max_new_tokens=40, limit=CONTEXT), "BadRefusal"),
        (key, Refused(inf.INPUT_OVER_BOUND, "", input_tokens=480, limit=400), "BadRefusal"),  # no bound escrowed
        (key, Refused(inf.INPUT_UNDECODABLE, "", input_tokens=3), "BadRefusal"),
        (key, Refused(99, ""), "BadRefusal"),
        (other, _over_context(request), "NotAssigned"),
    ]
    for signer, refused, error in cases:
        outcome = _refuse(chain, signer, request, refused)
        assert not outcome.ok and type(outcome.error).__name__ == error, (refused.reason, outcome.error)
    forged = at.SignedRefusal.FromString(sign_refusal(key, request, _model(chain), _over_context(request))
                                         .SerializeToString())
    forged.signature = key.sign(forged.refusal)  # the bare bytes, as a result is signed: not a refusal's signature
    outcome = chain.block(chain.sign(key, "attribution", "submit_refusal", at.SubmitRefusal(
        request=1, signed_refusal=forged.SerializeToString()))).outcomes[0]
    assert type(outcome.error).__name__ == "BadSignature"
    assert _get(chain, "inference", "get_request", inf.RequestRef(request=1), inf.Request).status == inf.PENDING


def _result(key, request, model):
    """A result crediting nobody (the chain accepts it: no credit needs a proof)."""
    return build_result(model_hash=model.artifact_hash, index_hash=model.attribution_index_hash,
                        input_hash=request.input_hash, output_hash=blake2_256(b"out"), method="gn", params={},
                        shares=Shares([], []), contributions=[], worker=key, request_id=request_id_bytes(request.id),
                        tokens=(5, 10), draw_seed=request.draw_seed)


def test_replicas_agreeing_on_a_refusal_share_its_cost_and_a_busy_one_abstains(make_chain):
    chain = _world(make_chain, replication=2)
    request = _request(chain)
    assert sorted(request.workers) == sorted([EVE.public, FERDIE.public])
    assert _refuse(chain, EVE, request, _over_context(request)).ok
    assert _refuse(chain, FERDIE, request, _over_context(request)).ok
    settlement = _get(chain, "attribution", "get_settlement", at.SettlementRequest(request=1), at.Settlement)
    assert sorted(settlement.agreeing_workers) == sorted([EVE.public, FERDIE.public]) and not settlement.slashed_workers
    assert sum(decode_u128(p.amount) for p in settlement.payments) == _worker_part()

    _ok(chain, chain.dave, "inference", "request_inference", _args())  # request 2: one result, one busy worker
    second = _get(chain, "inference", "get_request", inf.RequestRef(request=2), inf.Request)
    bonds = {k.public: _worker_bond(chain, k) for k in (EVE, FERDIE)}
    assert _refuse(chain, FERDIE, second, Refused(inf.BUSY, "at capacity", limit=64)).ok
    outcome = chain.block(chain.sign(EVE, "attribution", "submit_result", at.SubmitResult(
        request=2, signed_attribution=_result(EVE, second, _model(chain)).SerializeToString()))).outcomes[0]
    assert outcome.ok, outcome.error
    settled = _get(chain, "attribution", "get_settlement", at.SettlementRequest(request=2), at.Settlement)
    assert list(settled.agreeing_workers) == [EVE.public] and not settled.slashed_workers and not settled.refused
    assert decode_u128(settled.fee) == FLAT + 10 * PER_OUT
    assert {k.public: _worker_bond(chain, k) for k in (EVE, FERDIE)} == bonds  # the busy worker is not slashed

    _ok(chain, chain.dave, "inference", "request_inference", _args())  # request 3: both busy: refunded in full
    third = _get(chain, "inference", "get_request", inf.RequestRef(request=3), inf.Request)
    for key in (EVE, FERDIE):
        assert _refuse(chain, key, third, Refused(inf.BUSY, "at capacity", limit=64)).ok
    closed = _get(chain, "inference", "get_request", inf.RequestRef(request=3), inf.Request)
    assert closed.status == inf.REFUSED and closed.refused == inf.BUSY
    refused = _get(chain, "attribution", "get_settlement", at.SettlementRequest(request=3), at.Settlement)
    assert decode_u128(refused.fee) == 0 and decode_u128(refused.refund) == decode_u128(third.escrow)
    assert {k.public: _worker_bond(chain, k) for k in (EVE, FERDIE)} == bonds


def test_the_chain_refuses_what_it_can_check_before_any_fee_or_escrow(make_chain):
    chain = _world(make_chain)
    before = _account(chain, chain.dave.public)
    cases = [(_args(max_new=CONTEXT), "inference.ContextExceeded"),
             (inf.RequestInference(model=1, max_new_tokens=8, max_fee=encode_u128(FLAT + 8 * PER_OUT)),
              "inference.NoInput"),
             (inf.RequestInference(model=1, input=b"x" * 5000, max_new_tokens=8,
                                   max_fee=encode_u128(FLAT + 8 * PER_OUT)), "inference.InputTooLarge"),
             (_args(max_new=100, sampling=inf.Sampling(temperature_milli=5000)), "inference.BadInput")]
    for args, error in cases:
        raw = chain.sign(chain.dave, "inference", "request_inference", args, nonce=0)
        with pytest.raises(Exception) as caught:
            chain.ex.validate_transaction(raw)
        assert caught.value.reason == Invalid.REJECTED_BY_PALLET and error in str(caught.value)
        result = chain.block(raw)
        assert not result.outcomes and "REJECTED" in result.rejected[0][1].reason.name
    after = _account(chain, chain.dave.public)
    assert (after.free, after.reserved) == (before.free, before.reserved)  # not a base unit taken

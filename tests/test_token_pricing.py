"""Per-token pricing: a request escrows its model's flat fee plus token prices at the request's bounds;
settlement charges the counts the workers signed and refunds the rest in the same block. Whatever the
prices, bounds and counts, nothing is minted or lost (property test)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pallets.inference.storage import NextRequestId
from pallets.token import interface as token
from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import ONE_OPEN, decode_u128, encode_u128
from runtime.crypto import Keypair, blake2_256
from sdk.wire import request_id_bytes

EVE = Keypair.from_uri("//Eve")
MODEL_HASH, INDEX_HASH = blake2_256(b"adapter"), blake2_256(b"span index")
SPLIT = mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500)


def _ok(chain, signer, pallet, call, args):
    outcome = chain.block(chain.sign(signer, pallet, call, args)).outcomes[0]
    assert outcome.ok, outcome.error
    return outcome


def _error(chain, signer, pallet, call, args) -> str | None:
    """The call's typed error and message (None: it succeeded). A request the chain refuses before any fee is
    never included: its error comes from the rejection, and the signer's nonce was not used."""
    block = chain.block(chain.sign(signer, pallet, call, args))
    if block.rejected:
        assert not block.outcomes
        chain.nonces[signer.public] -= 1
        return block.rejected[0][1].detail.split(".", 1)[1]
    outcome = block.outcomes[0]
    return None if outcome.ok else f"{type(outcome.error).__name__}: {outcome.error.message}"


def _query(chain, pallet, name, request, response):
    return response.FromString(chain.ex.query(pallet, name, request.SerializeToString()))


@pytest.fixture
def priced(chain):
    """Bob's contribution in DataNet 1 (snapshot 1); Alice's span-attributed model 1 on it; Eve serves it."""
    c = chain
    _ok(c, c.alice, "datanet", "create_datanet", dn.CreateDataNet(name="text", domain="code", license="CC0-1.0",
                                                                  contribution_deposit=encode_u128(ONE_OPEN),
                                                                  accepted_formats=["text"]))
    _ok(c, c.bob, "datanet", "contribute",
        dn.Contribute(datanet=1, content_hash=blake2_256(b"rows"), size=4, format="text"))
    _ok(c, c.alice, "datanet", "approve", dn.Decide(contribution=1))
    _ok(c, c.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1))
    _ok(c, c.alice, "modelregistry", "register_base_model",
        mr.RegisterBaseModel(artifact_hash=blake2_256(b"base"), architecture="llama",
                             format=mr.HF_DIRECTORY, license="MIT"))
    _ok(c, c.alice, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=blake2_256(b"config"),
        artifact_hash=MODEL_HASH, attribution_index_hash=INDEX_HASH, attribution_method=mr.SPAN, split=SPLIT,
        price_per_inference=encode_u128(ONE_OPEN // 10), price_per_input_token=encode_u128(ONE_OPEN // 1000),
        price_per_output_token=encode_u128(ONE_OPEN // 100), format=mr.PEFT_LORA))
    _ok(c, EVE, "inference", "register_worker", inf.RegisterWorker(endpoint="127.0.0.1:1", models=[1], device="cpu",
                                                                   bond=encode_u128(100 * ONE_OPEN)))
    return c


def _result(chain, request: inf.Request, input_tokens: int, output_tokens: int) -> at.SubmitResult:
    """Eve's signed span result for the request, crediting Bob's contribution, with these token counts."""
    result = at.AttributionResult(
        model_hash=MODEL_HASH, index_hash=INDEX_HASH, input_hash=request.input_hash,
        output_hash=blake2_256(b"output %d" % request.id), method="span", params_json="{}", worker=EVE.public,
        request_id=request_id_bytes(request.id), input_tokens=input_tokens, output_tokens=output_tokens,
        draw_seed=request.draw_seed,
        top_k=[at.ContributionScore(contribution_id=1, contributor=chain.bob.public, score_ppb=600_000_000)])
    body = result.SerializeToString(deterministic=True)
    proof = _query(chain, "datanet", "get_membership", dn.ProofRequest(datanet=1, version=1, contribution=1),
                   dn.MembershipProof)
    return at.SubmitResult(request=request.id, proofs=[at.ContributionProof(datanet=1, version=1, proof=proof)],
                           signed_attribution=at.SignedAttribution(result=body, signature=EVE.sign(body))
                           .SerializeToString())


def _request(chain, max_input: int, max_new: int, max_fee: int) -> inf.Request:
    _ok(chain, chain.dave, "inference", "request_inference", inf.RequestInference(
        model=1, input=b"a prompt %d" % chain.timestamp, max_input_tokens=max_input, max_new_tokens=max_new,
        max_fee=encode_u128(max_fee)))
    ctx = chain.ex.read_context()
    with ctx.acting_as("inference"):
        request_id = NextRequestId.get(ctx) - 1
    return _query(chain, "inference", "get_request", inf.RequestRef(request=request_id), inf.Request)


def test_the_escrow_covers_the_bounds_and_settlement_charges_the_real_counts(priced):
    c = priced
    flat, per_in, per_out = ONE_OPEN // 10, ONE_OPEN // 1000, ONE_OPEN // 100
    at_bounds = flat + 200 * per_in + 50 * per_out
    assert "FeeTooLow" in _error(c, c.dave, "inference", "request_inference", inf.RequestInference(
        model=1, input=b"x", max_input_tokens=200, max_new_tokens=50, max_fee=encode_u128(at_bounds - 1)))
    assert "max_new_tokens must be within 1..4096" in _error(c, c.dave, "inference", "request_inference",
                                                             inf.RequestInference(
        model=1, input=b"x", max_input_tokens=200, max_fee=encode_u128(at_bounds)))
    assert "max_input_tokens must be within" in _error(c, c.dave, "inference", "request_inference",
                                                       inf.RequestInference(
        model=1, input=b"x", max_new_tokens=50, max_fee=encode_u128(at_bounds)))
    before = token.account(c.ex.read_context(), c.dave.public)
    request = _request(c, 200, 50, at_bounds)
    assert decode_u128(request.escrow) == at_bounds
    assert token.account(c.ex.read_context(), c.dave.public).reserved == before.reserved + at_bounds
    # counts beyond the bounds are refused; within them the real counts are charged and the rest refunded
    over = _error(c, EVE, "attribution", "submit_result", _result(c, request, 12, 51))
    assert "Mismatch" in over and "escrowed for at most 50" in over
    _ok(c, EVE, "attribution", "submit_result", _result(c, request, 12, 7))
    settlement = _query(c, "attribution", "get_settlement", at.SettlementRequest(request=request.id), at.Settlement)
    fee = flat + 12 * per_in + 7 * per_out
    assert decode_u128(settlement.fee) == fee and decode_u128(settlement.refund) == at_bounds - fee
    assert (settlement.input_tokens, settlement.output_tokens) == (12, 7)
    after = token.account(c.ex.read_context(), c.dave.public)
    assert after.reserved == before.reserved
    # the model's later price change does not touch requests already made
    _ok(c, c.alice, "modelregistry", "update_price", mr.UpdatePrice(model=1, price_per_inference=encode_u128(ONE_OPEN)))
    assert "a model must charge something" in _error(c, c.alice, "modelregistry", "update_price",
                                                     mr.UpdatePrice(model=1))
    c.ex.try_state()


def test_a_request_that_cannot_fit_its_base_model_s_context_is_refused_when_made(priced):
    """A language model's base records its context: max_new_tokens that leave no position for a prompt
    are refused at once (nothing escrowed); the worker checks the prompt's real length against the rest."""
    c = priced
    _ok(c, c.alice, "modelregistry", "register_base_model",
        mr.RegisterBaseModel(artifact_hash=blake2_256(b"base 2"), architecture="llama",
                             format=mr.HF_DIRECTORY, license="MIT", context_length=64))
    base = _query(c, "modelregistry", "get_base_model", mr.BaseModelRequest(base_model=2), mr.BaseModel)
    assert base.context_length == 64
    _ok(c, c.alice, "modelregistry", "register_model", mr.RegisterModel(
        base_model=2, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=blake2_256(b"config"),
        artifact_hash=blake2_256(b"adapter 2"), attribution_index_hash=INDEX_HASH, attribution_method=mr.SPAN,
        split=SPLIT, price_per_inference=encode_u128(ONE_OPEN // 10), format=mr.PEFT_LORA))
    _ok(c, c.charlie, "inference", "register_worker",
        inf.RegisterWorker(endpoint="127.0.0.1:2", base_models=[2], device="cpu",
                           bond=encode_u128(100 * ONE_OPEN)))
    before = token.account(c.ex.read_context(), c.dave.public)
    refused = _error(c, c.dave, "inference", "request_inference", inf.RequestInference(
        model=2, input=b"x", max_new_tokens=64, max_fee=encode_u128(ONE_OPEN)))
    assert refused == ("ContextExceeded: max_new_tokens 64 leaves no room for a prompt: model 2's base holds 64 "
                       "positions (prompt and new tokens together)")
    assert token.account(c.ex.read_context(), c.dave.public).reserved == before.reserved
    _ok(c, c.dave, "inference", "request_inference", inf.RequestInference(model=2, input=b"x", max_new_tokens=63,
                                                                          max_fee=encode_u128(ONE_OPEN)))
    # base 1 declared no context: only the chain's own token bounds apply
    _ok(c, c.dave, "inference", "request_inference",
        inf.RequestInference(model=1, input=b"x", max_input_tokens=10, max_new_tokens=4096,
                             max_fee=encode_u128(100 * ONE_OPEN)))
    c.ex.try_state()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_nothing_is_minted_or_lost_whatever_the_prices_bounds_and_counts(priced, data):
    c = priced
    flat, per_in, per_out = (data.draw(st.integers(0, 10**15)) for _ in range(3))
    if not (flat or per_in or per_out):
        flat = 1
    _ok(c, c.alice, "modelregistry", "update_price", mr.UpdatePrice(model=1, price_per_inference=encode_u128(flat),
                                                                     price_per_input_token=encode_u128(per_in),
                                                                     price_per_output_token=encode_u128(per_out)))
    max_input, max_new = data.draw(st.integers(1, 4096)), data.draw(st.integers(1, 4096))
    used_input, used_new = data.draw(st.integers(0, max_input)), data.draw(st.integers(0, max_new))
    ctx = c.ex.read_context()
    issuance = token.total_issuance(ctx)
    reserved = token.account(ctx, c.dave.public).reserved
    escrow = flat + per_in * max_input + per_out * max_new
    request = _request(c, max_input, max_new, escrow + data.draw(st.integers(0, 10)))
    assert decode_u128(request.escrow) == escrow
    _ok(c, EVE, "attribution", "submit_result", _result(c, request, used_input, used_new))
    ctx = c.ex.read_context()
    settlement = _query(c, "attribution", "get_settlement", at.SettlementRequest(request=request.id), at.Settlement)
    fee = flat + per_in * used_input + per_out * used_new
    assert decode_u128(settlement.fee) == fee and decode_u128(settlement.refund) == escrow - fee
    assert sum(decode_u128(p.amount) for p in settlement.payments) == fee  # paid out exactly, to the unit
    assert token.account(ctx, c.dave.public).reserved == reserved  # the whole escrow left the reserve
    assert token.total_issuance(ctx) == issuance  # nothing minted, nothing burnt
    c.ex.try_state()

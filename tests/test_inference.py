"""The inference pallet: bonded workers, escrowed requests, deterministic assignment, deadline expiry."""

from pallets.token import interface as token
from payable.datanet.v1 import datanet_pb2 as dn
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.chainspec import ChainSpec, dev_spec
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair

PRICE = ONE_OPEN
EVE, FERDIE = Keypair.from_uri("//Eve"), Keypair.from_uri("//Ferdie")


def _ok(chain, signer, pallet, call, args):
    outcome = chain.block(chain.sign(signer, pallet, call, args)).outcomes[0]
    assert outcome.ok, outcome.error
    return outcome


def _err(chain, signer, pallet, call, args) -> str:
    outcome = chain.block(chain.sign(signer, pallet, call, args)).outcomes[0]
    assert not outcome.ok
    return type(outcome.error).__name__


def _with_model(chain, price=PRICE):
    """DataNet 1 → snapshot 1 → base model 1 → model 1 (price per inference)."""
    _ok(chain, chain.alice, "datanet", "create_datanet", dn.CreateDataNet(name="d", domain="x", license="MIT",
                                                                          contribution_deposit=encode_u128(ONE_OPEN),
                                                                          accepted_formats=["csv"]))
    _ok(chain, chain.bob, "datanet", "contribute",
        dn.Contribute(datanet=1, content_hash=b"\x05" * 32, size=3, format="csv"))
    _ok(chain, chain.alice, "datanet", "approve", dn.Decide(contribution=1))
    _ok(chain, chain.alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1))
    _ok(chain, chain.dave, "modelregistry", "register_base_model",
        mr.RegisterBaseModel(artifact_hash=b"\x01" * 32, architecture="mlp",
                             license="MIT"))
    _ok(chain, chain.dave, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=b"\x02" * 32,
        artifact_hash=b"\x03" * 32, attribution_index_hash=b"\x04" * 32, price_per_inference=encode_u128(price),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500)))
    return chain


def _register(chain, who, bond=100 * ONE_OPEN, models=(1,)):
    return chain.block(chain.sign(who, "inference", "register_worker", inf.RegisterWorker(
        endpoint="127.0.0.1:9955", models=list(models), device="cpu", bond=encode_u128(bond)))).outcomes[0]


def _request(chain, who, max_fee=PRICE, **kw):
    return chain.block(chain.sign(who, "inference", "request_inference", inf.RequestInference(
        model=1, input=kw.get("input", b"features"), max_fee=encode_u128(max_fee)))).outcomes[0]


def _refused(chain, who, args) -> str:
    """The typed error (`NoWorker`, `FeeTooLow`, ...) of a request the chain refuses before any fee is taken or
    anything escrowed: never included in the block, the signer's nonce and balance untouched."""
    free = token.account(chain.ex.read_context(), who.public).free
    block = chain.block(chain.sign(who, "inference", "request_inference", args))
    assert not block.outcomes and len(block.rejected) == 1
    chain.nonces[who.public] -= 1  # not included: the nonce was not used
    assert token.account(chain.ex.read_context(), who.public).free == free
    pallet_error = block.rejected[0][1].detail.split(":")[0]
    assert pallet_error.startswith(("inference.", "modelregistry.")), pallet_error
    return pallet_error.split(".")[1]


def _refused_request(chain, who, max_fee=PRICE, **kw) -> str:
    return _refused(chain, who, inf.RequestInference(model=1, input=kw.get("input", b"features"),
                                                     max_fee=encode_u128(max_fee)))


def _get(chain, request_id):
    return inf.Request.FromString(chain.ex.query("inference", "get_request",
                                                 inf.RequestRef(request=request_id).SerializeToString()))


def test_workers_bond_to_register_and_bad_registrations_fail(chain):
    _with_model(chain)
    assert type(_register(chain, EVE, bond=ONE_OPEN).error).__name__ == "BondTooSmall"
    assert type(_register(chain, EVE, models=(7,)).error).__name__ == "UnknownModel"
    assert _register(chain, EVE).ok
    assert type(_register(chain, EVE).error).__name__ == "AlreadyRegistered"
    assert token.account(chain.ex.read_context(), EVE.public).bonded == 100 * ONE_OPEN
    chain.ex.try_state()


def test_requests_escrow_the_price_and_are_assigned_deterministically(make_chain):
    doc = dev_spec().to_dict()
    doc["config"]["inference"] = {"replication": "2"}
    spec = ChainSpec.from_dict(doc)
    chain, replica = _with_model(make_chain(spec)), make_chain(spec)
    assert _refused_request(chain, chain.charlie) == "NoWorker"
    for who in (EVE, FERDIE, chain.alice):
        assert _register(chain, who).ok
    before = token.account(chain.ex.read_context(), chain.charlie.public).reserved
    assert _refused_request(chain, chain.charlie, max_fee=PRICE - 1) == "FeeTooLow"
    assert _refused_request(chain, chain.charlie, input=b"x" * 5000) == "InputTooLarge"
    assert _refused_request(chain, chain.charlie, input=b"") == "NoInput"
    assert _request(chain, chain.charlie).ok
    made = _get(chain, 1)
    assert len(made.workers) == 2 and len(set(made.workers)) == 2
    assert token.account(chain.ex.read_context(), chain.charlie.public).reserved == before + PRICE
    for number in range(1, chain.ex.head.number + 1):  # a second node re-executes: same assignment
        replica.ex.import_block(chain.ex.db.block(number))
    assert inf.Request.FromString(replica.ex.query("inference", "get_request", inf.RequestRef(
        request=1).SerializeToString())).workers == made.workers
    chain.ex.try_state()


def test_a_workers_bond_leaves_only_by_deregistering(chain):
    """A registered worker cannot take its bond out through the token pallet's own unbond (its assignments
    would be backed by nothing); deregistering unbonds it."""
    from payable.token.v1 import token_pb2

    _with_model(chain)
    assert _register(chain, EVE).ok
    taken = chain.block(chain.sign(EVE, "token", "unbond", token_pb2.Unbond(amount=encode_u128(100 * ONE_OPEN))))
    assert type(taken.outcomes[0].error).__name__ == "BondInUse"
    _ok(chain, EVE, "inference", "deregister_worker", inf.Deregister())
    assert token.account(chain.ex.read_context(), EVE.public).unbonding == 100 * ONE_OPEN
    chain.ex.try_state()


def test_deregistered_workers_are_not_assigned_and_deprecated_models_take_no_requests(chain):
    _with_model(chain)
    assert _register(chain, EVE).ok and _register(chain, FERDIE).ok
    _ok(chain, EVE, "inference", "deregister_worker", inf.Deregister())
    assert token.account(chain.ex.read_context(), EVE.public).unbonding == 100 * ONE_OPEN
    for _ in range(5):
        assert _request(chain, chain.charlie).ok
    assigned = {w for i in range(1, 6) for w in _get(chain, i).workers}
    assert assigned == {FERDIE.public}
    _ok(chain, chain.dave, "modelregistry", "deprecate", mr.ModelRef(model=1))
    assert _refused_request(chain, chain.charlie) == "Deprecated"


def test_an_unanswered_request_is_refunded_and_silent_workers_are_slashed(chain):
    _with_model(chain)
    assert _register(chain, EVE).ok
    ctx = chain.ex.read_context()
    reserved, bonded = token.account(ctx, chain.charlie.public).reserved, token.account(ctx, EVE.public).bonded
    assert _request(chain, chain.charlie).ok
    deadline = _get(chain, 1).deadline
    while chain.ex.head.number < deadline:
        chain.block()
    ctx = chain.ex.read_context()
    assert _get(chain, 1).status == inf.EXPIRED
    assert token.account(ctx, chain.charlie.public).reserved == reserved  # escrow refunded
    assert token.account(ctx, EVE.public).bonded == bonded - ONE_OPEN      # missed-deadline penalty
    names = [e.name for e in chain.ex.db.events(deadline).events]
    assert "RequestExpired" in names and "Slashed" in names
    chain.ex.try_state()


def test_an_answered_worker_is_not_penalised(chain):
    """record_answer is what the attribution pallet calls on a valid result; here a block does it directly."""
    from pallets.inference import interface
    from payable.system.v1 import system_pb2
    from runtime.extrinsic import inherent_extrinsic
    from runtime.runtime import make_call_by_name

    _with_model(chain)
    assert _register(chain, EVE).ok and _request(chain, chain.charlie).ok
    bonded = token.account(chain.ex.read_context(), EVE.public).bonded
    chain.ex.initialize_block(chain.alice.public)
    chain.timestamp += 6000
    timestamp = system_pb2.SetTimestamp(now_ms=chain.timestamp)
    chain.ex.apply_extrinsic(inherent_extrinsic(make_call_by_name("system", "set_timestamp", timestamp)))
    interface.record_answer(chain.ex._pending().ctx, 1, EVE.public)
    chain.ex.finalize_block()
    chain.ex.commit(chain.ex.seal(chain.alice))
    assert _get(chain, 1).answered == [EVE.public]
    while chain.ex.head.number < _get(chain, 1).deadline:
        chain.block()
    assert token.account(chain.ex.read_context(), EVE.public).bonded == bonded  # answered: no penalty
    assert _get(chain, 1).status == inf.EXPIRED  # nobody settled it, so the requester was still refunded


def test_a_worker_serving_a_base_model_takes_requests_for_every_adapter_on_it(chain):
    """OpenLoRA: one base in memory serves all its adapters, so a worker registers for the base."""
    _with_model(chain)  # model 1: not an adapter, on base 1
    _ok(chain, chain.dave, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=b"\x06" * 32,
        artifact_hash=b"\x07" * 32, attribution_index_hash=b"\x08" * 32, price_per_inference=encode_u128(PRICE),
        format=mr.PEFT_LORA, attribution_method=mr.LORA_GRADIENT,
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500)))
    refused = chain.block(chain.sign(EVE, "inference", "register_worker", inf.RegisterWorker(
        endpoint="127.0.0.1:1", base_models=[9], device="cpu", bond=encode_u128(100 * ONE_OPEN)))).outcomes[0]
    assert type(refused.error).__name__ == "UnknownBaseModel"
    too_many = chain.block(chain.sign(EVE, "inference", "register_worker", inf.RegisterWorker(
        endpoint="127.0.0.1:1", models=list(range(1, 10)), base_models=list(range(1, 9)), device="cpu",
        bond=encode_u128(100 * ONE_OPEN)))).outcomes[0]
    assert "in all" in too_many.error.message
    _ok(chain, EVE, "inference", "register_worker",
        inf.RegisterWorker(endpoint="127.0.0.1:1", base_models=[1], device="cpu",
                           bond=encode_u128(100 * ONE_OPEN)))
    assert _refused_request(chain, chain.charlie) == "NoWorker"  # model 1 is not an adapter
    _ok(chain, chain.charlie, "inference", "request_inference", inf.RequestInference(model=2, input=b"prompt",
                                                                                     max_fee=encode_u128(PRICE)))
    assert list(_get(chain, 1).workers) == [EVE.public]
    _ok(chain, EVE, "inference", "deregister_worker", inf.Deregister())
    assert _refused(chain, chain.charlie, inf.RequestInference(model=2, input=b"again",
                                                               max_fee=encode_u128(PRICE))) == "NoWorker"
    chain.ex.try_state()


def test_an_adapter_names_a_lora_attribution_method_and_a_span_weight_only_for_both(chain):
    _with_model(chain)

    def adapter(**kw):
        fields = {"base_model": 1, "snapshots": [mr.SnapshotRef(datanet=1, version=1)],
                  "training_config_hash": b"\x06" * 32, "artifact_hash": b"\x07" * 32,
                  "attribution_index_hash": b"\x08" * 32, "price_per_inference": encode_u128(PRICE),
                  "split": mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500),
                  "format": mr.PEFT_LORA, **kw}
        return mr.RegisterModel(**fields)

    assert _err(chain, chain.dave, "modelregistry", "register_model",
                adapter(attribution_method=mr.GRADIENT)) == "BadInput"
    assert _err(chain, chain.dave, "modelregistry", "register_model",
                adapter(attribution_method=mr.SPAN_AND_LORA_GRADIENT)) == \
        "BadInput"  # both methods need the span's weight
    assert _err(chain, chain.dave, "modelregistry", "register_model",
                adapter(attribution_method=mr.SPAN_AND_LORA_GRADIENT,
                        span_weight_bps=10_000)) == "BadInput"
    assert _err(chain, chain.dave, "modelregistry", "register_model", adapter(attribution_method=mr.LORA_GRADIENT,
                                                                              span_weight_bps=10)) == "BadInput"
    assert _err(chain, chain.dave, "modelregistry", "register_model", adapter(attribution_method=mr.LORA_GRADIENT,
                                                                              format=mr.ONNX)) == "BadInput"
    _ok(chain, chain.dave, "modelregistry", "register_model", adapter(attribution_method=mr.SPAN_AND_LORA_GRADIENT,
                                                                      span_weight_bps=3000))
    stored = mr.Model.FromString(chain.ex.query("modelregistry", "get_model", mr.ModelRequest(model=2)
                                                .SerializeToString()))
    assert (stored.attribution_method, stored.span_weight_bps) == (mr.SPAN_AND_LORA_GRADIENT, 3000)


def test_sampling_is_recorded_on_the_request_and_bounded(chain):
    _with_model(chain)
    assert _register(chain, EVE).ok
    assert _refused(chain, chain.bob, inf.RequestInference(
        model=1, input=b"x", max_fee=encode_u128(PRICE), sampling=inf.Sampling(temperature_milli=2001))) == "BadInput"
    assert _refused(chain, chain.bob, inf.RequestInference(
        model=1, input=b"x", max_fee=encode_u128(PRICE),
        sampling=inf.Sampling(temperature_milli=700, top_p_milli=1001))) == "BadInput"
    for sampling in (inf.Sampling(temperature_milli=700, top_p_milli=900), inf.Sampling(top_p_milli=900)):
        outcome = chain.block(chain.sign(chain.bob, "inference", "request_inference", inf.RequestInference(
            model=1, input=b"x", max_fee=encode_u128(PRICE), sampling=sampling))).outcomes[0]
        assert outcome.ok, outcome.error
    assert _get(chain, 1).sampling == inf.Sampling(temperature_milli=700, top_p_milli=900)
    assert not _get(chain, 2).HasField("sampling")  # greedy: no sampling recorded

"""Runtime metadata lets a generic client build any call; chain specs are strict."""

import json

import pytest

from payable.runtime.v1.extrinsic_pb2 import Call
from runtime.chainspec import ChainSpec, dev_spec
from runtime.codec import ONE_OPEN, encode_u128
from runtime.errors import ChainSpecError
from runtime.extrinsic import sign_extrinsic
from runtime.metadata import message_class_lookup


def test_metadata_describes_pallets_calls_storage_events_errors(chain):
    meta = chain.ex.runtime.metadata()
    pallets = {p.name: p for p in meta.pallets}
    assert list(pallets) == ["system", "token", "datanet", "modelregistry", "inference", "attribution", "validators"]
    token = pallets["token"]
    assert [(c.index, c.name) for c in token.calls] == [
        (0, "transfer"), (1, "transfer_keep_alive"), (2, "bond"), (3, "unbond"), (4, "withdraw_unbonded")]
    assert {s.name for s in token.storage} == {"Account", "TotalIssuance"}
    assert {e.name for e in token.events} >= {"Transferred", "DustLost", "Slashed"}
    assert (token.errors[0].code, token.errors[0].name) == (0, "InsufficientBalance")
    assert json.loads(token.config_json)["unbonding_period"] == "10"
    assert pallets["system"].calls[0].inherent


def test_a_generic_client_builds_and_submits_a_call_from_metadata_alone(chain):
    meta = chain.ex.runtime.metadata()
    call = next(c for p in meta.pallets if p.name == "token" for c in p.calls if c.name == "transfer_keep_alive")
    message = message_class_lookup(meta)(call.args_type)()
    message.dest = chain.bob.public
    message.amount = encode_u128(3 * ONE_OPEN)
    raw = sign_extrinsic(chain.alice, Call(pallet="token", call_index=call.index, args=message.SerializeToString()),
                         nonce=0, genesis_hash=chain.ex.genesis_hash)
    assert chain.block(raw).outcomes[0].ok


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(typo=1), "unknown top-level"),
    (lambda d: d["runtime"]["fees"].update(base_fe=1), "unknown keys"),
    (lambda d: d["runtime"]["fees"].update(author_share_percent=101), "author_share_percent"),
    (lambda d: d.update(pallets=["token", "token"]), "distinct"),
    (lambda d: d.update(pallets=["token", "nonexistent"]), "no installed pallet"),
    (lambda d: d["config"]["token"].update(bogus=1), "unknown config keys"),
    (lambda d: d["config"]["token"].update(existential_deposit=0), "existential_deposit"),
    (lambda d: d["genesis"]["token"]["balances"].append(d["genesis"]["token"]["balances"][0]), "twice"),
    (lambda d: d["genesis"]["token"]["balances"].append(["not-an-address", "1"]), "Payable address|base58"),
    # a pallet without those it calls on (was a KeyError at its first call, charged as a DispatchPanic)
    (lambda d: d.update(pallets=["system", "datanet"]), r"pallet 'datanet' calls on \['token'\]"),
    (lambda d: d.update(pallets=["system", "token", "inference"]), "'inference' calls on .*'modelregistry'"),
    (lambda d: d["config"].update(datanet={"creation_deposit": 0}), "creation_deposit"),
    # nothing silently dropped, truncated or raised raw (a chain builder's typos)
    (lambda d: d["genesis"]["system"].update(timestamp=5), r"genesis.system: .*unknown keys \['timestamp'\]"),
    (lambda d: d.update(genesis=[]), "genesis is a JSON object"),
    (lambda d: d["runtime"]["fees"].update(base_fee=1.7), "base_fee: 1.7 is not a whole number"),
    (lambda d: d["config"]["token"].update(existential_deposit=1.5), "existential_deposit: 1.5 is not a whole"),
    (lambda d: d["genesis"]["token"]["balances"].append(["5" * 10]), "genesis.token: "),
])
def test_bad_chain_specs_are_refused_with_the_reason(mutate, message):
    from runtime.executive import Executive

    doc = json.loads(dev_spec().to_json())
    mutate(doc)
    with pytest.raises((ChainSpecError, AssertionError, ValueError), match=message):
        Executive.open(ChainSpec.from_dict(doc))


def test_spec_round_trips_through_json(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(dev_spec().to_json())
    assert ChainSpec.load(path) == dev_spec()
    path.write_text("{not json")
    with pytest.raises(ChainSpecError, match="not valid JSON"):
        ChainSpec.load(path)

"""Every rejection reason: the extrinsic is refused with that reason and nothing is written."""

import pytest

from payable.runtime.v1.extrinsic_pb2 import Call, Extrinsic
from payable.system.v1 import system_pb2
from runtime.codec import ONE_OPEN
from runtime.crypto import Keypair
from runtime.errors import Invalid, InvalidTransaction
from runtime.extrinsic import inherent_extrinsic, sign_extrinsic
from runtime.runtime import make_call_by_name


def _rejected(chain, raw: bytes) -> InvalidTransaction:
    head = chain.ex.head
    built = chain.block(raw)
    assert len(built.rejected) == 1 and not built.outcomes
    assert chain.ex.head.number == head.number + 1
    return built.rejected[0][1]


def test_bad_signature(chain):
    raw = chain.transfer(chain.alice, chain.bob.public, ONE_OPEN)
    ext = Extrinsic.FromString(raw)
    ext.signed.body = ext.signed.body + b"\x00"  # body changed after signing
    assert _rejected(chain, ext.SerializeToString()).reason in (Invalid.BAD_SIGNATURE, Invalid.BAD_ENCODING)
    forged = Extrinsic.FromString(raw)
    forged.signed.signature = Keypair.from_uri("//Mallory").sign(forged.signed.body)
    assert _rejected(chain, forged.SerializeToString()).reason == Invalid.BAD_SIGNATURE


def test_stale_and_future_nonces(chain):
    chain.block(chain.transfer(chain.alice, chain.bob.public, ONE_OPEN))
    assert _rejected(chain, chain.transfer(chain.alice, chain.bob.public, ONE_OPEN, nonce=0)).reason == \
        Invalid.STALE_NONCE
    assert _rejected(chain, chain.transfer(chain.alice, chain.bob.public, ONE_OPEN, nonce=5)).reason == \
        Invalid.FUTURE_NONCE


def test_expired_mortality(chain):
    chain.block()
    chain.block()
    err = _rejected(chain, chain.transfer(chain.alice, chain.bob.public, ONE_OPEN, valid_until=2))
    assert err.reason == Invalid.EXPIRED and "valid until block 2" in str(err)


def test_wrong_genesis_is_cross_chain_replay(chain):
    raw = chain.transfer(chain.alice, chain.bob.public, ONE_OPEN, genesis_hash=b"\x11" * 32)
    assert _rejected(chain, raw).reason == Invalid.WRONG_GENESIS


@pytest.mark.parametrize("call, reason", [
    (Call(pallet="nope", call_index=0), Invalid.UNKNOWN_PALLET),
    (Call(pallet="token", call_index=99), Invalid.UNKNOWN_CALL),
    (Call(pallet="token", call_index=1, args=b"\xff\xff\xff"), Invalid.BAD_CALL_ARGS),
    (Call(pallet="system", call_index=0, args=b""), Invalid.NOT_ALLOWED),  # inherent-only call, signed
])
def test_unresolvable_calls(chain, call, reason):
    raw = sign_extrinsic(chain.alice, call, nonce=0, genesis_hash=chain.ex.genesis_hash)
    assert _rejected(chain, raw).reason == reason


def test_undecodable_and_oversize(chain):
    assert _rejected(chain, b"\xff\x00garbage").reason == Invalid.BAD_ENCODING
    big = chain.sign(chain.alice, "system", "remark", system_pb2.Remark(data=b"x" * 200_000))
    assert _rejected(chain, big).reason == Invalid.OVERSIZE


def test_cannot_pay_fee(chain):
    pauper = Keypair.from_uri("//Pauper")
    raw = chain.transfer(pauper, chain.bob.public, 1)
    err = _rejected(chain, raw)
    assert err.reason == Invalid.CANNOT_PAY_FEE and "cannot pay fee" in str(err)


def test_user_inherents_are_refused(chain):
    raw = inherent_extrinsic(make_call_by_name("system", "set_timestamp", system_pb2.SetTimestamp(now_ms=2**40)))
    assert _rejected(chain, raw).reason == Invalid.NOT_ALLOWED


def test_rejections_write_nothing(chain):
    from runtime import system

    bad = chain.transfer(chain.alice, chain.bob.public, ONE_OPEN, nonce=9)
    with_rejection = chain.block(bad)
    assert with_rejection.rejected and with_rejection.block.extrinsics == [with_rejection.block.extrinsics[0]]
    # a twin chain given only the timestamp for the same block reaches the same state root
    from runtime.chainspec import dev_spec
    from runtime.executive import Executive

    twin = Executive.open(dev_spec())
    same = twin.author_block([], author=chain.alice, timestamp_ms=chain.timestamp)
    assert same.header.state_root == with_rejection.header.state_root
    assert system.account_nonce(chain.ex.read_context(), chain.alice.public) == 0
    twin.close()


def test_tip_is_charged_and_paid_to_the_author(chain):
    from pallets.token import interface

    ctx = chain.ex.read_context()
    author_before = interface.free_balance(ctx, chain.alice.public)
    tipped_raw = chain.transfer(chain.bob, chain.charlie.public, ONE_OPEN, tip=10**15)
    plain_raw = chain.transfer(chain.bob, chain.charlie.public, ONE_OPEN)
    built, plain = chain.block(tipped_raw), chain.block(plain_raw)
    extra_bytes = len(tipped_raw) - len(plain_raw)
    assert built.outcomes[0].fee == plain.outcomes[0].fee + 10**15 + extra_bytes * chain.ex.params.fees.byte_fee
    ctx = chain.ex.read_context()
    fees = built.outcomes[0].fee + plain.outcomes[0].fee
    to_author = [chain.ex.params.fees.split(o.fee, t)[0] for o, t in ((built.outcomes[0], 10**15),
                                                                      (plain.outcomes[0], 0))]
    assert interface.free_balance(ctx, chain.alice.public) - author_before == sum(to_author)
    assert sum(to_author) < fees

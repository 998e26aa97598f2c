"""The OPEN token pallet: transfers, existential deposit, reserves, staking, slashing, issuance."""

import pytest

from pallets.token import errors, interface
from payable.token.v1 import token_pb2
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair
from runtime.errors import Invalid, InvalidTransaction
from runtime.protocol import TREASURY

ED = ONE_OPEN // 100


def _dispatch_error(chain, raw):
    outcome = chain.block(raw).outcomes[0]
    return None if outcome.ok else type(outcome.error)


def _bal(chain, who):
    return interface.account(chain.ex.read_context(), who)


def test_transfer_moves_funds_and_creates_accounts(chain):
    newcomer = Keypair.from_uri("//New").public
    assert _dispatch_error(chain, chain.transfer(chain.alice, newcomer, ED)) is None
    assert _bal(chain, newcomer).free == ED


def test_existential_deposit_and_keep_alive(chain):
    newcomer = Keypair.from_uri("//New").public
    assert _dispatch_error(chain, chain.transfer(chain.alice, newcomer, ED - 1)) is errors.ExistentialDeposit
    free = _bal(chain, chain.bob.public).free
    # keep-alive refuses to leave Bob with dust (the fee is taken first)
    assert _dispatch_error(chain, chain.transfer(chain.bob, chain.alice.public, free - ED // 2)) is errors.KeepAlive


def test_allow_death_transfer_reaps_the_sender_and_burns_dust(chain):
    victim = Keypair.from_uri("//Victim")
    chain.block(chain.transfer(chain.alice, victim.public, ONE_OPEN))
    fee_probe = chain.block(chain.transfer(victim, chain.bob.public, ED)).outcomes[0].fee
    left = _bal(chain, victim.public).free
    issuance = interface.total_issuance(chain.ex.read_context())
    amount = left - fee_probe - ED // 3  # leaves dust below ED after the fee
    outcome = chain.block(chain.transfer(victim, chain.bob.public, amount, keep_alive=False)).outcomes[0]
    dust = left - outcome.fee - amount
    assert outcome.ok and 0 < dust < ED
    assert _bal(chain, victim.public).total == 0
    assert interface.total_issuance(chain.ex.read_context()) == issuance - dust
    events = [e.name for e in chain.ex.db.events(chain.ex.head.number).events]
    assert "DustLost" in events
    chain.ex.try_state()


def test_reserve_unreserve_repatriate_and_slash(chain):
    ctx_chain = chain.ex
    ctx_chain.initialize_block(chain.alice.public)
    ctx = ctx_chain._pending().ctx
    a, b = chain.alice.public, chain.bob.public
    interface.reserve(ctx, a, 10 * ONE_OPEN)
    with pytest.raises(errors.InsufficientBalance):
        interface.reserve(ctx, a, 10**30)
    assert interface.unreserve(ctx, a, 3 * ONE_OPEN) == 0
    assert interface.account(ctx, a).reserved == 7 * ONE_OPEN
    interface.repatriate_reserved(ctx, a, b, 2 * ONE_OPEN, to_reserved=True)
    assert interface.account(ctx, b).reserved == 2 * ONE_OPEN
    with pytest.raises(errors.InsufficientReserved):
        interface.repatriate_reserved(ctx, a, b, 6 * ONE_OPEN, to_reserved=False)
    treasury_before = interface.free_balance(ctx, TREASURY)
    free_a = interface.free_balance(ctx, a)
    assert interface.slash(ctx, a, free_a + ONE_OPEN) == free_a + ONE_OPEN  # free first, then reserved
    assert interface.account(ctx, a).reserved == 4 * ONE_OPEN
    assert interface.free_balance(ctx, TREASURY) == treasury_before + free_a + ONE_OPEN
    assert interface.unreserve(ctx, a, 10 * ONE_OPEN) == 6 * ONE_OPEN  # only 4 were reserved
    with ctx.acting_as("token"):
        from pallets.token.hooks import try_state
        try_state(ctx)
    ctx_chain.abort()


def test_named_holds_are_kept_by_reason_and_only_their_pallet_moves_them(chain):
    from pallets.inference.hooks import try_state as inference_try_state
    from pallets.token.hooks import try_state
    from pallets.token.storage import Account
    from runtime.errors import InvariantViolation

    chain.ex.initialize_block(chain.alice.public)
    ctx = chain.ex._pending().ctx
    a, b = chain.alice.public, chain.bob.public
    interface.hold(ctx, "inference/escrow", a, 5 * ONE_OPEN)
    interface.hold(ctx, "datanet/contribution_deposit", a, 2 * ONE_OPEN)
    interface.reserve(ctx, a, ONE_OPEN)  # the anonymous reserve is a hold too: token/reserve
    assert interface.account(ctx, a).reserved == 8 * ONE_OPEN
    with ctx.acting_as("token"):
        stored = [(h.reason, h.amount) for h in Account.get(ctx, a).holds]
    assert stored == [("datanet/contribution_deposit", encode_u128(2 * ONE_OPEN)),  # sorted by reason
                      ("inference/escrow", encode_u128(5 * ONE_OPEN)), ("token/reserve", encode_u128(ONE_OPEN))]
    with pytest.raises(errors.InsufficientReserved):  # exact by default: 3 are not held for that reason
        interface.release(ctx, "datanet/contribution_deposit", a, 3 * ONE_OPEN)
    assert interface.release(ctx, "datanet/contribution_deposit", a, 3 * ONE_OPEN, best_effort=True) == 2 * ONE_OPEN
    assert "datanet/contribution_deposit" not in interface.account(ctx, a).holds  # an empty hold is dropped
    b_free = interface.free_balance(ctx, b)
    interface.transfer_on_hold(ctx, "inference/escrow", a, b, 2 * ONE_OPEN)
    interface.transfer_on_hold(ctx, "inference/escrow", a, b, ONE_OPEN, on_hold=True)
    assert interface.free_balance(ctx, b) == b_free + 2 * ONE_OPEN
    assert interface.holds(ctx, "inference/escrow") == {a: 2 * ONE_OPEN, b: ONE_OPEN}
    with pytest.raises(errors.InsufficientReserved):
        interface.transfer_on_hold(ctx, "inference/escrow", a, b, 3 * ONE_OPEN)
    free_a = interface.free_balance(ctx, a)
    assert interface.slash(ctx, a, free_a + 10 * ONE_OPEN) == free_a + ONE_OPEN  # named holds are never slashed
    assert interface.account(ctx, a).holds == {"inference/escrow": 2 * ONE_OPEN}
    with pytest.raises(errors.BadHoldReason):
        interface.hold(ctx, "escrow", b, ONE_OPEN)
    with ctx.acting_as("attribution"), pytest.raises(errors.NotHoldOwner):  # another pallet's hold is not its own
        interface.release(ctx, "inference/escrow", a, ONE_OPEN)
    with ctx.acting_as("token"):
        try_state(ctx)
    with ctx.acting_as("inference"), pytest.raises(InvariantViolation, match="inference/escrow"):
        inference_try_state(ctx)  # held for inference, but no pending request escrows it
    chain.ex.abort()


def test_staking_bond_unbond_withdraw_and_slash_bonded(chain):
    c = chain.charlie
    bond = token_pb2.Bond(amount=encode_u128(100 * ONE_OPEN))
    assert chain.block(chain.sign(c, "token", "bond", bond)).outcomes[0].ok
    assert _bal(chain, c.public).bonded == 100 * ONE_OPEN
    unbond = token_pb2.Unbond(amount=encode_u128(40 * ONE_OPEN))
    assert chain.block(chain.sign(c, "token", "unbond", unbond)).outcomes[0].ok
    too_early = chain.block(chain.sign(c, "token", "withdraw_unbonded", token_pb2.WithdrawUnbonded())).outcomes[0]
    assert type(too_early.error) is errors.NothingToWithdraw
    over = chain.block(chain.sign(c, "token", "unbond", token_pb2.Unbond(amount=encode_u128(10**30)))).outcomes[0]
    assert type(over.error) is errors.InsufficientBonded
    for _ in range(10):  # dev unbonding period is 10 blocks
        chain.block()
    free_before = _bal(chain, c.public).free
    withdrawn = chain.block(chain.sign(c, "token", "withdraw_unbonded", token_pb2.WithdrawUnbonded())).outcomes[0]
    assert withdrawn.ok
    assert _bal(chain, c.public).free == free_before + 40 * ONE_OPEN - withdrawn.fee
    chain.ex.initialize_block(chain.alice.public)
    ctx = chain.ex._pending().ctx
    assert interface.slash_bonded(ctx, c.public, 70 * ONE_OPEN) == 60 * ONE_OPEN  # only 60 remain bonded
    assert interface.account(ctx, c.public).bonded == 0
    chain.ex.abort()


def test_fees_are_split_between_author_and_treasury_exactly(chain):
    ctx = chain.ex.read_context()
    author0, treasury0 = interface.free_balance(ctx, chain.alice.public), interface.free_balance(ctx, TREASURY)
    issuance0 = interface.total_issuance(ctx)
    built = chain.block(chain.transfer(chain.bob, chain.charlie.public, ONE_OPEN))
    fee = built.outcomes[0].fee
    ctx = chain.ex.read_context()
    to_author = interface.free_balance(ctx, chain.alice.public) - author0
    to_treasury = interface.free_balance(ctx, TREASURY) - treasury0
    assert to_author + to_treasury == fee and to_author == fee * 20 // 100
    assert interface.total_issuance(ctx) == issuance0


def test_zero_and_malformed_amounts_fail_cleanly(chain):
    # amounts and accounts that can never be valid are refused before any fee (issue: no free floods) - a
    # transfer, bond or unbond of nothing too, which could only fail (an outside client's zero transfer was
    # charged a fee to fail with ZeroAmount)
    before = interface.account(chain.ex.read_context(), chain.alice.public).free
    for name, args in (("transfer", token_pb2.Transfer(dest=chain.bob.public, amount=encode_u128(0))),
                       ("transfer_keep_alive", token_pb2.Transfer(dest=chain.bob.public)),
                       ("bond", token_pb2.Bond(amount=encode_u128(0))), ("unbond", token_pb2.Unbond())):
        raw = chain.sign(chain.alice, "token", name, args, nonce=0)  # the account's next nonce: valid but for this
        with pytest.raises(InvalidTransaction) as refused:
            chain.ex.validate_transaction(raw)
        assert refused.value.reason == Invalid.REJECTED_BY_PALLET and "token.ZeroAmount" in str(refused.value)
        built = chain.block(raw)
        assert not built.outcomes and built.rejected[0][1].reason == Invalid.REJECTED_BY_PALLET
    assert interface.account(chain.ex.read_context(), chain.alice.public).free == before
    chain.ex.initialize_block(chain.alice.public)  # another pallet moving nothing still gets the typed error
    with pytest.raises(errors.ZeroAmount):
        interface.transfer(chain.ex._pending().ctx, chain.alice.public, chain.bob.public, 0, keep_alive=True)
    chain.ex.abort()
    bad = token_pb2.Transfer(dest=chain.bob.public, amount=b"\x00\x05")
    built = chain.block(chain.sign(chain.alice, "token", "transfer_keep_alive", bad))
    assert not built.outcomes and built.rejected[0][1].reason == Invalid.BAD_CALL_ARGS
    assert "non-canonical" in str(built.rejected[0][1])
    short = token_pb2.Transfer(dest=b"\x01" * 5, amount=encode_u128(ONE_OPEN))
    built = chain.block(chain.sign(chain.alice, "token", "transfer_keep_alive", short))
    assert not built.outcomes and built.rejected[0][1].reason == Invalid.BAD_CALL_ARGS
    assert "32 bytes" in str(built.rejected[0][1])
    assert interface.account(chain.ex.read_context(), chain.alice.public).free == before
    chain.ex.try_state()

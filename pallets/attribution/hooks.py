"""Attribution hooks: claims refused at the door, and the invariant check."""

from __future__ import annotations

from pallets.token import interface as token
from runtime.codec import decode_u128
from runtime.context import Context
from runtime.errors import ensure
from runtime.protocol import OWED_TO_CONTRIBUTORS, TAIL_SHARES

from . import tail
from .payout import held_for
from .storage import CHALLENGE_BOND, Disputes, Owed, Settlements


def validate_transaction(ctx: Context, signer: bytes, call, args) -> None:
    """A `claim_owed` of nothing - nothing held for the contributor, say a stale earnings page, or a second
    person claiming what the first one's claim paid out - is invalid: the pool refuses it and no block includes
    it, so it costs nobody a fee (`attribution.NothingOwed: ...`). Whether the account holds something yet is
    the call's own check: the transfer that funds it may go just before the claim, in the same block. So is a
    `pay_tail` page that is not the tail's next one - most often a page somebody else paid first - and a
    `close_tail` of a tail still in its window or gone."""
    if call.name == "claim_owed":
        held_for(ctx, args.contributor)
    elif call.name == "pay_tail":
        tail.next_page(ctx, args)
    elif call.name == "close_tail":
        tail.due(ctx, args.request)


def try_state(ctx: Context) -> None:
    """Every settlement paid out exactly its fee, fee plus refund is exactly what was escrowed, and it points
    to where each agreeing result was included (no later than the settling block); what each account holds
    under `attribution/challenge_bond` is exactly the bonds of its unresolved disputes; OWED_TO_CONTRIBUTORS
    holds at least what is owed to contributors (anyone may send it more), each owed amount below the
    existential deposit (or it would have been paid); TAIL_SHARES holds at least what the open tails have left."""
    bonds: dict[bytes, int] = {}
    for _, dispute in Disputes.iter(ctx):
        if not dispute.resolved:
            bonds[dispute.challenger] = bonds.get(dispute.challenger, 0) + decode_u128(dispute.bond)
    held = token.holds(ctx, CHALLENGE_BOND)
    for who in sorted(set(bonds) | set(held)):
        ensure(held.get(who, 0) == bonds.get(who, 0),
               f"{who.hex()}: {held.get(who, 0)} held for {CHALLENGE_BOND}, open disputes bond {bonds.get(who, 0)}")
    for request_id, settlement in Settlements.iter(ctx):
        ensure(len(settlement.evidence) == len(settlement.agreeing_workers)
               and all(0 < e.block <= settlement.settled_at for e in settlement.evidence),
               f"settlement {request_id}: its evidence does not point at one included result per agreeing worker")
        paid = sum(decode_u128(p.amount) for p in settlement.payments)
        fee = decode_u128(settlement.fee)
        ensure(paid == fee, f"settlement {request_id}: paid {paid} of its fee")
        ensure(fee + decode_u128(settlement.refund) == decode_u128(settlement.escrow),
               f"settlement {request_id}: fee and refund do not add up to the escrow")
    owed = [amount for _, amount in Owed.iter(ctx)]
    ensure(all(0 < amount < token.existential_deposit(ctx) for amount in owed),
           "an owed amount is zero or could have opened its contributor's account")
    held = token.account(ctx, OWED_TO_CONTRIBUTORS).total  # more when someone sent it funds: nothing takes them
    ensure(held >= sum(owed), f"{OWED_TO_CONTRIBUTORS.hex()} holds {held}, the contributors are owed {sum(owed)}")
    left = tail.set_aside_total(ctx)
    ensure(token.account(ctx, TAIL_SHARES).total >= left, f"{TAIL_SHARES.hex()} holds less than the open tails' {left}")

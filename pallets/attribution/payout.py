"""Paying out one request's escrow: what settling results and closing on a refusal share; and what is held for
contributors whose accounts could not take a payment yet."""

from __future__ import annotations

from collections.abc import Callable

from pallets.datanet import interface as datanet
from pallets.inference import interface as inference
from pallets.token import interface as token
from payable.attribution.v1 import attribution_pb2 as pb
from runtime.codec import decode_u128, encode_u128, format_open
from runtime.context import Context
from runtime.crypto import encode_address
from runtime.protocol import OWED_TO_CONTRIBUTORS, PROTOCOL_ACCOUNTS, TAIL_SHARES, TREASURY

from . import errors
from . import events as ev
from .storage import ContributorEarnings, ModelContributors, Owed

# A contributor's payment held for it, not in its account yet (`_to_contributor`): how its settlement records it
HELD = "contributor (held until its account can take it)"

# Moves an amount to an account from where a payment comes from: a pending request's escrow (settling), or
# what a settlement set aside for its result's tail (TAIL_SHARES, paid a page at a time).
Source = Callable[[bytes, int], None]


def from_escrow(ctx: Context, request) -> Source:
    return lambda dest, amount: inference.pay_escrow(ctx, request, dest, amount)


def from_tail(ctx: Context) -> Source:
    return lambda dest, amount: token.transfer(ctx, TAIL_SHARES, dest, amount, keep_alive=False)


def here(ctx: Context) -> pb.ExtrinsicRef | None:
    """Where the extrinsic being applied is stored: this block, its index in it (the evidence a settlement
    points to)."""
    index = ctx.current_extrinsic()
    return None if index is None else pb.ExtrinsicRef(block=ctx.block_number, index=index)


def refund(ctx: Context, request, model_id: int, settlement: pb.Settlement, amount: int) -> None:
    """Return `amount` of the escrow to the requester now (an event; the settlement records it as `refund`)."""
    if amount:
        inference.refund_escrow(ctx, request, amount)
        ev.Paid.emit(ctx, request=request.id, model=model_id, account=request.requester, amount=encode_u128(amount),
                     role="refund")
    settlement.refund = encode_u128(amount)


def pay(ctx: Context, request, model_id: int, settlement: pb.Settlement | None, account: bytes, amount: int,
        role: str, contribution_id: int = 0, net: int = 0, source: Source | None = None) -> None:
    """Pay `amount` of the request's escrow (or of `source`) to `account`, recorded in the settlement (a tail's
    page has none: its event and the contributor's earnings record it) and as an event. An amount below the
    existential deposit for an empty account could not exist there: a contributor's is held for it
    (`_to_contributor`), anyone else's goes to the treasury."""
    if not amount:
        return
    move = source or from_escrow(ctx, request)
    empty = account not in PROTOCOL_ACCOUNTS and token.account(ctx, account).total == 0
    recorded = role  # how the settlement and the event name this payment
    if role == "contributor":
        recorded = HELD if _to_contributor(ctx, move, account, amount, empty) else role
    else:
        if empty and amount < token.existential_deposit(ctx):
            account, recorded = TREASURY, f"{role} (below the existential deposit: to the treasury)"
        move(account, amount)
    payment = pb.Payment(account=account, amount=encode_u128(amount), role=recorded,
                         contribution_id=contribution_id, datanet=net)
    if settlement is not None:
        settlement.payments.append(payment)
    ev.Paid.emit(ctx, request=request.id, model=model_id, account=account, amount=encode_u128(amount), role=recorded,
                 contribution_id=contribution_id, datanet=net)
    if role == "contributor":
        earnings = ContributorEarnings.get(ctx, account, request.id) or pb.Earnings()
        earnings.payments.append(payment)
        earnings.total = encode_u128(decode_u128(earnings.total) + amount)
        ContributorEarnings.insert(ctx, account, request.id, earnings)
        datanet.record_earnings(ctx, net, account, amount)
        share = ModelContributors.get(ctx, model_id, account) or pb.ModelContributor(contributor=account)
        share.earned = encode_u128(decode_u128(share.earned) + amount)
        share.payments += 1
        ModelContributors.insert(ctx, model_id, account, share)


def _to_contributor(ctx: Context, move: Source, account: bytes, amount: int, empty: bool) -> bool:
    """A contributor's payment; True when it is held rather than paid. Exact shares make small payments common
    (a contributor holding 1% of a query's credit), and a contributor may well have emptied its account after
    its deposit came back: such a payment is held for it in OWED_TO_CONTRIBUTORS (`Owed`), not lost to the
    treasury - the settlement records it with the role `HELD` - and everything held is paid out with the
    payment that brings it up to the existential deposit, or with the next one once the account exists."""
    held = Owed.get(ctx, account) or 0
    owed = held + amount
    if empty and owed < token.existential_deposit(ctx):
        move(OWED_TO_CONTRIBUTORS, amount)
        Owed.insert(ctx, account, owed)
        ev.OwedHeld.emit(ctx, account=account, amount=encode_u128(amount), owed=encode_u128(owed))
        return True
    if held:
        move(OWED_TO_CONTRIBUTORS, amount)
        _release(ctx, account, owed, held)
    else:
        move(account, amount)
    return False


def pay_out_owed(ctx: Context, account: bytes) -> None:
    """Pay out what is held for `account` now that its account exists (`calls.claim_owed`): for a contributor
    no later payment reaches - its contributions withdrawn, the model deprecated - or funded meanwhile."""
    held = held_for(ctx, account)
    if token.account(ctx, account).total == 0:  # checked here, not at the pool: it may be funded just before
        raise errors.AccountEmpty(f"{encode_address(account)} holds nothing yet, and the {format_open(held)} OPEN "
                                  f"held for it is below the existential deposit "
                                  f"{format_open(token.existential_deposit(ctx))} OPEN: fund the account first")
    _release(ctx, account, held, held)


def held_for(ctx: Context, account: bytes) -> int:
    """What is held for `account`; NothingOwed when nothing is (the pool refuses a claim of nothing before any
    fee: `hooks.validate_transaction`)."""
    held = Owed.get(ctx, account)
    if not held:
        raise errors.NothingOwed(f"nothing is held for {encode_address(account)}")
    return held


def _release(ctx: Context, account: bytes, amount: int, held: int) -> None:
    """Move `amount` from OWED_TO_CONTRIBUTORS to `account` - what was held for it (`held`) and whatever of
    this payment went there with it - and clear what it is owed."""
    token.transfer(ctx, OWED_TO_CONTRIBUTORS, account, amount, keep_alive=False)
    Owed.remove(ctx, account)
    ev.OwedPaid.emit(ctx, account=account, amount=encode_u128(held))

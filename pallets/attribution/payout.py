"""Paying out one request's escrow: what settling results and closing on a refusal share."""

from __future__ import annotations

from pallets.datanet import interface as datanet
from pallets.inference import interface as inference
from pallets.token import interface as token
from payable.attribution.v1 import attribution_pb2 as pb
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context
from runtime.protocol import TREASURY

from . import events as ev
from .storage import ContributorEarnings, ModelContributors


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


def pay(ctx: Context, request, model_id: int, settlement: pb.Settlement, account: bytes, amount: int, role: str,
        contribution_id: int = 0, net: int = 0) -> None:
    """Pay `amount` of the request's escrow to `account`, recorded in the settlement and as an event; an amount
    below the existential deposit for an empty account goes to the treasury instead (it could not exist)."""
    if not amount:
        return
    if account != TREASURY and amount < token.existential_deposit(ctx) and token.account(ctx, account).total == 0:
        account, role = TREASURY, f"{role} (below the existential deposit: to the treasury)"
    inference.pay_escrow(ctx, request, account, amount)
    payment = pb.Payment(account=account, amount=encode_u128(amount), role=role, contribution_id=contribution_id,
                         datanet=net)
    settlement.payments.append(payment)
    ev.Paid.emit(ctx, request=request.id, model=model_id, account=account, amount=encode_u128(amount), role=role,
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

"""Attribution hooks: the invariant check."""

from __future__ import annotations

from runtime.codec import decode_u128
from runtime.context import Context
from runtime.errors import ensure

from .storage import Settlements


def try_state(ctx: Context) -> None:
    """Every settlement paid out exactly its fee, and fee plus refund is exactly what was escrowed."""
    for request_id, settlement in Settlements.iter(ctx):
        paid = sum(decode_u128(p.amount) for p in settlement.payments)
        fee = decode_u128(settlement.fee)
        ensure(paid == fee, f"settlement {request_id}: paid {paid} of its fee")
        ensure(fee + decode_u128(settlement.refund) == decode_u128(settlement.escrow),
               f"settlement {request_id}: fee and refund do not add up to the escrow")

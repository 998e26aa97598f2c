"""Attribution hooks: the invariant check."""

from __future__ import annotations

from runtime.codec import decode_u128
from runtime.context import Context
from runtime.errors import ensure

from .storage import Settlements


def try_state(ctx: Context) -> None:
    """Every settlement paid out exactly its fee."""
    for request_id, settlement in Settlements.iter(ctx):
        paid = sum(decode_u128(p.amount) for p in settlement.payments)
        ensure(paid == decode_u128(settlement.fee), f"settlement {request_id}: paid {paid} of its fee")

"""Token pallet calls. Indices are stable: a removed call's index is retired, never reused."""

from __future__ import annotations

from payable.token.v1 import token_pb2 as pb
from runtime.codec import check_account_id, decode_u128, format_open
from runtime.context import Context
from runtime.pallet import CallTable

from . import errors, interface, weights

calls = CallTable("token")


@calls.call(0, pb.Transfer, weights.TRANSFER)
def transfer(ctx: Context, origin: bytes, args: pb.Transfer) -> None:
    """Transfer free balance; the sender may be reaped if left below the existential deposit."""
    interface.transfer(ctx, origin, check_account_id(args.dest, "dest"), decode_u128(args.amount),
                       keep_alive=False)


@calls.call(1, pb.Transfer, weights.TRANSFER_KEEP_ALIVE)
def transfer_keep_alive(ctx: Context, origin: bytes, args: pb.Transfer) -> None:
    """Transfer free balance, failing rather than taking the sender below the existential deposit."""
    interface.transfer(ctx, origin, check_account_id(args.dest, "dest"), decode_u128(args.amount),
                       keep_alive=True)


@calls.call(2, pb.Bond, weights.BOND)
def bond(ctx: Context, origin: bytes, args: pb.Bond) -> None:
    """Bond free balance for staking (slashable until withdrawn after unbonding)."""
    interface.bond(ctx, origin, decode_u128(args.amount))


@calls.call(3, pb.Unbond, weights.UNBOND)
def unbond(ctx: Context, origin: bytes, args: pb.Unbond) -> None:
    """Start unbonding what no other pallet's records stand on (`payable_bond_claimed`: a validator's or a
    worker's bond leaves through its own pallet's call, which updates its record); the funds can be
    withdrawn after the unbonding period."""
    amount = decode_u128(args.amount)
    claimed = sum(c for c in ctx.runtime.pm.hook.payable_bond_claimed(ctx=ctx, account=origin) if c)
    bonded = interface.bonded(ctx, origin)
    if claimed and bonded - min(amount, bonded) < claimed:
        raise errors.BondInUse(f"{format_open(claimed)} OPEN of the {format_open(bonded)} OPEN bonded backs a "
                               f"validator candidacy or an inference worker: unbond at most "
                               f"{format_open(max(bonded - claimed, 0))} OPEN here, the rest through that pallet")
    interface.unbond(ctx, origin, amount)


@calls.call(4, pb.WithdrawUnbonded, weights.WITHDRAW_UNBONDED)
def withdraw_unbonded(ctx: Context, origin: bytes, args: pb.WithdrawUnbonded) -> None:
    """Return unbonded funds whose unbonding period has passed to the free balance."""
    interface.withdraw_unbonded(ctx, origin)

"""Validators pallet calls. Indices are stable: a removed call's index is retired, never reused."""

from __future__ import annotations

from pallets.token import interface as token
from payable.validators.v1 import validators_pb2 as pb
from runtime.codec import decode_u128, encode_u128, format_open
from runtime.context import Context
from runtime.pallet import CallTable

from . import errors, weights
from . import events as ev
from .interface import candidate, consensus_address
from .storage import ByAddress, Candidates

calls = CallTable("validators")


def check_key(key: bytes) -> bytes:
    if len(key) != 32 or key == bytes(32):
        raise errors.BadKey(f"a consensus key is a 32-byte ed25519 public key, got {len(key)} bytes")
    return key


def add_candidate(ctx: Context, who: bytes, key: bytes, amount: int) -> None:
    """Bond `amount` of `who`'s OPEN as a new candidate with consensus key `key` (calls and genesis)."""
    if Candidates.get(ctx, who) is not None:
        raise errors.AlreadyCandidate("already a candidate: use bond_extra")
    address = consensus_address(check_key(key))
    if ByAddress.get(ctx, address) is not None:
        raise errors.KeyInUse(f"consensus key {key.hex()} belongs to another candidate (or did)")
    if amount < ctx.config.min_bond:
        raise errors.BondTooSmall(f"bond {format_open(amount)} OPEN is below the minimum "
                                  f"{format_open(ctx.config.min_bond)} OPEN")
    token.bond(ctx, who, amount)
    Candidates.insert(ctx, who, pb.Candidate(account=who, consensus_key=key, bond=encode_u128(amount),
                                             joined_at=ctx.block_number))
    ByAddress.insert(ctx, address, who)
    ev.Bonded.emit(ctx, account=who, consensus_key=key, bond=encode_u128(amount))


@calls.call(0, pb.Bond, weights.BOND)
def bond(ctx: Context, origin: bytes, args: pb.Bond) -> None:
    """Become a candidate: bond OPEN (through the token pallet's staking) with a CometBFT consensus key."""
    add_candidate(ctx, origin, args.consensus_key, decode_u128(args.amount, "amount"))


@calls.call(1, pb.BondExtra, weights.BOND_EXTRA)
def bond_extra(ctx: Context, origin: bytes, args: pb.BondExtra) -> None:
    """Add to a candidate's bond; a larger bond counts at the next election."""
    found = candidate(ctx, origin)
    if found.jailed:
        raise errors.Jailed("a jailed candidate cannot be elected again: unbond instead")
    amount = decode_u128(args.amount, "amount")
    token.bond(ctx, origin, amount)
    found.bond = encode_u128(decode_u128(found.bond) + amount)
    Candidates.insert(ctx, origin, found)
    ev.Bonded.emit(ctx, account=origin, consensus_key=found.consensus_key, bond=found.bond)


@calls.call(2, pb.Unbond, weights.UNBOND)
def unbond(ctx: Context, origin: bytes, args: pb.Unbond) -> None:
    """Unbond part of the bond, or all of it to leave candidacy (a member of the set leaves it at the
    end of this block). Unbonding funds stay slashable for the token pallet's unbonding period."""
    found = candidate(ctx, origin)
    amount, held = decode_u128(args.amount, "amount"), decode_u128(found.bond)
    if not 0 < amount <= held:
        raise errors.BondTooSmall(f"can unbond up to {format_open(held)} OPEN, asked "
                                  f"{format_open(amount)} OPEN")
    remaining = held - amount
    if 0 < remaining < ctx.config.min_bond and not found.jailed:
        raise errors.BondTooSmall(f"{format_open(remaining)} OPEN would stay, below the minimum "
                                  f"{format_open(ctx.config.min_bond)} OPEN: unbond all {format_open(held)} OPEN to "
                                  f"leave")
    withdrawable_at = token.unbond(ctx, origin, amount)
    if remaining:
        found.bond = encode_u128(remaining)
        Candidates.insert(ctx, origin, found)
    else:
        Candidates.remove(ctx, origin)
    ev.Unbonded.emit(ctx, account=origin, amount=encode_u128(amount), withdrawable_at=withdrawable_at)

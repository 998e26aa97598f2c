"""Validators pallet calls. Indices are stable: a removed call's index is retired, never reused."""

from __future__ import annotations

from datetime import UTC, datetime

from pallets.token import interface as token
from payable.validators.v1 import validators_pb2 as pb
from runtime.codec import decode_u128, encode_u128, format_open
from runtime.context import Context
from runtime.pallet import CallTable

from . import errors, weights
from . import events as ev
from .interface import candidate, consensus_address
from .storage import ByAddress, Candidates, SigningInfos

calls = CallTable("validators")


def format_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_key(key: bytes) -> bytes:
    if len(key) != 32:
        raise errors.BadKey(f"a consensus key is a 32-byte ed25519 public key, got {len(key)} bytes")
    if key == bytes(32):
        raise errors.BadKey("a consensus key of 32 zero bytes is no ed25519 public key")
    return key


def add_candidate(ctx: Context, who: bytes, key: bytes, amount: int) -> None:
    """Bond `amount` of `who`'s OPEN as a new candidate with consensus key `key` (calls and genesis)."""
    found = Candidates.get(ctx, who)
    if found is not None and found.tombstoned:
        raise errors.Jailed("this account was tombstoned for double signing or a light-client attack: it can "
                            "never be a candidate again, whatever key it bonds")
    if found is not None and found.jailed:
        raise errors.Jailed(f"this account's candidacy is jailed for downtime until block time "
                            f"{format_utc(found.jailed_until_ms)} and keeps its record after unbonding: bond_extra, "
                            f"then unjail once the period is over")
    if found is not None:
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
    """Add to a candidate's bond; a larger bond counts at the next election (a candidate jailed for
    downtime may top its bond up to the minimum before it unjails)."""
    found = candidate(ctx, origin)
    if found.tombstoned:
        raise errors.Jailed("jailed for good for double signing (tombstoned): it cannot be elected again, "
                            "so its bond cannot grow; unbond instead")
    amount = decode_u128(args.amount, "amount")
    token.bond(ctx, origin, amount)
    found.bond = encode_u128(decode_u128(found.bond) + amount)
    Candidates.insert(ctx, origin, found)
    ev.Bonded.emit(ctx, account=origin, consensus_key=found.consensus_key, bond=found.bond)


@calls.call(2, pb.Unbond, weights.UNBOND)
def unbond(ctx: Context, origin: bytes, args: pb.Unbond) -> None:
    """Unbond part of the bond, or all of it to leave candidacy (a member of the set leaves it at the
    end of this block). Unbonding funds stay slashable for the token pallet's unbonding period. A jailed
    candidate may take its whole bond out, but its record stays (bond 0, jailed, tombstoned or until when):
    bonding again from the same account with a new key would otherwise walk out of the jail at once, and
    out of a tombstone for good."""
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
    if remaining or found.jailed:
        found.bond = encode_u128(remaining)
        Candidates.insert(ctx, origin, found)
    else:
        Candidates.remove(ctx, origin)
        SigningInfos.remove(ctx, consensus_address(found.consensus_key))
    ev.Unbonded.emit(ctx, account=origin, amount=encode_u128(amount), withdrawable_at=withdrawable_at)


@calls.call(3, pb.Unjail, weights.UNJAIL)
def unjail(ctx: Context, origin: bytes, args: pb.Unjail) -> None:
    """Leave the jail that downtime earned, once its period (block time) is over and the bond is still
    at least the minimum; the candidate is electable again from the next election. Double signers are
    tombstoned and never leave."""
    found = candidate(ctx, origin)
    if found.tombstoned:
        raise errors.Jailed("jailed for good for double signing or a light-client attack (tombstoned, as "
                            "Cosmos does): it can never be unjailed; unbond to recover the rest of the bond")
    if not found.jailed:
        raise errors.NotJailed(f"{origin.hex()} is not jailed")
    if ctx.timestamp_ms < found.jailed_until_ms:
        wait_s = -(-(found.jailed_until_ms - ctx.timestamp_ms) // 1000)
        raise errors.StillJailed(f"jailed for downtime until block time {found.jailed_until_ms} ms "
                                 f"({format_utc(found.jailed_until_ms)}); the chain's time is "
                                 f"{format_utc(ctx.timestamp_ms)}: unjail in {wait_s} s or later")
    bond = decode_u128(found.bond)
    if bond < ctx.config.min_bond:
        raise errors.BondTooSmall(f"bond {format_open(bond)} OPEN is below the minimum "
                                  f"{format_open(ctx.config.min_bond)} OPEN after the slash: bond_extra first")
    found.jailed, found.jailed_until_ms = False, 0
    Candidates.insert(ctx, origin, found)
    ev.Unjailed.emit(ctx, account=origin)

"""Electing the validator set: the top-N non-jailed candidates by bond, power from stake.

Ties in bond go to the lower consensus key, so every node elects the same set. The set is never
left empty - CometBFT halts without validators - so an election that finds no eligible candidate
keeps the set in force.
"""

from __future__ import annotations

from payable.validators.v1 import validators_pb2 as pb
from runtime.codec import decode_u128
from runtime.context import Context

from . import events as ev
from .config import MAX_POWER
from .storage import Active, Candidates


def elect(ctx: Context) -> list[pb.Validator]:
    """The set the current candidates would form (sorted by consensus key)."""
    config = ctx.config
    eligible = [(decode_u128(c.bond), c.consensus_key, c.account) for _, c in Candidates.iter(ctx)
                if not c.jailed and decode_u128(c.bond) >= config.min_bond]
    eligible.sort(key=lambda e: (-e[0], e[1]))
    chosen = [pb.Validator(account=account, consensus_key=key, power=min(bond // config.power_unit, MAX_POWER))
              for bond, key, account in eligible[:config.max_validators]]
    return sorted(chosen, key=lambda v: v.consensus_key)


def needs_election(ctx: Context) -> bool:
    """At every epoch's end, and at once when a member of the set has left candidacy or been jailed."""
    if ctx.block_number % ctx.config.epoch_length == 0:
        return True
    for member in Active.get(ctx, pb.ValidatorSet()).validators:
        found = Candidates.get(ctx, member.account)
        if found is None or found.jailed:
            return True
    return False


def install(ctx: Context, chosen: list[pb.Validator]) -> None:
    """Make `chosen` the set in force (unless empty), announcing what changed."""
    current = Active.get(ctx, pb.ValidatorSet())
    if not chosen or list(current.validators) == chosen:
        return
    removed = sorted({v.consensus_key for v in current.validators} - {v.consensus_key for v in chosen})
    Active.put(ctx, pb.ValidatorSet(validators=chosen, elected_at=ctx.block_number))
    ev.NewValidatorSet.emit(ctx, validators=chosen, removed=removed)

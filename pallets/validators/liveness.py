"""Downtime: each validator's missed blocks in a sliding window, counted from CometBFT's votes, and
the jail that too many misses earn - Cosmos' x/slashing (signed_blocks_window, min_signed_per_window,
downtime_jail_duration, slash_fraction_downtime), on this chain's state.

Only the votes CometBFT reports in a block's last commit count, and they list exactly the set that
signed (or should have signed) that block: a candidate outside the set, a block with no commit (the
first) and the blocks before a validator joined are never counted against it. A nil vote is a vote
(the validator is up, it just did not see the proposal in time); only an absent one is a miss. A
validator is judged only on a full window of its own votes, so one that joined mid-window is not
jailed for a part-window, and jailing starts its count afresh. State per validator is one bit per
block of the window (`SigningInfo.missed_bits`), so it stays bounded whatever the chain's length.
"""

from __future__ import annotations

from pallets.token import interface as token
from payable.system.v1 import system_pb2
from payable.validators.v1 import validators_pb2 as pb
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context

from . import events as ev
from .interface import consensus_address
from .storage import ByAddress, Candidates, SigningInfos


def record_vote(info: pb.SigningInfo, window: int, missed: bool) -> None:
    """Push one vote into `info`'s window: it overwrites the vote `window` blocks older, and the
    missed count follows the bit it replaced. A record without its bit array (a new one) starts empty."""
    size = (window + 7) // 8
    if len(info.missed_bits) != size:
        info.missed_bits, info.missed, info.counted = bytes(size), 0, 0
    bits = bytearray(info.missed_bits)
    i = info.counted % window
    byte, mask = i >> 3, 1 << (i & 7)
    was = bool(bits[byte] & mask)
    if was != missed:
        bits[byte] ^= mask
        info.missed += 1 if missed else -1
    info.missed_bits = bytes(bits)
    info.counted += 1


def note_votes(ctx: Context, votes: list[system_pb2.ConsensusVote]) -> None:
    """Count each vote of the previous block's commit for its (non-jailed) candidate, and jail those
    whose full window now holds more misses than the chain allows."""
    config = ctx.config
    window = config.signed_blocks_window
    for vote in votes:
        account = ByAddress.get(ctx, vote.validator)
        found = Candidates.get(ctx, account) if account is not None else None
        if found is None or found.jailed:
            continue  # left candidacy, or jailed already: CometBFT lists it until the removal takes effect
        info = SigningInfos.get(ctx, vote.validator) or pb.SigningInfo(start_height=ctx.block_number)
        record_vote(info, window, vote.absent)
        if info.counted >= window and info.missed > config.max_missed:
            jail_for_downtime(ctx, vote.validator, found, info.missed)
        else:
            SigningInfos.insert(ctx, vote.validator, info)


def jail_for_downtime(ctx: Context, address: bytes, found: pb.Candidate, missed: int) -> None:
    """Slash `downtime_slash_bps` of the bond, jail until `downtime_jail_ms` of block time from now (the
    election at this block's end takes it out of the set) and forget its window."""
    config = ctx.config
    bond = decode_u128(found.bond)
    slashed = token.slash_bonded(ctx, found.account, bond * config.downtime_slash_bps // 10_000)
    found.bond = encode_u128(bond - slashed)
    found.jailed = True
    found.jailed_until_ms = ctx.timestamp_ms + config.downtime_jail_ms
    Candidates.insert(ctx, found.account, found)
    SigningInfos.remove(ctx, address)
    ev.JailedForDowntime.emit(ctx, account=found.account, slashed=encode_u128(slashed), missed=missed,
                              window=config.signed_blocks_window, jailed_until_ms=found.jailed_until_ms)


def liveness(ctx: Context, found: pb.Candidate) -> pb.CandidateLiveness:
    """What the chain counts for a candidate now: its window, misses and jail."""
    config = ctx.config
    info = SigningInfos.get(ctx, consensus_address(found.consensus_key)) or pb.SigningInfo()
    return pb.CandidateLiveness(account=found.account, window=config.signed_blocks_window,
                                max_missed=config.max_missed, counted=info.counted, missed=info.missed,
                                start_height=info.start_height, jailed=found.jailed,
                                jailed_until_ms=found.jailed_until_ms, tombstoned=found.tombstoned)

"""Validators hooks: the consensus inherent (voters, evidence), fee rewards and elections at each
block's end, the set handed to CometBFT, and the invariant check."""

from __future__ import annotations

from pallets.token import interface as token
from payable.system.v1 import system_pb2
from payable.validators.v1 import validators_pb2 as pb
from runtime.apportion import largest_remainder
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context
from runtime.errors import PalletError, ensure
from runtime.protocol import BLOCK_REWARDS, TREASURY

from . import events as ev
from .election import elect, install, needs_election
from .interface import consensus_address
from .liveness import note_votes
from .storage import Active, ByAddress, Candidates, Punished, SigningInfos, Voters

Kind = system_pb2.Misbehavior.Kind


def on_consensus(ctx: Context, info: system_pb2.NoteConsensus) -> None:
    """Remember who proposed this block and who signed the previous one (for this block's fee
    rewards), count the previous block's missed votes (downtime), and slash what the evidence proves."""
    signers = [pb.Validator(account=account, power=vote.power) for vote in info.votes
               if vote.signed and (account := ByAddress.get(ctx, vote.validator)) is not None]
    Voters.put(ctx, pb.BlockVoters(proposer=ByAddress.get(ctx, info.proposer) or b"", signers=signers))
    note_votes(ctx, list(info.votes))
    for offence in info.misbehavior:
        punish(ctx, offence)


def punish(ctx: Context, offence: system_pb2.Misbehavior) -> None:
    """Slash the offender's bond by the kind's rate of the stake it had at the offence (its power
    then, in OPEN), once per (validator, height), and jail it for good (tombstoned, as Cosmos does with
    double signers: a key that signed two blocks at one height is never trusted again, so `unjail`
    refuses it)."""
    bps = {Kind.DUPLICATE_VOTE: ctx.config.duplicate_vote_slash_bps,
           Kind.LIGHT_CLIENT_ATTACK: ctx.config.light_client_attack_slash_bps}.get(offence.kind)
    account = ByAddress.get(ctx, offence.validator)
    if bps is None or account is None or Punished.get(ctx, offence.validator, offence.height) is not None:
        return
    Punished.insert(ctx, offence.validator, offence.height, b"")
    SigningInfos.remove(ctx, offence.validator)
    found = Candidates.get(ctx, account)
    stake = offence.power * ctx.config.power_unit
    if found is not None:
        stake = min(stake, decode_u128(found.bond)) if offence.power else decode_u128(found.bond)
    slashed = token.slash_bonded(ctx, account, stake * bps // 10_000)
    if found is not None:
        found.bond = encode_u128(max(decode_u128(found.bond) - slashed, 0))
        found.jailed = found.tombstoned = True
        found.jailed_until_ms = 0
        Candidates.insert(ctx, account, found)
    ev.Slashed.emit(ctx, account=account, amount=encode_u128(slashed), kind=offence.kind, height=offence.height)


def on_finalize(ctx: Context) -> None:
    reward_fees(ctx)
    Voters.remove(ctx)
    if needs_election(ctx):
        install(ctx, elect(ctx))


def reward_fees(ctx: Context) -> None:
    """Pay out the block-rewards pot (the author's share of this block's fees, when a consensus engine
    orders blocks): `proposer_bps` to the proposer, the rest by power among the validators that
    signed the previous block (all of the set when no votes are known), split exactly."""
    total = token.free_balance(ctx, BLOCK_REWARDS)
    if not total:
        return
    voters = Voters.get(ctx, pb.BlockVoters())
    weighted = [(v.account, v.power) for v in voters.signers if v.power]
    if not weighted:
        weighted = [(v.account, v.power) for v in Active.get(ctx, pb.ValidatorSet()).validators]
    proposer_share = total * ctx.config.proposer_bps // 10_000 if voters.proposer else 0
    rest = total - proposer_share
    payouts = [(voters.proposer, proposer_share)] if proposer_share else []
    if weighted:
        payouts += zip([a for a, _ in weighted], largest_remainder(rest, [p for _, p in weighted]), strict=True)
    else:
        payouts.append((TREASURY, rest))
    for who, amount in payouts:
        if amount:
            try:
                token.transfer(ctx, BLOCK_REWARDS, who, amount, keep_alive=False)
            except PalletError:  # e.g. a share too small to open a reaped account: the treasury keeps it
                token.transfer(ctx, BLOCK_REWARDS, TREASURY, amount, keep_alive=False)
    ev.FeesRewarded.emit(ctx, total=encode_u128(total), proposer=voters.proposer,
                         proposer_share=encode_u128(proposer_share))


def bond_claimed(ctx: Context, account: bytes) -> int | None:
    """A candidate's bond backs its power (and its slashing): the token pallet's own unbond leaves it."""
    found = Candidates.get(ctx, account)
    return decode_u128(found.bond) if found is not None else None


def consensus_validators(ctx: Context) -> list[tuple[bytes, int]]:
    """The set in force as CometBFT wants it: (ed25519 key, power), sorted by key."""
    return [(v.consensus_key, v.power) for v in Active.get(ctx, pb.ValidatorSet()).validators]


def try_state(ctx: Context) -> None:
    """Bonds are backed by staked OPEN, keys map back to their candidates, the set is bounded, sorted
    and powered, and nothing of a block's consensus view or fees is left over after it."""
    config = ctx.config
    for account, found in Candidates.iter(ctx):
        balances = token.account(ctx, account)
        ensure(balances.bonded + balances.unbonding >= decode_u128(found.bond),
               f"validators: candidate {account.hex()}'s bond is not staked")
        ensure(ByAddress.get(ctx, consensus_address(found.consensus_key)) == account,
               f"validators: candidate {account.hex()}'s key does not map back to it")
        ensure(found.jailed or decode_u128(found.bond) >= config.min_bond,
               f"validators: candidate {account.hex()} is below the minimum bond")
        ensure(found.jailed or not (found.tombstoned or found.jailed_until_ms),
               f"validators: candidate {account.hex()} is tombstoned or jailed for downtime but electable")
    window = config.signed_blocks_window
    for address, info in SigningInfos.iter(ctx):
        ensure(len(info.missed_bits) == (window + 7) // 8,
               f"validators: {address.hex()}'s missed-block bit array is not {window} bits")
        ensure(info.missed == sum(bin(b).count("1") for b in info.missed_bits) <= min(info.counted, window),
               f"validators: {address.hex()}'s missed count is not its bit array's")
    members = list(Active.get(ctx, pb.ValidatorSet()).validators)
    keys = [v.consensus_key for v in members]
    ensure(len(members) <= config.max_validators, "validators: the set is larger than max_validators")
    ensure(keys == sorted(set(keys)), "validators: the set is not sorted by distinct keys")
    ensure(all(v.power >= 1 for v in members), "validators: a member has no power")
    ensure(Voters.get(ctx) is None, "validators: a block's voters outlived it")
    ensure(token.free_balance(ctx, BLOCK_REWARDS) == 0, "validators: block fees were left unpaid")

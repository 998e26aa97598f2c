"""Downtime slashing and unjail in the validators pallet, in process: blocks carry the consensus inherent
a CometBFT driver would send (the previous block's votes: signed, nil or absent), so the tests choose
who misses what. Window counting, the jail and its slash, unjail refused too early and allowed after,
re-election, tombstoned double signers, the spec's checks, and the bit array as a property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.abci.app import note_consensus
from node.abci.types import abci
from pallets.validators.interface import consensus_address
from pallets.validators.liveness import record_vote
from payable.system.v1 import system_pb2
from payable.validators.v1 import validators_pb2 as pb
from runtime.chainspec import ChainSpec, dev_spec
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair
from runtime.errors import ChainSpecError
from runtime.executive import Executive
from runtime.extrinsic import inherent_extrinsic, make_call, sign_extrinsic
from runtime.protocol import BLOCK_REWARDS, TREASURY

GENESIS_MS = 1_700_000_000_000
OWNERS = [Keypair.from_uri(f"//Validator{i}") for i in range(5)]
KEYS = [Keypair.from_uri(f"//Validator{i}//consensus").public for i in range(5)]
WINDOW, JAIL_MS, EPOCH = 10, 5_000, 20


def spec(**config) -> ChainSpec:
    doc = dev_spec().to_dict()
    doc["genesis"]["system"] = {"timestamp_ms": GENESIS_MS}
    doc["genesis"]["token"]["balances"] += [[o.address, "10000 OPEN"] for o in OWNERS]
    doc["genesis"]["validators"] = {"validators": [[o.address, k.hex(), "1000 OPEN"]
                                                   for o, k in zip(OWNERS[:4], KEYS[:4], strict=True)]}
    doc["config"]["validators"] = {"max_validators": 5, "epoch_length": EPOCH, "signed_blocks_window": WINDOW,
                                   "min_signed_per_window_bps": 5_000, "downtime_jail_ms": JAIL_MS,
                                   "downtime_slash_bps": 100, **config}
    return ChainSpec.from_dict(doc)


class Consensus:
    """An executive driven like the ABCI app drives it: block h at GENESIS_MS + 1000 h, carrying the votes
    of block h-1 for the validators in `voters` (none at block 1)."""

    def __init__(self, executive: Executive):
        self.ex = executive
        self.voters = [0, 1, 2, 3]
        self.nonces: dict[bytes, int] = {}

    def sign(self, who: Keypair, call: str, args) -> bytes:
        nonce = self.nonces.get(who.public, 0)
        self.nonces[who.public] = nonce + 1
        return sign_extrinsic(who, self.ex.runtime.make_call("validators", call, args), nonce=nonce,
                              genesis_hash=self.ex.genesis_hash)

    def block(self, *extrinsics: bytes, absent=(), nil=(), misbehavior=()):
        height = self.ex.head.number + 1
        votes = [] if height == 1 else [
            system_pb2.ConsensusVote(validator=consensus_address(KEYS[i]), power=1000,
                                     signed=i not in absent and i not in nil, absent=i in absent)
            for i in self.voters]
        note = system_pb2.NoteConsensus(proposer=consensus_address(KEYS[0]), votes=votes, misbehavior=misbehavior)
        self.ex.open_block(BLOCK_REWARDS, GENESIS_MS + 1000 * height,
                           (inherent_extrinsic(make_call("system", 2, note)),))
        results = self.ex.apply_candidates(list(extrinsics))
        self.ex.finalize_block()
        self.ex.commit()
        self.ex.try_state()
        return results

    def error(self, results) -> str | None:
        return type(results[0].error).__name__ if results[0].error else None

    def events(self, name: str) -> list:
        return [e for e in self.ex.db.events(self.ex.head.number).events if e.name == name]

    def query(self, name: str, i: int, response):
        raw = self.ex.query("validators", name, pb.CandidateRef(account=OWNERS[i].public).SerializeToString())
        return response.FromString(raw)

    def liveness(self, i: int) -> pb.CandidateLiveness:
        return self.query("liveness", i, pb.CandidateLiveness)

    def candidate(self, i: int) -> pb.Candidate:
        return self.query("get_candidate", i, pb.Candidate)

    def active(self) -> list[bytes]:
        raw = self.ex.query("validators", "active_set", pb.ActiveRequest().SerializeToString())
        return [v.consensus_key for v in pb.ValidatorSet.FromString(raw).validators]


@pytest.fixture
def net():
    executive = Executive.open(spec())
    yield Consensus(executive)
    executive.close()


def bond_of(candidate: pb.Candidate) -> int:
    return int.from_bytes(candidate.bond, "big")


def test_misses_past_a_full_window_jail_slash_and_remove_at_once_and_nobody_else_pays(net):
    treasury = net.ex.account_balances(TREASURY)["free"]
    net.block()  # block 1: no commit before it, nothing is counted
    assert all(net.liveness(i).counted == 0 for i in range(4))
    # validator 3 is down from block 1 on, 2 misses every other block (exactly the limit), 1 votes nil
    for height in range(2, WINDOW + 1):
        net.block(absent={3} | ({2} if height % 2 else set()), nil={1})
        assert not net.candidate(3).jailed  # a part-window never jails, however bad
    assert net.liveness(3).missed == WINDOW - 1 and net.liveness(3).max_missed == WINDOW // 2
    net.block(absent={3, 2}, nil={1})  # block 11: validator 3's window is full
    jailed = net.events("JailedForDowntime")
    assert len(jailed) == 1
    event = pb.JailedForDowntime.FromString(jailed[0].data)
    assert (event.account, event.missed, event.window) == (OWNERS[3].public, WINDOW, WINDOW)
    assert bond_of(net.candidate(3)) == 1000 * ONE_OPEN - 10 * ONE_OPEN == 1000 * ONE_OPEN - int.from_bytes(
        event.slashed, "big")  # downtime_slash_bps = 1% of the bond
    assert net.ex.account_balances(TREASURY)["free"] >= treasury + 10 * ONE_OPEN
    hit = net.candidate(3)
    assert hit.jailed and not hit.tombstoned and hit.jailed_until_ms == GENESIS_MS + 11_000 + JAIL_MS
    assert KEYS[3] not in net.active()  # out of the set at once, not at the epoch's end
    assert net.liveness(3).counted == 0  # its window starts afresh
    two, one, zero = net.liveness(2), net.liveness(1), net.liveness(0)
    assert (two.missed, two.counted) == (WINDOW // 2, WINDOW) and not net.candidate(2).jailed  # at the limit
    assert (one.missed, zero.missed) == (0, 0)  # a nil vote is a vote
    # CometBFT keeps listing it absent until the removal takes effect: no second count, no second slash
    for _ in range(2):
        net.block(absent={3})
    assert net.liveness(3).counted == 0 and bond_of(net.candidate(3)) == 990 * ONE_OPEN


def test_unjail_refused_too_early_allowed_after_the_period_then_reelected(net):
    for _ in range(WINDOW + 1):
        net.block(absent={3})
    until = net.candidate(3).jailed_until_ms
    net.voters = [0, 1, 2]  # the set CometBFT applies
    early = net.block(net.sign(OWNERS[3], "unjail", pb.Unjail()))
    assert net.error(early) == "StillJailed" and "unjail in" in early[0].error.message
    assert net.error(net.block(net.sign(OWNERS[2], "unjail", pb.Unjail()))) == "NotJailed"
    assert net.error(net.block(net.sign(OWNERS[4], "unjail", pb.Unjail()))) == "NotCandidate"
    while GENESIS_MS + 1000 * (net.ex.head.number + 1) < until:
        net.block()
    done = net.block(net.sign(OWNERS[3], "unjail", pb.Unjail()))
    assert net.error(done) is None and len(net.events("Unjailed")) == 1
    assert not net.candidate(3).jailed and net.candidate(3).jailed_until_ms == 0
    assert KEYS[3] not in net.active()  # electable from the next election, not before
    while net.ex.head.number % EPOCH:
        net.block()
    assert KEYS[3] in net.active()


def test_a_validator_is_counted_only_from_its_first_vote_in_the_set(net):
    net.block(net.sign(OWNERS[4], "bond", pb.Bond(consensus_key=KEYS[4], amount=encode_u128(500 * ONE_OPEN))))
    for _ in range(WINDOW + 3):
        net.block()
    assert net.liveness(4).counted == 0  # bonded, not in CometBFT's votes: nothing counted, whatever the length
    while net.ex.head.number % EPOCH:
        net.block()
    assert KEYS[4] in net.active()
    net.voters = [0, 1, 2, 3, 4]
    joined = net.ex.head.number + 1
    for _ in range(WINDOW // 2):
        net.block(absent={4})
    record = net.liveness(4)
    assert (record.start_height, record.counted, record.missed) == (joined, WINDOW // 2, WINDOW // 2)
    assert not net.candidate(4).jailed  # joined mid-window: judged on a full window of its own only


def test_a_slash_below_the_minimum_needs_bond_extra_before_unjail(make_chain):
    net = Consensus(make_chain(spec(downtime_slash_bps=9_500)).ex)
    for _ in range(WINDOW + 1):
        net.block(absent={1})
    assert bond_of(net.candidate(1)) == 50 * ONE_OPEN
    while GENESIS_MS + 1000 * (net.ex.head.number + 1) < net.candidate(1).jailed_until_ms:
        net.block()
    low = net.block(net.sign(OWNERS[1], "unjail", pb.Unjail()))
    assert net.error(low) == "BondTooSmall" and "bond_extra first" in low[0].error.message
    topped = net.block(net.sign(OWNERS[1], "bond_extra", pb.BondExtra(amount=encode_u128(60 * ONE_OPEN))),
                       net.sign(OWNERS[1], "unjail", pb.Unjail()))
    assert [r.error for r in topped] == [None, None] and not net.candidate(1).jailed


def test_double_signers_are_tombstoned_for_good(net):
    net.block()
    offence = system_pb2.Misbehavior(kind=system_pb2.Misbehavior.DUPLICATE_VOTE,
                                     validator=consensus_address(KEYS[2]), power=1000, height=1)
    net.block(misbehavior=[offence])
    hit = net.candidate(2)
    assert hit.jailed and hit.tombstoned and KEYS[2] not in net.active()
    for call, args in (("unjail", pb.Unjail()), ("bond_extra", pb.BondExtra(amount=encode_u128(ONE_OPEN)))):
        refused = net.block(net.sign(OWNERS[2], call, args))
        assert net.error(refused) == "Jailed" and "tombstoned" in refused[0].error.message


def test_a_jailed_account_cannot_bond_its_way_out_of_the_jail_or_the_tombstone(net):
    """Unbonding everything and bonding again from the same account with a fresh key must not leave a
    downtime jail before its period, nor a tombstone ever; the jailed record (bond 0) stays."""
    net.block()
    offence = system_pb2.Misbehavior(kind=system_pb2.Misbehavior.DUPLICATE_VOTE,
                                     validator=consensus_address(KEYS[2]), power=1000, height=1)
    net.block(misbehavior=[offence])
    net.voters = [0, 1, 3]
    for _ in range(WINDOW + 1):
        net.block(absent={3})
    assert net.candidate(3).jailed and not net.candidate(3).tombstoned
    fresh = [Keypair.from_uri(f"//Fresh{i}").public for i in range(2)]
    for i, key in zip((2, 3), fresh, strict=True):
        out = net.block(net.sign(OWNERS[i], "unbond", pb.Unbond(amount=net.candidate(i).bond)))
        assert net.error(out) is None and bond_of(net.candidate(i)) == 0 and net.candidate(i).jailed
        again = net.block(net.sign(OWNERS[i], "bond", pb.Bond(consensus_key=key, amount=encode_u128(500 * ONE_OPEN))))
        assert net.error(again) == "Jailed", again[0].error
    assert "never be a candidate again" in net.block(net.sign(OWNERS[2], "bond", pb.Bond(
        consensus_key=fresh[0], amount=encode_u128(500 * ONE_OPEN))))[0].error.message
    while net.ex.head.number % EPOCH:
        net.block()
    assert KEYS[2] not in net.active() and KEYS[3] not in net.active() and not set(fresh) & set(net.active())
    while GENESIS_MS + 1000 * (net.ex.head.number + 1) < net.candidate(3).jailed_until_ms:
        net.block()
    back = net.block(net.sign(OWNERS[3], "bond_extra", pb.BondExtra(amount=encode_u128(500 * ONE_OPEN))),
                     net.sign(OWNERS[3], "unjail", pb.Unjail()))
    assert [r.error for r in back] == [None, None] and bond_of(net.candidate(3)) == 500 * ONE_OPEN


def test_abci_votes_map_to_signed_nil_and_absent():
    votes = [abci.VoteInfo(validator=abci.Validator(address=bytes([i]) * 20, power=1), block_id_flag=flag)
             for i, flag in enumerate((1, 2, 3))]  # ABSENT, COMMIT, NIL
    note = note_consensus(b"", votes, [])
    assert [(v.signed, v.absent) for v in note.votes] == [(False, True), (True, False), (False, False)]


@pytest.mark.parametrize(("config", "message"), [
    ({"signed_blocks_window": 0}, "signed_blocks_window must be within 1..10000"),
    ({"signed_blocks_window": 10_001}, "signed_blocks_window must be within 1..10000"),
    ({"min_signed_per_window_bps": 10_001}, "min_signed_per_window_bps is in basis points"),
    ({"downtime_slash_bps": -1}, "downtime_slash_bps is in basis points"),
    ({"downtime_jail_ms": -5}, "downtime_jail_ms is block time in milliseconds"),
    ({"downtime_jail_period": 5}, "unknown config keys"),
])
def test_the_chain_spec_refuses_bad_downtime_settings(config, message):
    with pytest.raises(ChainSpecError, match=message):
        Executive.open(spec(**config)).close()


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40), st.lists(st.booleans(), max_size=200))
def test_the_missed_block_window_is_the_last_window_votes(window, misses):
    info = pb.SigningInfo()
    for n, missed in enumerate(misses, 1):
        record_vote(info, window, missed)
        last = misses[max(0, n - window):n]
        assert info.counted == n and info.missed == sum(last)
        assert len(info.missed_bits) == (window + 7) // 8
        assert sum(bin(b).count("1") for b in info.missed_bits) == info.missed

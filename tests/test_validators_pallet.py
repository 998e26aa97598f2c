"""The validators pallet on a dev chain: bonding rules, top-N election by stake at epoch ends with a
deterministic tie-break, a leaving member replaced at once, and the invariants."""

from __future__ import annotations

from payable.validators.v1 import validators_pb2 as pb
from runtime.chainspec import ChainSpec, dev_spec
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair

EPOCH = 5
KEYS = [Keypair.from_uri(f"//Validator{i}//consensus").public for i in range(6)]


def spec() -> ChainSpec:
    doc = dev_spec().to_dict()
    doc["config"]["validators"] = {"max_validators": 2, "epoch_length": EPOCH}
    return ChainSpec.from_dict(doc)


def outcome(built, index: int = 0):
    return built.outcomes[index].error


def active(chain) -> list[bytes]:
    raw = chain.ex.query("validators", "active_set", pb.ActiveRequest().SerializeToString())
    return [v.consensus_key for v in pb.ValidatorSet.FromString(raw).validators]


def bond(chain, who, key, amount):
    return chain.sign(who, "validators", "bond", pb.Bond(consensus_key=key, amount=encode_u128(amount * ONE_OPEN)))


def run_to_epoch_end(chain):
    while chain.ex.head.number % EPOCH:
        chain.block()


def test_bonding_rules_give_clear_errors(make_chain):
    chain = make_chain(spec())
    built = chain.block(bond(chain, chain.alice, KEYS[0], 50), bond(chain, chain.bob, b"\x01" * 31, 500),
                        bond(chain, chain.charlie, KEYS[1], 500), bond(chain, chain.dave, KEYS[1], 500))
    errors = [type(o.error).__name__ if o.error else None for o in built.outcomes]
    assert errors == ["BondTooSmall", "BadKey", None, "KeyInUse"]
    built = chain.block(chain.sign(chain.charlie, "validators", "unbond",
                                   pb.Unbond(amount=encode_u128(450 * ONE_OPEN))))
    assert "unbond all" in outcome(built).message
    chain.ex.try_state()


def test_a_candidates_bond_leaves_only_through_the_validators_pallet(make_chain):
    """The token pallet's own unbond cannot take the OPEN a candidacy stands on (it was elected with full
    power on nothing, and slashing took 0); what is bonded beyond it can still leave that way."""
    from payable.token.v1 import token_pb2

    chain = make_chain(spec())
    assert outcome(chain.block(bond(chain, chain.charlie, KEYS[1], 500))) is None

    def token_unbond(amount):
        return outcome(chain.block(chain.sign(chain.charlie, "token", "unbond",
                                              token_pb2.Unbond(amount=encode_u128(amount * ONE_OPEN)))))

    refused = token_unbond(500)
    assert type(refused).__name__ == "BondInUse" and "unbond at most 0 OPEN here" in refused.message
    assert outcome(chain.block(chain.sign(chain.charlie, "token", "bond",
                                          token_pb2.Bond(amount=encode_u128(100 * ONE_OPEN))))) is None
    assert type(token_unbond(101)).__name__ == "BondInUse"
    assert token_unbond(100) is None  # the part no candidacy stands on
    assert outcome(chain.block(chain.sign(chain.charlie, "validators", "unbond",
                                          pb.Unbond(amount=encode_u128(500 * ONE_OPEN))))) is None
    chain.ex.try_state()


def test_top_n_by_stake_elected_at_epoch_end_and_a_leaver_replaced_at_once(make_chain):
    chain = make_chain(spec())
    alice, bob, charlie = chain.alice, chain.bob, chain.charlie
    chain.block(bond(chain, alice, KEYS[0], 300), bond(chain, bob, KEYS[1], 200), bond(chain, charlie, KEYS[2], 200))
    assert active(chain) == []
    run_to_epoch_end(chain)
    tie_winner = min(KEYS[1], KEYS[2])  # equal bonds: the lower key wins
    assert active(chain) == sorted([KEYS[0], tie_winner])
    leaver = alice
    built = chain.block(chain.sign(leaver, "validators", "unbond", pb.Unbond(amount=encode_u128(300 * ONE_OPEN))))
    assert outcome(built) is None and chain.ex.head.number % EPOCH  # not an epoch end: replaced at once
    assert active(chain) == sorted([KEYS[1], KEYS[2]])
    chain.ex.try_state()

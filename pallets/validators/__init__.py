"""The validators pallet.

Overview
    Candidates bond OPEN (through the token pallet's staking) with the ed25519 key their CometBFT
    node signs with. At the end of every epoch the top `max_validators` non-jailed candidates by bond
    become the validator set, with voting power bond // power_unit; a consensus driver sends the
    changes to CometBFT as validator updates (they take effect two heights later). Misbehaviour
    evidence that CometBFT commits (duplicate votes, light-client attacks) slashes the offender's
    bond and jails it for good (tombstoned). Downtime - more than the allowed share of missed blocks
    in a sliding window of `signed_blocks_window` blocks, counted from CometBFT's commit votes - costs
    `downtime_slash_bps` of the bond and takes the validator out of the set at once, jailed for
    `downtime_jail_ms` of block time; then its owner may `unjail` (bond still >= min_bond) and it is
    electable again from the next election (see `liveness`). A block's fees are the validators': the
    proposer gets `proposer_bps` of them and the rest is split by power among the validators that
    signed the previous block.

Terminology
    consensus key: the ed25519 public key a CometBFT validator signs votes with; its CometBFT
        address is the first 20 bytes of its SHA-256.
    epoch: `epoch_length` blocks; the set is elected at the end of blocks whose number is a multiple.
    jailed: not electable. Jailed for downtime: until `jailed_until_ms`, then `unjail`. Tombstoned
        (double signing, light-client attack): jailed for good, as Cosmos does; may only unbond.
    missed block: a block whose commit CometBFT reports the validator absent from (a nil vote is not
        missed: the validator is up).
    block-rewards pot: the author account of blocks a consensus engine orders; the executive pays
        the author's share of the block's fees into it and this pallet pays it out the same block.

Invariants (checked by `try_state`)
    Every candidate's bond is backed by bonded or unbonding OPEN and its key maps back to it; the set
    is at most `max_validators`, sorted by distinct keys, every member with power >= 1; no block's
    consensus view and no fees outlive their block; a tombstoned or downtime-jailed candidate is
    jailed; every missed-block window has `signed_blocks_window` bits and its count is their sum. The
    set is never emptied by an election.

Public interface: `pallets.validators.interface` (candidate, active_set, consensus_address).
Calls: bond, bond_extra, unbond, unjail. Queries: get_candidate, list_candidates, active_set, liveness.
Hooks for the runtime: `on_consensus` (the driver's NoteConsensus inherent), `consensus_validators`.
"""

from payable.validators.v1 import validators_pb2
from runtime.pallet import Pallet

from . import genesis, hooks
from .calls import calls
from .config import ValidatorsConfig
from .errors import ValidatorsError
from .events import events
from .queries import queries
from .storage import storage

pallet = Pallet("validators", doc=__doc__, calls=calls, storage=storage, events=events, errors=ValidatorsError,
                queries=queries, config=ValidatorsConfig, genesis=genesis.build, hooks=hooks,
                proto_files=(validators_pb2.DESCRIPTOR,),
                query_service=validators_pb2.DESCRIPTOR.services_by_name["ValidatorsQuery"],
                requires=("token",))

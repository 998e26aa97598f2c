"""The OPEN token pallet.

Overview
    Balances of the native token OPEN (18 decimals), transfers, named holds placed by other pallets
    (as FRAME's `pallet_balances` holds: a deposit, an escrow, a bond, each under its pallet's reason),
    staking (bond / unbond / withdraw after an unbonding period) with slashing, and the chain's fee
    currency (withdrawal before dispatch, payout to the block author and treasury).

Terminology
    free: spendable balance. reserved: held by other pallets, the sum of the account's holds; bonded:
    staked and slashable; unbonding: leaving the bond, still slashable until withdrawn. total: all four.
    hold: funds on hold under a reason "<pallet>/<name>" - inference/escrow, datanet/creation_deposit,
    datanet/contribution_deposit, attribution/challenge_bond; only the pallet named may place, release or
    pay it out, so each pallet's `try_state` checks its own holds exactly. token/reserve: the hold behind
    the older anonymous `reserve` API, kept for external pallets.
    existential deposit (ED): the least an account may hold in free balance when nothing is locked;
    below it the account is reaped and its dust burned. treasury: a keyless protocol account.

Invariants (checked by `try_state`)
    total issuance == Σ accounts (free + reserved + bonded + unbonding); each account's reserved ==
    Σ its holds (sorted by reason, none zero); no stored account is empty or dust; no amount is negative
    or above 2^128 - 1 (the encoding cannot express it).

Public interface: `pallets.token.interface` (transfer; hold, release, transfer_on_hold, balance_on_hold,
holds; the anonymous reserve, unreserve, repatriate_reserved; slash, slash_bonded, bond, unbond,
withdraw_unbonded, account, free_balance, total_issuance).
"""

from payable.token.v1 import token_pb2
from runtime.pallet import Pallet

from . import genesis, hooks
from .calls import calls
from .config import TokenConfig
from .errors import TokenError
from .events import events
from .queries import queries
from .storage import storage

pallet = Pallet("token", doc=__doc__, calls=calls, storage=storage, events=events, errors=TokenError,
                queries=queries, config=TokenConfig, genesis=genesis.build, hooks=hooks,
                proto_files=(token_pb2.DESCRIPTOR,), query_service=token_pb2.DESCRIPTOR.services_by_name["TokenQuery"],
                extra_plugins=(hooks.FeeHandler(),))

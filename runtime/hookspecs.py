"""The pluggy hook specifications every pallet plugin implements (project name "payable").

A pallet is registered as a plugin; the runtime calls these hooks across all registered pallets, for
what every pallet takes part in (block start and end, invariants) and for services one plugin
provides to the whole chain (the fee currency, account balances). What concerns one pallet - running
its call, answering its query, its extra validity checks - is not a hook: the runtime looks the pallet
up by name and calls it (`Runtime.dispatch`, `Runtime.query`, `Runtime.validate`), so no other pallet
is asked. `runtime.pallet.Pallet` implements the hooks generically from a pallet's declarations, so a
pallet author declares calls, storage, events and errors and rarely writes a hookimpl by hand. Extra
plugins (e.g. a tracer) can wrap any hook with `hookwrapper=True`.
"""

from __future__ import annotations

import pluggy

PROJECT = "payable"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def payable_pallet_info():
    """Return the plugin's `Pallet` declaration (registration: name, calls, storage, events, ...)."""


@hookspec
def payable_on_initialize(ctx):
    """Run at the start of every block, before any extrinsic."""


@hookspec
def payable_on_finalize(ctx):
    """Run at the end of every block, after the last extrinsic."""


@hookspec
def payable_on_consensus(ctx, info):
    """A consensus driver's view of the block being built (`system_pb2.NoteConsensus`: proposer, the
    previous block's votes, misbehaviour evidence); runs inside the block, as an inherent."""


@hookspec(firstresult=True)
def payable_consensus_validators(ctx):
    """The validator set the chain elects: [(ed25519 consensus key, power)] sorted by key, or None when
    no pallet of the chain elects one (the consensus engine's genesis set then stays)."""


@hookspec(firstresult=True)
def payable_withdraw_fee(ctx, who: bytes, amount: int):
    """Take `amount` from `who` for fees; return True when taken, raise InvalidTransaction if it cannot be."""


@hookspec(firstresult=True)
def payable_deposit_fee(ctx, who: bytes, amount: int):
    """Credit collected fees to `who` (block author or treasury); return True when credited."""


@hookspec
def payable_content_access(ctx, content_hash: bytes, reader: bytes):
    """May `reader` (an account; empty: anonymous) download this blob from the node's content store? Each
    pallet answers None (no opinion), True (it allows) or False (it restricts); see Runtime.content_readable."""


@hookspec
def payable_bond_claimed(ctx, account: bytes):
    """How much of `account`'s bonded OPEN this pallet's records stand on (a validator candidate's bond, an
    inference worker's), or None: the token pallet's own `unbond` call leaves at least their sum bonded, so
    power and bonds are never backed by nothing (each pallet unbonds its own through its own calls)."""


@hookspec
def payable_content_uploader(ctx, account: bytes):
    """May `account` store blobs in the node's content store? Each pallet answers None (no opinion), True or
    False (it refuses); see Runtime.content_uploader."""


@hookspec
def payable_content_withdrawn(ctx, content_hash: bytes):
    """Why no node may serve this blob any more (its data was withdrawn or taken down), or None; see
    Runtime.content_withdrawn."""


@hookspec
def payable_content_in_use(ctx, content_hash: bytes):
    """True when the pallet's own records still use this blob (a model's weights, a base's files, ...): data
    withdrawn elsewhere under the same hash is then neither refused nor deleted; None otherwise."""


@hookspec
def payable_released_content(ctx, event):
    """The blobs a committed event (an EventRecord) frees: content hashes a node deletes from its store."""


@hookspec
def payable_integrity_test(config):
    """Check the pallet's static configuration once at start-up; raise with a clear message if broken."""


@hookspec
def payable_try_state(ctx):
    """Check the pallet's invariants against the current state; raise InvariantViolation if one fails."""

"""DataNet hooks: the static config check, the invariant check, who may read a DataNet's blobs, which
blobs no node may serve any more (withdrawn or taken down), and the pool's door for calls whose arguments
alone rule them out."""

from __future__ import annotations

from pallets.token import interface as token
from payable.datanet.v1 import datanet_pb2 as pb
from runtime.codec import decode_u128
from runtime.context import Context
from runtime.errors import ensure

from . import weights
from .calls import check_arguments, check_contribution
from .config import DataNetConfig
from .interface import RETIRED, access_check, datanet, leaf_of, retirement, root_of, terms_mix
from .storage import (
    CONTRIBUTION_DEPOSIT,
    CREATION_DEPOSIT,
    Approved,
    ByContent,
    Contributions,
    DataNets,
    LiveContent,
    Snapshots,
)


def validate_transaction(ctx: Context, signer: bytes, call, args) -> None:
    """A DataNet created or re-described with a license, format list, text, curator list or contribution
    deposit its arguments and the chain's settings rule out (`calls.check_arguments`), or a contribution its
    DataNet would refuse (`calls.check_contribution`), is invalid: the pool refuses it with the typed error
    (e.g. `datanet.BadInput: license 'NOT A LICENSE' is not an SPDX identifier ...`), so no block includes it
    and no fee is taken."""
    check_arguments(ctx, signer, call.name, args)
    if call.name == "contribute":
        check_contribution(ctx, args)


def integrity_test(config: DataNetConfig) -> None:
    declared = (weights.PUBLISH.reads - 2) // 2
    if config.max_snapshot_contributions > declared:
        raise ValueError(f"datanet.max_snapshot_contributions {config.max_snapshot_contributions} exceeds the "
                         f"{declared} that publish_snapshot's declared weight covers")


def try_state(ctx: Context) -> None:
    """Indexes agree with statuses; every snapshot's root and license mix match its leaves; what is held
    under each of this pallet's hold reasons is exactly what it owes: creation deposits of the DataNets,
    deposits of the pending contributions, per account."""
    created: dict[bytes, int] = {}
    pending: dict[bytes, int] = {}
    for net_id, net in DataNets.iter(ctx):
        created[net.owner] = created.get(net.owner, 0) + decode_u128(net.creation_deposit)
        versions = [v for v, _ in Snapshots.iter_prefix(ctx, net_id)]
        ensure(versions == list(range(1, net.snapshot_count + 1)), f"datanet {net_id}: snapshot versions {versions}")
        for version, snap in Snapshots.iter_prefix(ctx, net_id):
            leaves = [leaf_of(Contributions.get(ctx, cid)) for cid in snap.contribution_ids]
            ensure(root_of(leaves) == snap.root, f"datanet {net_id} snapshot {version}: root does not match leaves")
            ensure(terms_mix(leaves) == (list(snap.licenses), snap.personal_data),
                   f"datanet {net_id} snapshot {version}: its license mix does not match its leaves' terms")
    for cid, found in Contributions.iter(ctx):
        live = LiveContent.get(ctx, found.datanet, found.content_hash)
        approved = Approved.get(ctx, found.datanet, cid) is not None
        if found.status in (pb.PENDING, pb.APPROVED):
            ensure(live == cid, f"contribution {cid}: live-content index points at {live}")
        ensure(approved == (found.status == pb.APPROVED), f"contribution {cid}: approved index disagrees")
        ensure(ByContent.get(ctx, found.content_hash, found.datanet) is not None,
               f"contribution {cid}: its content is missing from the content index")
        ensure(found.status in RETIRED if found.withdrawn_at else found.status != pb.TAKEN_DOWN,
               f"contribution {cid}: withdrawn_at {found.withdrawn_at} disagrees with its status "
               f"{pb.Status.Name(found.status)}")  # (a pending one withdrawn before withdrawn_at existed has 0)
        ensure((found.takedown != pb.TAKEDOWN_NONE) == (found.status == pb.TAKEN_DOWN),
               f"contribution {cid}: a takedown reason goes with TAKEN_DOWN only")
        if found.status == pb.PENDING:
            pending[found.contributor] = pending.get(found.contributor, 0) + decode_u128(found.deposit)
    for reason, owed in ((CREATION_DEPOSIT, created), (CONTRIBUTION_DEPOSIT, pending)):
        held = token.holds(ctx, reason)
        for who in sorted(set(owed) | set(held)):
            ensure(held.get(who, 0) == owed.get(who, 0),
                   f"account {who.hex()}: {held.get(who, 0)} held for {reason}, {owed.get(who, 0)} owed")


def content_access(ctx: Context, content_hash: bytes, reader: bytes) -> bool | None:
    """For the node's content store: None when no DataNet holds this content; otherwise whether one of the
    DataNets holding it lets `reader` (empty: anonymous) read it - any public holder lets everyone. A DataNet
    whose contribution of it was withdrawn or taken down lets nobody read it any more: a public DataNet's
    withdrawn copy must not open a permissioned DataNet's live copy of the same bytes to everyone, and a
    permissioned DataNet's withdrawn data stays closed even while another record (a model's) still uses
    the hash. Only when every holder is a public DataNet that withdrew it does the DataNet pallet have no
    say (None): the blob is then refused as withdrawn, or served for the record that still uses it."""
    held = [(net, Contributions.get(ctx, cid)) for net, cid in ByContent.iter_prefix(ctx, content_hash)]
    if not held:
        return None
    nets = [net for net, found in held if found.status not in RETIRED]
    if not nets:
        return False if any(datanet(ctx, net).permissioned for net, _ in held) else None
    return any(access_check(ctx, net, reader).allowed for net in nets)


def content_withdrawn(ctx: Context, content_hash: bytes) -> str | None:
    """Why no node may serve this blob any more, or None. A blob is withdrawn when DataNets hold it and in every
    one of them its latest contribution was withdrawn or taken down: the same bytes submitted elsewhere (or
    again) and still pending, approved, rejected or revoked there belong to that contribution too, whose
    contributor asked nothing, so they stay served under that DataNet's access rules."""
    latest = [Contributions.get(ctx, cid) for _, cid in ByContent.iter_prefix(ctx, content_hash)]
    if not latest or any(found.status not in RETIRED for found in latest):
        return None
    return "; ".join(retirement(found) for found in latest)


def released_content(ctx: Context, event) -> list[bytes]:
    """The blobs a committed event of this pallet frees (a node deletes them from its content store): a
    withdrawal's or takedown's content, once no DataNet's contribution needs it (`content_withdrawn`)."""
    if event.pallet != "datanet" or event.name not in ("Withdrawn", "TakenDown"):
        return []
    found = Contributions.get(ctx, pb.ContributionEvent.FromString(event.data).contribution)
    if found is None or content_withdrawn(ctx, found.content_hash) is None:
        return []
    return [found.content_hash]

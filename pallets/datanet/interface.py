"""The DataNet pallet's public interface (for the model registry, the attribution pallet and queries)."""

from __future__ import annotations

from payable.datanet.v1 import datanet_pb2 as pb
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context, public_interface
from runtime.merkle import merkle_proof, merkle_root
from sdk.wire import leaf_bytes

from . import errors
from .storage import Access, ByContent, Contributions, DataNets, Snapshots, Stats

NAME = "datanet"


def leaf_of(contribution: pb.Contribution) -> pb.SnapshotLeaf:
    return pb.SnapshotLeaf(contribution_id=contribution.id, contributor=contribution.contributor,
                           content_hash=contribution.content_hash, size=contribution.size)


def root_of(leaves: list[pb.SnapshotLeaf]) -> bytes:
    return merkle_root([leaf_bytes(leaf) for leaf in leaves])


@public_interface(NAME)
def datanet(ctx: Context, datanet_id: int) -> pb.DataNet:
    return DataNets.require(ctx, datanet_id, errors.UnknownDataNet, f"no DataNet {datanet_id}")


@public_interface(NAME)
def contribution(ctx: Context, contribution_id: int) -> pb.Contribution:
    return Contributions.require(ctx, contribution_id, errors.UnknownContribution,
                                 f"no contribution {contribution_id}")


@public_interface(NAME)
def snapshot(ctx: Context, datanet_id: int, version: int) -> pb.Snapshot:
    """A published snapshot (version 0: the latest), or UnknownDataNet / BadInput."""
    net = datanet(ctx, datanet_id)
    version = version or net.snapshot_count
    found = Snapshots.get(ctx, datanet_id, version) if version else None
    if found is None:
        raise errors.BadInput(f"DataNet {datanet_id} has no snapshot version {version} "
                              f"(it has {net.snapshot_count})")
    return found


@public_interface(NAME)
def membership_proofs(ctx: Context, snap: pb.Snapshot, only: set[int] | None = None) -> list[pb.MembershipProof]:
    """Merkle membership proofs of a snapshot's leaves (all, or those whose ids are in `only`)."""
    leaves = [leaf_of(Contributions.get(ctx, cid)) for cid in snap.contribution_ids]
    raw = [leaf_bytes(leaf) for leaf in leaves]
    return [pb.MembershipProof(leaf=leaf, index=i, count=len(leaves), siblings=merkle_proof(raw, i))
            for i, leaf in enumerate(leaves) if only is None or leaf.contribution_id in only]


@public_interface(NAME)
def record_earnings(ctx: Context, datanet_id: int, contributor: bytes, amount: int) -> None:
    """Credit a contributor's statistics with OPEN earned from attribution (the attribution pallet calls it)."""
    stats = Stats.get(ctx, datanet_id, contributor) or pb.ContributorStats()
    stats.earned = encode_u128(decode_u128(stats.earned) + amount)
    Stats.insert(ctx, datanet_id, contributor, stats)


def _licence(ctx: Context, net: pb.DataNet, who: bytes) -> str | None:
    """Why `who` may train on the DataNet's data (public, owner, curator, granted), or None."""
    if not net.permissioned:
        return "public"
    if who == net.owner:
        return "owner"
    if who in net.curators:
        return "curator"
    found = Access.get(ctx, net.id, who)
    return "granted" if found is not None and found.state == pb.ACCESS_GRANTED else None


@public_interface(NAME)
def access_check(ctx: Context, datanet_id: int, who: bytes) -> pb.AccessCheck:
    """Whether `who` may download the DataNet's data, and why: anyone for a public DataNet; for a permissioned
    one its owner, curators, the accounts it granted, and its contributors (who hold their own data anyway)."""
    net = datanet(ctx, datanet_id)
    reason = _licence(ctx, net, who)
    if reason is None and who and (Stats.get(ctx, net.id, who) or pb.ContributorStats()).contributions:
        reason = "contributor"
    if reason is not None:
        return pb.AccessCheck(permissioned=net.permissioned, allowed=True, reason=reason)
    found = Access.get(ctx, net.id, who)
    state = "no access requested" if found is None else f"access {pb.AccessState.Name(found.state)[7:].lower()}"
    return pb.AccessCheck(permissioned=True, allowed=False, reason=f"DataNet {net.id} is permissioned ({state})")


@public_interface(NAME)
def may_train(ctx: Context, datanet_id: int, who: bytes) -> bool:
    """Whether a model owned by `who` may cite the DataNet's snapshots: public, or its owner, a curator or a
    granted account (contributing data is not a licence to train on everyone else's)."""
    return _licence(ctx, datanet(ctx, datanet_id), who) is not None


@public_interface(NAME)
def holders(ctx: Context, content_hash: bytes) -> list[int]:
    """The DataNets that hold (or held) a contribution with this content, in id order."""
    return [net for net, _ in ByContent.iter_prefix(ctx, content_hash)]

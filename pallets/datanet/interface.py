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
RETIRED = (pb.WITHDRAWN, pb.TAKEN_DOWN)  # statuses whose bytes no node serves (see hooks.content_withdrawn)


def takedown_name(reason: int) -> str:
    """A TakedownReason's plain name: "copyright", "personal data", ..."""
    return pb.TakedownReason.Name(reason)[len("TAKEDOWN_"):].lower().replace("_", " ")


def retirement(found: pb.Contribution) -> str:
    """How a withdrawn or taken-down contribution left, in words (what a refused read of its bytes says)."""
    how = ("withdrawn by its contributor" if found.status == pb.WITHDRAWN
           else f"taken down ({takedown_name(found.takedown)})")
    return f"contribution {found.id} of DataNet {found.datanet} was {how} at block {found.withdrawn_at}"


def withdrawn_by(found: pb.Contribution, block: int) -> bool:
    """Whether the contribution was withdrawn or taken down at or before `block`: the attribution pallet pays
    it nothing for a request made from then on."""
    return found.status in RETIRED and found.withdrawn_at <= block


def leaf_of(contribution: pb.Contribution) -> pb.SnapshotLeaf:
    """A contribution's snapshot leaf: who, what and its terms, so a membership proof proves the terms too."""
    return pb.SnapshotLeaf(contribution_id=contribution.id, contributor=contribution.contributor,
                           content_hash=contribution.content_hash, size=contribution.size, terms=contribution.terms)


def terms_mix(leaves: list[pb.SnapshotLeaf]) -> tuple[list[pb.LicenseShare], int]:
    """A snapshot's license mix (its members grouped by license, licenses sorted) and how many of them
    declare personal data: recorded with the snapshot, so a model citing it learns what its data allows
    without reading every contribution."""
    by_license: dict[str, list[int]] = {}
    for leaf in leaves:
        by_license.setdefault(leaf.terms.license, []).append(leaf.contribution_id)
    shares = [pb.LicenseShare(license=name, contribution_ids=ids) for name, ids in sorted(by_license.items())]
    return shares, sum(leaf.terms.personal_data for leaf in leaves)


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

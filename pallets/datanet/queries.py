"""DataNet read-only queries (served by the node as payable.datanet.v1.DataNetQuery)."""

from __future__ import annotations

from payable.datanet.v1 import datanet_pb2 as pb
from runtime.codec import decode_u128
from runtime.context import Context
from runtime.errors import NotFound
from runtime.pallet import QueryTable

from . import errors
from .interface import access_check, contribution, datanet, membership_proofs, snapshot
from .storage import Access, ByContributor, ByDataNet, Contributions, DataNets, MetadataVersions, Stats

queries = QueryTable("datanet")
MAX_PAGE = 100


def _limit(requested: int) -> int:
    return min(requested or 20, MAX_PAGE)


@queries.query(pb.DataNetRequest, pb.DataNetInfo)
def get_datanet(ctx: Context, request: pb.DataNetRequest) -> pb.DataNetInfo:
    """A DataNet and its current metadata."""
    net = datanet(ctx, request.datanet)
    return pb.DataNetInfo(datanet=net, metadata=MetadataVersions.get(ctx, net.id, net.metadata_version))


@queries.query(pb.ListDataNetsRequest, pb.DataNetList)
def list_datanets(ctx: Context, request: pb.ListDataNetsRequest) -> pb.DataNetList:
    """DataNets in id order, a page at a time (pass next_start_after back for the next page)."""
    out, limit = pb.DataNetList(), _limit(request.limit)
    for net_id, net in DataNets.iter(ctx):
        if net_id <= request.start_after:
            continue
        if len(out.datanets) == limit:
            out.next_start_after = out.datanets[-1].datanet.id
            break
        out.datanets.add(datanet=net, metadata=MetadataVersions.get(ctx, net_id, net.metadata_version))
    return out


@queries.query(pb.ContributionsRequest, pb.ContributionList)
def list_contributions(ctx: Context, request: pb.ContributionsRequest) -> pb.ContributionList:
    """Contributions by DataNet and/or contributor and/or status, in id order, paged."""
    if request.datanet:
        datanet(ctx, request.datanet)
        ids = (cid for cid, _ in ByDataNet.iter_prefix(ctx, request.datanet))
    elif request.contributor:
        ids = (cid for cid, _ in ByContributor.iter_prefix(ctx, request.contributor))
    else:
        ids = (cid for cid, _ in Contributions.iter(ctx))
    out, limit = pb.ContributionList(), _limit(request.limit)
    for cid in ids:
        if cid <= request.start_after:
            continue
        found = Contributions.get(ctx, cid)
        if request.contributor and found.contributor != request.contributor:
            continue
        if request.filter_status and found.status != request.status:
            continue
        if len(out.contributions) == limit:
            out.next_start_after = out.contributions[-1].id
            break
        out.contributions.append(found)
    return out


def _published(ctx: Context, datanet_id: int, version: int) -> pb.Snapshot:
    """`snapshot`, a version never published being NotFound (to a call that names one, it is bad input)."""
    try:
        return snapshot(ctx, datanet_id, version)
    except errors.BadInput as exc:
        raise NotFound(exc.message) from exc


@queries.query(pb.SnapshotRequest, pb.SnapshotWithProofs)
def get_snapshot(ctx: Context, request: pb.SnapshotRequest) -> pb.SnapshotWithProofs:
    """A snapshot (version 0: the latest) with a membership proof for every contribution in it."""
    snap = _published(ctx, request.datanet, request.version)
    return pb.SnapshotWithProofs(snapshot=snap, proofs=membership_proofs(ctx, snap))


@queries.query(pb.ProofRequest, pb.MembershipProof)
def get_membership(ctx: Context, request: pb.ProofRequest) -> pb.MembershipProof:
    """The Merkle proof that a contribution is in a snapshot version (verifiable with the root alone)."""
    snap = _published(ctx, request.datanet, request.version)
    contribution(ctx, request.contribution)
    proofs = membership_proofs(ctx, snap, only={request.contribution})
    if not proofs:
        raise errors.BadInput(f"contribution {request.contribution} is not in snapshot version {snap.version}")
    return proofs[0]


@queries.query(pb.StatsRequest, pb.ContributorStats)
def get_stats(ctx: Context, request: pb.StatsRequest) -> pb.ContributorStats:
    """A contributor's counts and earnings in one DataNet."""
    datanet(ctx, request.datanet)
    return Stats.get(ctx, request.datanet, request.contributor) or pb.ContributorStats()


@queries.query(pb.DataNetRequest, pb.AccessList)
def list_access(ctx: Context, request: pb.DataNetRequest) -> pb.AccessList:
    """A DataNet's access requests and grants, by account (bounded by the number of accounts that asked)."""
    net = datanet(ctx, request.datanet)
    out = pb.AccessList(permissioned=net.permissioned)
    for account, access in Access.iter_prefix(ctx, net.id):
        out.entries.add(account=account, access=access)
    return out


@queries.query(pb.AccessRequest, pb.AccessCheck)
def check_access(ctx: Context, request: pb.AccessRequest) -> pb.AccessCheck:
    """Whether an account may train on and download a DataNet's data, and why."""
    return access_check(ctx, request.datanet, request.account)


@queries.query(pb.RankRequest, pb.RankedContributors)
def rank_contributors(ctx: Context, request: pb.RankRequest) -> pb.RankedContributors:
    """A DataNet's contributors by OPEN earned from attribution, highest first (ties by account), a page at a
    time from rank `offset`."""
    datanet(ctx, request.datanet)
    ranked = sorted(Stats.iter_prefix(ctx, request.datanet), key=lambda kv: (-decode_u128(kv[1].earned), kv[0]))
    end = request.offset + _limit(request.limit)
    out = pb.RankedContributors(total=len(ranked), next_offset=end if end < len(ranked) else 0)
    for account, stats in ranked[request.offset:end]:
        out.contributors.add(contributor=account, stats=stats)
    return out

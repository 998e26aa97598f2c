"""Model registry read-only queries (served by the node as payable.modelregistry.v1.ModelRegistryQuery)."""

from __future__ import annotations

from pallets.datanet import interface as datanet
from payable.modelregistry.v1 import modelregistry_pb2 as pb
from runtime.context import Context
from runtime.pallet import QueryTable

from .interface import base_model, model
from .storage import BaseModels, ByDataNet, ByOwner, Models

queries = QueryTable("modelregistry")


@queries.query(pb.BaseModelRequest, pb.BaseModel)
def get_base_model(ctx: Context, request: pb.BaseModelRequest) -> pb.BaseModel:
    """A base model by id."""
    return base_model(ctx, request.base_model)


@queries.query(pb.ModelRequest, pb.Model)
def get_model(ctx: Context, request: pb.ModelRequest) -> pb.Model:
    """A model by id."""
    return model(ctx, request.model)


@queries.query(pb.ModelsRequest, pb.ModelList)
def list_models(ctx: Context, request: pb.ModelsRequest) -> pb.ModelList:
    """Models trained on a DataNet, or owned by an account (or all), in id order, paged."""
    if request.datanet:
        ids = (mid for mid, _ in ByDataNet.iter_prefix(ctx, request.datanet))
    elif request.owner:
        ids = (mid for mid, _ in ByOwner.iter_prefix(ctx, request.owner))
    else:
        ids = (mid for mid, _ in Models.iter(ctx))
    out, limit = pb.ModelList(), min(request.limit or 20, 100)
    for mid in ids:
        if mid <= request.start_after:
            continue
        if len(out.models) == limit:
            out.next_start_after = out.models[-1].id
            break
        out.models.append(Models.get(ctx, mid))
    return out


@queries.query(pb.ModelRequest, pb.Provenance)
def get_provenance(ctx: Context, request: pb.ModelRequest) -> pb.Provenance:
    """The model's full chain: base model → snapshots → contributions, each with its membership proof."""
    found = model(ctx, request.model)
    out = pb.Provenance(model=found, base_model=base_model(ctx, found.base_model), withdrawn=withdrawn_data(ctx, found))
    for ref in found.snapshots:
        snap = datanet.snapshot(ctx, ref.datanet, ref.version)
        out.snapshots.add(snapshot=snap, contributions=datanet.membership_proofs(ctx, snap))
    return out


@queries.query(pb.ModelRequest, pb.WithdrawnData)
def get_withdrawn(ctx: Context, request: pb.ModelRequest) -> pb.WithdrawnData:
    """Whether the model was trained on data withdrawn or taken down since: which contributions, how much of
    its training data they were, and since which block."""
    return withdrawn_data(ctx, model(ctx, request.model))


def withdrawn_data(ctx: Context, found: pb.Model) -> pb.WithdrawnData:
    """The model's training contributions (the members of the snapshots it cites) that were withdrawn or taken
    down after a snapshot froze them. Read from the contributions' current status, so it is never stale: the
    snapshot and the model records stay as they were (history stays provable); the flag is derived."""
    versions: dict[int, list[int]] = {}
    for ref in found.snapshots:
        for cid in datanet.snapshot(ctx, ref.datanet, ref.version).contribution_ids:
            versions.setdefault(cid, []).append(ref.version)
    out = pb.WithdrawnData(training_contributions=len(versions))
    for cid in sorted(versions):
        member = datanet.contribution(ctx, cid)
        out.training_size += member.size
        if member.status in datanet.RETIRED:
            out.contributions.add(contribution=cid, datanet=member.datanet, versions=versions[cid],
                                  status=member.status, takedown=member.takedown,
                                  withdrawn_at=member.withdrawn_at, size=member.size)
            out.withdrawn_size += member.size
    out.since = min((w.withdrawn_at for w in out.contributions), default=0)
    return out


@queries.query(pb.BaseModelsRequest, pb.BaseModelList)
def list_base_models(ctx: Context, request: pb.BaseModelsRequest) -> pb.BaseModelList:
    """Base models in id order, paged."""
    out, limit = pb.BaseModelList(), min(request.limit or 20, 100)
    for base_id, found in BaseModels.iter(ctx):
        if base_id <= request.start_after:
            continue
        if len(out.base_models) == limit:
            out.next_start_after = out.base_models[-1].id
            break
        out.base_models.append(found)
    return out

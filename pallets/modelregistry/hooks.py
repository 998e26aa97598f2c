"""Model registry hooks: the invariant check."""

from __future__ import annotations

from pallets.datanet import interface as datanet
from runtime.context import Context
from runtime.errors import ensure

from .calls import data_license
from .storage import BaseModels, ByArtifact, ByDataNet, ByOwner, Models


def try_state(ctx: Context) -> None:
    """Every model cites an existing base model, splits sum to 10,000, indexes point at real models, its
    record states what its snapshots' data allows and its license is one of those."""
    minimum = ctx.config.min_contributors_bps
    for mid, found in Models.iter(ctx):
        ensure(BaseModels.get(ctx, found.base_model) is not None, f"model {mid}: unknown base model")
        s = found.split
        ensure(s.contributors + s.model_owner + s.protocol + s.worker == 10_000, f"model {mid}: split")
        ensure(s.contributors >= minimum, f"model {mid}: contributors below the chain minimum")
        ensure(ByOwner.get(ctx, found.owner, mid) is not None, f"model {mid}: owner index missing")
        for ref in found.snapshots:
            ensure(ByDataNet.get(ctx, ref.datanet, mid) is not None, f"model {mid}: datanet index missing")
        allows = data_license([datanet.snapshot(ctx, ref.datanet, ref.version) for ref in found.snapshots])
        ensure(found.data_license == allows, f"model {mid}: its data license is not what its snapshots allow")
        ensure(allows.any or found.license in allows.allowed, f"model {mid}: license {found.license!r} is not "
                                                              f"one its data allows")
        first = ByArtifact.get(ctx, found.artifact_hash)
        ensure(first is not None and Models.get(ctx, first).owner == found.owner,
               f"model {mid}: artifact index missing or owned by another account")


def content_in_use(ctx: Context, content_hash: bytes) -> bool | None:
    """True when a model or base model records this blob (its weights, attribution index, training config or
    card): data withdrawn from a DataNet under the same hash must not take it from the model's users. A read
    or a block's release asks this, so a model's own artifact is one indexed lookup; the other references
    are a scan over the registered models (few, next to reads)."""
    if ByArtifact.get(ctx, content_hash) is not None:
        return True
    if any(found.artifact_hash == content_hash for _, found in BaseModels.iter(ctx)):
        return True
    return any(content_hash in (found.attribution_index_hash, found.training_config_hash, found.card_hash)
               for _, found in Models.iter(ctx)) or None

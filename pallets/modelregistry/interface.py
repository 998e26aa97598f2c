"""The model registry's public interface (for the inference and attribution pallets, and queries)."""

from __future__ import annotations

from payable.modelregistry.v1 import modelregistry_pb2 as pb
from runtime.context import Context, public_interface

from . import errors
from .storage import BaseModels, ByDataNet, Models

NAME = "modelregistry"


@public_interface(NAME)
def model(ctx: Context, model_id: int) -> pb.Model:
    return Models.require(ctx, model_id, errors.UnknownModel, f"no model {model_id}")


@public_interface(NAME)
def base_model(ctx: Context, base_id: int) -> pb.BaseModel:
    return BaseModels.require(ctx, base_id, errors.UnknownBaseModel, f"no base model {base_id}")


@public_interface(NAME)
def active_model(ctx: Context, model_id: int) -> pb.Model:
    """A model that may take new inference requests (exists and is not deprecated)."""
    found = model(ctx, model_id)
    if found.deprecated:
        raise errors.Deprecated(f"model {model_id} is deprecated")
    return found


@public_interface(NAME)
def models_citing(ctx: Context, datanet_id: int) -> list[int]:
    """Ids of the models trained on one of the DataNet's snapshots, in id order."""
    return [model_id for model_id, _ in ByDataNet.iter_prefix(ctx, datanet_id)]

"""Models: what the chain records of base models and fine-tuned models (format, prices, split, provenance)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from sdk.client import Client

from ..deps import NodeClient, Page

router = APIRouter()


def all_base_models(client: Client) -> list[mr.BaseModel]:
    return list(client.pallet_items("modelregistry", "list_base_models", mr.BaseModelsRequest(), mr.BaseModelList,
                                    "base_models"))


@router.get("/models", response_class=HTMLResponse)
def models(client: NodeClient, page: Page):
    found = list(client.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList, "models"))
    return page("models.html", models=found, bases=all_base_models(client), format_name=mr.ArtifactFormat.Name)

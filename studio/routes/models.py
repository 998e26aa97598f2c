"""Models: what the chain records of base models and fine-tuned models (format, prices, split, provenance),
and which were trained on data withdrawn since (the chain's `get_withdrawn`, per model)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.modelregistry.v1.withdrawn import withdrawn_json
from sdk.client import Client

from ..deps import NodeClient, Page

router = APIRouter()


def all_base_models(client: Client) -> list[mr.BaseModel]:
    return list(client.pallet_items("modelregistry", "list_base_models", mr.BaseModelsRequest(), mr.BaseModelList,
                                    "base_models"))


@router.get("/models", response_class=HTMLResponse)
def models(client: NodeClient, page: Page):
    found = list(client.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList, "models"))
    withdrawn = {m.id: withdrawn_json(client.pallet_query("modelregistry", "get_withdrawn",
                                                          mr.ModelRequest(model=m.id), mr.WithdrawnData))
                 for m in found}
    return page("models.html", models=found, withdrawn=withdrawn, bases=all_base_models(client),
                format_name=mr.ArtifactFormat.Name)

"""Models: what the chain records of base models and fine-tuned models (format, prices, split, provenance),
and which were trained on data withdrawn since (the chain's `get_withdrawn`, per model); per model, its card
and its EU AI Act training-content summary (`provenance.documents`, the same as the CLI's)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.modelregistry.v1.withdrawn import withdrawn_json, withdrawn_text
from provenance.documents import CardMismatch, stored_card, training_summary
from sdk.client import Client, ClientError
from sdk.model_documents import summary_markdown
from sdk.training_rows import withdrawn_rows

from ..deps import ChainNumber, NodeClient, Page

router = APIRouter()


def all_base_models(client: Client) -> list[mr.BaseModel]:
    return list(client.pallet_items("modelregistry", "list_base_models", mr.BaseModelsRequest(), mr.BaseModelList,
                                    "base_models"))


@router.get("/models", response_class=HTMLResponse)
def models(client: NodeClient, page: Page):
    found = list(client.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList, "models"))
    withdrawn = {}
    for m in found:
        flag = client.pallet_query("modelregistry", "get_withdrawn", mr.ModelRequest(model=m.id), mr.WithdrawnData)
        withdrawn[m.id] = withdrawn_json(flag, withdrawn_rows(client, m, flag))
    return page("models.html", models=found, withdrawn=withdrawn, bases=all_base_models(client),
                format_name=mr.ArtifactFormat.Name)


@router.get("/models/{model_id}", response_class=HTMLResponse)
def model_page(model_id: ChainNumber, client: NodeClient, page: Page):
    """One model: its record's headline, the withdrawn-data flag, its card (the one stored by hash, checked
    against its records) and its training-content summary, both shown as text (escaped, never rendered)."""
    try:
        model = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=model_id), mr.Model)
    except ClientError as exc:
        if not str(exc).startswith("NOT_FOUND"):
            raise  # the node down, or refusing: the app's ClientError page says which
        raise HTTPException(404, f"no model {model_id} on this chain ({exc})") from exc
    withdrawn = client.pallet_query("modelregistry", "get_withdrawn", mr.ModelRequest(model=model_id),
                                    mr.WithdrawnData)
    try:
        card, stored, mismatch = *stored_card(client, model), ""
    except CardMismatch as exc:  # shown on the page: a 500 would hide which model and why
        card, stored, mismatch = "", False, str(exc)
    summary, rows = training_summary(client, model_id), withdrawn_rows(client, model, withdrawn)
    return page("model.html", model=model, withdrawn=withdrawn_json(withdrawn, rows),
                withdrawn_text=withdrawn_text(withdrawn, rows), card=card, card_stored=stored, card_mismatch=mismatch,
                summary=summary,
                summary_text=summary_markdown(summary),
                format_name=mr.ArtifactFormat.Name)

"""Keys and the wallet API: the Keys page (dev accounts on a dev chain, or an imported key, held in the
browser only), the chain's identity for the page's script, and the two halves of signing in the browser -
`prepare` (the exact body bytes of an extrinsic and what they say) and `submit` (body + signature).

A body's text field that is missing or not a string reads as None (`Text`), so the route refuses it itself,
with the same 400 and message as always, not with FastAPI's 422."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator, JsonValue

from .. import wallet
from ..deps import NodeClient, Page
from ..prechecks import precheck
from .body import JsonBody

router = APIRouter()

Text = Annotated[str | None, BeforeValidator(lambda value: value if isinstance(value, str) else None)]


class PrepareRequest(JsonBody):
    """POST /api/prepare: who signs (an address), `pallet`.`call` and its fields (as the metadata names them)."""

    signer: Text = None
    pallet: Text = None
    call: Text = None
    fields: Annotated[dict[str, JsonValue] | None, BeforeValidator(lambda value: value or None)] = None


class SubmitRequest(JsonBody):
    """POST /api/submit: the prepared body and the browser's ed25519 signature over it, both hex."""

    body: Text = None
    signature: Text = None


@router.get("/keys", response_class=HTMLResponse)
def keys(client: NodeClient, page: Page):
    return page("keys.html", dev=wallet.dev_accounts(client))


@router.get("/api/chain")
def chain(client: NodeClient):
    info = client.chain_info()
    return {"name": info.chain_name, "id": info.chain_id, "best": info.best_number,
            "genesis": info.genesis_hash.hex(), "dev_accounts": wallet.dev_accounts(client)}


@router.post("/api/prepare")
def prepare_call(body: PrepareRequest, client: NodeClient):
    for key in ("signer", "pallet", "call"):
        if getattr(body, key) is None:
            raise HTTPException(400, f"{key} is required")
    precheck(client, wallet.signer_key(body.signer or ""), body.pallet or "", body.call or "", body.fields or {})
    prepared = wallet.prepare(client, body.signer or "", body.pallet or "", body.call or "", body.fields or {})
    return {"body": prepared.body.hex(), "summary": prepared.summary}


@router.post("/api/submit")
def submit(body: SubmitRequest, client: NodeClient):
    try:
        raw, signature = _hex(body.body), _hex(body.signature)
    except ValueError as exc:
        raise HTTPException(400, "body and signature must be hex") from exc
    return wallet.submit(client, raw, signature)


def _hex(text: str | None) -> bytes:
    if text is None:
        raise ValueError("missing")
    return bytes.fromhex(text)

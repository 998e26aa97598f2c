"""The playground and a request's page: pay for a generation signed by the browser's key, watch it stream,
then see whose data spoke and where every unit of the fee went.

The browser signs twice: the `request_inference` body (prepared here from the model's prices, shown in the
signing dialog) and the stream-read message over the request id, which this server only relays to the
assigned worker - it cannot read a stream it was not given a signature for. After settlement the outcome is
read back from the chain: the settlement's payments (each a `Paid` event in the settling block) and the
agreeing worker's signed attribution as it sits in its `submit_result` extrinsic: spans over the output's
tokens (span attribution, OLMoTrace-style), credited contributions with their shares and the Merkle proofs
into the snapshots the model cites, which the browser checks against the snapshot roots.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import JsonValue

from payable.attribution.v1 import attribution_pb2 as at
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import decode_u128, format_open
from runtime.crypto import encode_address
from sdk.client import Client, ClientError

from .. import generation, prompt_tokens, wallet
from ..deps import ChainNumber, ChainPosition, NodeClient, Page
from .body import JsonBody, finite_number, whole_number

CLASSIFIER_FORMATS = (mr.ONNX, mr.TORCH, mr.SAFETENSORS)


def model_card(model: mr.Model) -> dict:
    kind = "adapter" if model.format == mr.PEFT_LORA else "classifier"
    return {"id": model.id, "kind": kind, "format": mr.ArtifactFormat.Name(model.format), "base": model.base_model,
            "method": mr.AttributionMethod.Name(model.attribution_method),
            "owner": encode_address(model.owner), "snapshots": [f"{s.datanet}:v{s.version}" for s in model.snapshots],
            "flat": format_open(decode_u128(model.price_per_inference)),
            "input_token": format_open(decode_u128(model.price_per_input_token)),
            "output_token": format_open(decode_u128(model.price_per_output_token)),
            "split": {"contributors": model.split.contributors, "owner": model.split.model_owner,
                      "protocol": model.split.protocol, "worker": model.split.worker}}


def outcome(client: Client, request_id: int) -> dict:
    """A request as it stands: pending, expired (refunded) or settled with its settlement and attribution."""
    try:
        request = client.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
    except ClientError as exc:
        raise HTTPException(404, f"no request {request_id} on this chain") from exc
    out = {"request": request_id, "model": request.model, "requester": encode_address(request.requester),
           "status": inf.Status.Name(request.status).lower(), "created_at": request.created_at,
           "prompt": request.input.decode("utf-8", "replace"), "escrow": format_open(decode_u128(request.escrow))}
    if request.status == inf.SETTLED:
        settlement = client.pallet_query("attribution", "get_settlement", at.SettlementRequest(
            request=request_id), at.Settlement)
        out["settlement"] = generation.settlement_dict(settlement)
        out["attribution"] = generation.attribution_view(client, generation.settled_attribution(client, settlement))
    return out


router = APIRouter()


class PlaygroundPrepareRequest(JsonBody):
    """POST /api/playground/prepare, as the page's form sends it (numbers may come as text): a generation
    (`model`, `prompt`, `max_new_tokens`, `temperature`) or, with `features`, a classification; `signer` is
    the paying account. The fields stay loosely typed: the route converts and refuses them itself, with its
    own 400 and message."""

    model: JsonValue = 0
    prompt: JsonValue = None
    max_new_tokens: JsonValue = None
    temperature: JsonValue = None
    features: JsonValue = None
    signer: JsonValue = ""


def playable(client: Client) -> list[dict]:
    """Adapters (generation, streamed) and classifiers with gradient attribution (a class, no stream)."""
    found = client.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList, "models")
    return [model_card(m) for m in found if not m.deprecated and (
        m.format == mr.PEFT_LORA or (m.format in CLASSIFIER_FORMATS and m.attribution_method == mr.GRADIENT))]


@router.get("/playground", response_class=HTMLResponse)
def playground(client: NodeClient, page: Page):
    return page("playground.html", models=playable(client))


@router.post("/api/playground/prepare")
def prepare(body: PlaygroundPrepareRequest, client: NodeClient):
    """The `request_inference` body for the browser to sign, with the escrow it will reserve."""
    if body.features is not None:
        return prepare_classification(client, body)
    model_id, max_new = whole_number(body.model, "model"), whole_number(body.max_new_tokens or 32, "max_new_tokens")
    temperature = finite_number(body.temperature or 0, "temperature")
    prompt = str(body.prompt or "")
    if not prompt.strip():
        raise HTTPException(400, "write a prompt first")
    if not 1 <= max_new <= 256:
        raise HTTPException(400, "max new tokens must be 1..256")
    if not 0 <= temperature <= 2:
        raise HTTPException(400, "temperature must be 0..2 (0: greedy)")
    quote = generation.quote(client, model_id, prompt, max_new_tokens=max_new, temperature=temperature)
    try:  # what the worker would refuse (prompt and new tokens past the base's context) is refused before the dialog
        prompt_tokens.check(client, quote.model, prompt, max_new_tokens=max_new,
                            max_input_tokens=quote.args.max_input_tokens)
    except prompt_tokens.PromptTooLong as exc:
        raise HTTPException(400, str(exc)) from exc
    prepared = wallet.prepare(client, str(body.signer), "inference", "request_inference",
                              args=quote.args)
    return {"body": prepared.body.hex(), "summary": prepared.summary, "escrow": format_open(quote.escrow)}


def prepare_classification(client: Client, body: PlaygroundPrepareRequest) -> dict:
    text = str(body.features or "").replace(",", " ").split()
    try:
        features = [float(v) for v in text]
    except ValueError as exc:
        raise HTTPException(400, f"the input must be numbers separated by spaces or commas ({exc})") from exc
    model_id = whole_number(body.model, "model")
    if not features:
        raise HTTPException(400, "give the classifier its input: draw on the grid or paste numbers")
    if len(features) > 4096:
        raise HTTPException(400, f"{len(features)} numbers is more than a classifier's 4096-feature limit here")
    quote = generation.classifier_quote(client, model_id, features)
    prepared = wallet.prepare(client, str(body.signer), "inference", "request_inference",
                              args=quote.args)
    return {"body": prepared.body.hex(), "summary": prepared.summary, "escrow": format_open(quote.escrow)}


@router.get("/api/generations/by-extrinsic/{tx_hash}")
def request_of(tx_hash: str, client: NodeClient):
    """The request id a signed and included `request_inference` created."""
    try:
        found = client.extrinsic(bytes.fromhex(tx_hash))
    except (ValueError, ClientError) as exc:
        raise HTTPException(404, f"no extrinsic {tx_hash!r}") from exc
    return {"request": generation.requested_id(client, found.block_number, found.index)}


@router.get("/api/generations/{request_id}/stream")
def stream(request_id: ChainNumber, requester: str, issued_at: ChainPosition, signature: str, client: NodeClient):
    """Server-sent events relaying the worker's stream: `token` {text}, then `end` {counts, error}."""
    try:
        who, sig = bytes.fromhex(requester), bytes.fromhex(signature)
    except ValueError as exc:
        raise HTTPException(400, "requester and signature must be hex") from exc

    def events() -> Iterator[bytes]:
        try:
            for event in generation.open_stream(client, request_id, who, issued_at, sig, timeout=600):
                if event.HasField("token"):
                    yield f"event: token\ndata: {json.dumps({'text': event.token.text})}\n\n".encode()
                else:
                    end = {"input_tokens": event.end.input_tokens, "output_tokens": event.end.output_tokens,
                           "output_hash": event.end.output_hash.hex(), "error": event.end.error}
                    yield f"event: end\ndata: {json.dumps(end)}\n\n".encode()
        except grpc.RpcError as exc:
            problem = {"error": f"the worker refused the stream: {exc.details()}"}
            yield f"event: end\ndata: {json.dumps(problem)}\n\n".encode()

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/api/generations/{request_id}")
def generation_outcome(request_id: ChainNumber, client: NodeClient):
    return outcome(client, request_id)


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(request_id: ChainNumber, client: NodeClient, page: Page):
    return page("request.html", found=outcome(client, request_id))

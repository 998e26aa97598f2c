"""An OpenAI-compatible gateway: the clients people already have, paying on chain for every call.

`/v1/models` lists the chain's published adapters (id = the on-chain model id, `parent` = its base model);
`/v1/completions` and `/v1/chat/completions`, streamed or not, each become one paid `request_inference`
signed with the gateway's key: the call escrows the model's price at its token bounds, the tokens come from
the assigned worker's stream, and the response waits for the settlement so that `usage` carries the token
counts that were charged. The extension field `payable` carries the request id, the settlement (fee,
refund, every payment) and the attribution (method, credited contributions with their shares), as vLLM
and LoRAX add theirs. Errors use OpenAI's shape (`{"error": {message, type, param, code}}`) and status
codes the official client maps to its exception classes: an unknown model 404, a call above the spending
cap 400 `spending_cap_exceeded`, a key without the OPEN to escrow 429 `insufficient_quota`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import decode_u128, format_open
from runtime.crypto import Keypair, encode_address
from sdk.client import Client, ClientError

from . import generation

DEFAULT_MAX_TOKENS = 64
MAX_TOKENS = 1024


class GatewayError(Exception):
    """An OpenAI-style error: HTTP status, message, type, code, param."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"message": self.message, "type": self.kind, "param": self.param,
                                       "code": self.code}}, status_code=self.status)


def model_entry(model: mr.Model) -> dict:
    return {"id": str(model.id), "object": "model", "created": model.registered_at, "owned_by":
            encode_address(model.owner), "parent": f"base:{model.base_model}", "root": f"base:{model.base_model}",
            "pricing": {"flat": format_open(decode_u128(model.price_per_inference)),
                        "input_token": format_open(decode_u128(model.price_per_input_token)),
                        "output_token": format_open(decode_u128(model.price_per_output_token)), "unit": "OPEN"}}


class Gateway:
    """The gateway's state: a node client, the paying key, the per-call spending cap (in OPEN base units)."""

    def __init__(self, node: Client, key: Keypair, spend_cap: int | None = None):
        self.node, self.key, self.spend_cap = node, key, spend_cap

    def adapter(self, name) -> mr.Model:
        if not isinstance(name, str) or not name.strip().isdigit():
            raise GatewayError(404, f"The model {name!r} does not exist: models are on-chain model ids "
                                    "(GET /v1/models lists them)", code="model_not_found", param="model")
        try:
            model = self.node.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=int(name)), mr.Model)
        except ClientError as exc:
            raise GatewayError(404, f"The model {name!r} does not exist on this chain ({exc})",
                               code="model_not_found", param="model") from exc
        if model.format != mr.PEFT_LORA:
            raise GatewayError(400, f"Model {name} is a {mr.ArtifactFormat.Name(model.format)} model; the gateway "
                                    "serves text generation by adapters (PEFT_LORA)", code="model_not_supported",
                               param="model")
        if model.deprecated:
            raise GatewayError(404, f"Model {name} is deprecated by its owner", code="model_not_found", param="model")
        return model

    def models(self) -> list[dict]:
        found = self.node.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList, "models")
        return [model_entry(m) for m in found if m.format == mr.PEFT_LORA and not m.deprecated]

    def pay(self, model: mr.Model, prompt: str, body: dict, max_tokens: int) -> int:
        """Check the sampling, the cap and the balance, then pay; the request id."""
        temperature, top_p = body.get("temperature", 0.0), body.get("top_p", 1.0)
        for name, value, top in (("temperature", temperature, 2.0), ("top_p", top_p, 1.0)):
            if not isinstance(value, int | float) or not 0 <= value <= top:
                raise GatewayError(400, f"{name} must be a number in 0..{top}", param=name)
        if not prompt.strip():
            raise GatewayError(400, "the prompt is empty", param="prompt")
        quote = generation.quote(self.node, model.id, prompt, max_new_tokens=max_tokens, temperature=temperature,
                                 top_p=top_p)
        if self.spend_cap is not None and quote.escrow > self.spend_cap:
            raise GatewayError(400, f"This call escrows up to {format_open(quote.escrow)} OPEN (model {model.id} at "
                                    f"{max_tokens} max tokens), above the gateway's spending cap of "
                                    f"{format_open(self.spend_cap)} OPEN per call: lower max_tokens or raise the "
                                    "cap (--max-fee)", code="spending_cap_exceeded", param="max_tokens")
        free = decode_u128(self.node.account(self.key.public).free)
        if free < quote.escrow:
            raise GatewayError(429, f"The gateway's account {self.key.address} has {format_open(free)} OPEN free; "
                                    f"this call escrows up to {format_open(quote.escrow)} OPEN: fund the account",
                               kind="insufficient_quota", code="insufficient_quota")
        try:
            return generation.pay(self.node, self.key, quote)
        except ClientError as exc:
            raise GatewayError(400, f"The chain refused the request: {exc}", code="request_refused") from exc

    def tokens(self, request_id: int) -> Iterator[str]:
        """The generated text piece by piece; GatewayError when the worker could not answer."""
        for event in generation.stream_tokens(self.node, self.key, request_id):
            if event.HasField("token"):
                yield event.token.text
            elif event.end.error:
                raise GatewayError(502, f"The worker could not answer request {request_id}: {event.end.error} "
                                        "(the request expires and its escrow is refunded)", kind="server_error",
                                   code="worker_failed")

    def settle(self, request_id: int, max_tokens: int) -> tuple[dict, dict, str]:
        """usage, the `payable` extension and the finish reason, once the request settled."""
        _, settlement = generation.wait_closed(self.node, request_id)
        if settlement is None:
            raise GatewayError(502, f"Request {request_id} expired without a settled answer; its escrow was "
                                    "refunded", kind="server_error", code="request_expired")
        usage = {"prompt_tokens": settlement.input_tokens, "completion_tokens": settlement.output_tokens,
                 "total_tokens": settlement.input_tokens + settlement.output_tokens}
        extension = {"request": request_id, "settlement": generation.settlement_dict(settlement),
                     "attribution": generation.attribution_view(
                         self.node, generation.settled_attribution(self.node, settlement))}
        return usage, extension, "length" if settlement.output_tokens >= max_tokens else "stop"


def max_tokens_of(body: dict) -> int:
    """The call's new-token bound (`max_completion_tokens`, or the older `max_tokens`), checked."""
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    if not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_TOKENS:
        raise GatewayError(400, f"max_tokens must be an integer in 1..{MAX_TOKENS}", param="max_tokens")
    return max_tokens


def chat_prompt(messages) -> str:
    """The prompt an adapter sees for a chat: the last user turn, with earlier turns above it as lines
    (the adapter's own training template is applied by the worker)."""
    if not isinstance(messages, list) or not messages:
        raise GatewayError(400, "messages must be a non-empty list", param="messages")
    lines = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise GatewayError(400, "each message needs a role and a string content", param="messages")
        if message.get("role") not in ("system", "user", "assistant", "developer"):
            raise GatewayError(400, f"unknown role {message.get('role')!r}", param="messages")
        lines.append(message["content"] if len(messages) == 1 else f"{message['role']}: {message['content']}")
    if messages[-1]["role"] != "user":
        raise GatewayError(400, "the last message must be the user's", param="messages")
    return "\n".join(lines) if len(lines) > 1 else lines[0]


def gateway_router(gateway: Gateway) -> APIRouter:
    router = APIRouter()

    def sse(payload) -> bytes:
        return f"data: {json.dumps(payload)}\n\n".encode()

    def run(body: dict, chat: bool):
        if not isinstance(body, dict):
            raise GatewayError(400, "the body must be a JSON object")
        model = gateway.adapter(body.get("model"))
        prompt = chat_prompt(body.get("messages")) if chat else body.get("prompt")
        if not isinstance(prompt, str):
            raise GatewayError(400, "prompt must be one string", param="prompt")
        max_tokens = max_tokens_of(body)
        request_id = gateway.pay(model, prompt, body, max_tokens)
        head = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{request_id}", "created": int(time.time()),
                "model": str(model.id), "object": "chat.completion" if chat else "text_completion"}
        if not body.get("stream"):
            text = "".join(gateway.tokens(request_id))
            usage, extension, finish = gateway.settle(request_id, max_tokens)
            choice = {"index": 0, "finish_reason": finish, "logprobs": None}
            choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
            return JSONResponse({**head, "choices": [choice], "usage": usage, "payable": extension})
        return StreamingResponse(stream(head, request_id, max_tokens, chat, body), media_type="text/event-stream")

    def stream(head: dict, request_id: int, max_tokens: int, chat: bool, body: dict) -> Iterator[bytes]:
        head = {**head, "object": "chat.completion.chunk" if chat else "text_completion"}
        first = True

        def chunk(piece: str | None, finish: str | None = None) -> dict:
            nonlocal first
            if chat:  # the first delta names the role, as OpenAI's streams do
                delta = {} if piece is None else {"content": piece} | ({"role": "assistant"} if first else {})
                first = False
                choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            else:
                choice = {"index": 0, "text": piece or "", "finish_reason": finish, "logprobs": None}
            return head | {"choices": [choice]}

        try:
            for piece in gateway.tokens(request_id):
                yield sse(chunk(piece))
            usage, extension, finish = gateway.settle(request_id, max_tokens)
            yield sse(chunk(None, finish))
            last = head | {"choices": [], "payable": extension}
            if (body.get("stream_options") or {}).get("include_usage"):
                last["usage"] = usage
            yield sse(last)
        except GatewayError as exc:
            yield sse({"error": {"message": exc.message, "type": exc.kind, "code": exc.code, "param": exc.param}})
        yield b"data: [DONE]\n\n"

    async def body_of(request: Request) -> dict:
        try:
            return await request.json()
        except ValueError as exc:
            raise GatewayError(400, f"the body is not JSON: {exc}") from exc

    def guarded(handler):
        try:
            return handler()
        except GatewayError as exc:
            return exc.response()
        except ClientError as exc:
            return GatewayError(502, f"The node refused or failed: {exc}", kind="server_error",
                                code="node_error").response()

    @router.get("/v1/models")
    def list_models():
        return guarded(lambda: JSONResponse({"object": "list", "data": gateway.models()}))

    @router.get("/v1/models/{model}")
    def get_model(model: str):
        return guarded(lambda: JSONResponse(model_entry(gateway.adapter(model))))

    async def complete(request: Request, chat: bool):
        try:
            body = await body_of(request)
        except GatewayError as exc:
            return exc.response()
        return await _threaded(lambda: guarded(lambda: run(body, chat=chat)))

    @router.post("/v1/completions")
    async def completions(request: Request):
        return await complete(request, chat=False)

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        return await complete(request, chat=True)

    return router


async def _threaded(func):
    """Blocking chain calls run on the thread pool, not on the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func)


def create_gateway_app(node: str, key: Keypair, spend_cap: int | None = None):
    """The gateway on its own (`payable gateway`): the /v1 routes and nothing else."""
    import contextlib

    from fastapi import FastAPI

    client = Client(node, timeout=600)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        client.close()

    app = FastAPI(title="Payable OpenAI-compatible gateway", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.include_router(gateway_router(Gateway(client, key, spend_cap)))
    return app

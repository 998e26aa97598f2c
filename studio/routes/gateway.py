"""The OpenAI-compatible /v1 routes: list and show the published adapters, completions and chat completions,
plain or streamed (server-sent events). The request and response bodies are `studio.openai_protocol`'s;
the paying, streaming and settling is `studio.gateway.Gateway`'s. Every route first checks the caller
(`Access`: Host, Origin, API key, a JSON body), before a body is read. Every refusal answers in OpenAI's
error shape, also inside a stream that already started. A stream ends with a `choices: []` chunk carrying the
usage only when `stream_options.include_usage` asked for it (as OpenAI's); the `payable` extension rides on
the last chunk either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sdk.client import ClientError

from ..deps import GatewayState
from ..gateway import Gateway, Paid
from ..openai_protocol import (
    ChatChoice,
    ChatCompletionRequest,
    ChatMessage,
    ChatStreamChoice,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    CompletionStreamChoice,
    DeltaMessage,
    GatewayError,
    GenerationRequest,
    ModelList,
    ResponseHead,
    StreamChunk,
)


async def allowed_caller(request: Request, gateway: GatewayState) -> None:
    """Refuse, before anything is read or paid, a caller who may not spend the gateway's key."""
    gateway.access.check(request.method, request.headers)


router = APIRouter(dependencies=[Depends(allowed_caller)])


def sse(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def guarded(handler):
    """The handler's answer, or its refusal as an OpenAI-style error (a node failure is a 502)."""
    try:
        return handler()
    except GatewayError as exc:
        return exc.response()
    except ClientError as exc:
        return GatewayError(502, f"The node refused or failed: {exc}", kind="server_error",
                            code="node_error").response()


def parse(body, chat: bool) -> GenerationRequest:
    """The body as a request, checked in the protocol's order; a value of the wrong type that the checks let
    through (say, a list for `stream_options.include_usage`) is refused in OpenAI's shape too."""
    kind = ChatCompletionRequest if chat else CompletionRequest
    try:
        return kind.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or None
        raise GatewayError(400, f"{where}: {error['msg']}" if where else error["msg"], param=where) from exc


class Stopper:
    """The text up to the first `stop` sequence, given piece by piece: what may be shown now holds back a tail
    that could still begin a stop sequence."""

    def __init__(self, stops: list[str]):
        self.stops, self.pending, self.stopped = stops, "", False

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        self.pending += piece
        cut = min((i for stop in self.stops if (i := self.pending.find(stop)) >= 0), default=-1)
        if cut >= 0:
            out, self.pending, self.stopped = self.pending[:cut], "", True
            return out
        hold = max((k for stop in self.stops for k in range(1, len(stop)) if self.pending.endswith(stop[:k])),
                   default=0)
        out = self.pending[:len(self.pending) - hold]
        self.pending = self.pending[len(out):]
        return out

    def flush(self) -> str:
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out


def pieces(gateway: Gateway, paid: Paid, stopper: Stopper) -> Iterator[str]:
    """The generated text, piece by piece, up to the first stop sequence."""
    for piece in gateway.tokens(paid.request):
        if shown := stopper.feed(piece):
            yield shown
        if stopper.stopped:
            return
    if rest := stopper.flush():
        yield rest


def run(gateway: Gateway, body, chat: bool):
    if not isinstance(body, dict):
        raise GatewayError(400, "the body must be a JSON object")
    request = parse(body, chat)  # every parameter is checked before the model is looked up or anything paid
    model = gateway.adapter(request.model)
    prompt = request.prompt_text()
    paid = gateway.pay(model, request, prompt)
    head = ResponseHead(id=f"{'chatcmpl' if chat else 'cmpl'}-{paid.request}", created=int(time.time()),
                        model=str(model.id), object="chat.completion" if chat else "text_completion")
    stopper = Stopper(request.stop)
    if not request.stream:
        text = "".join(pieces(gateway, paid, stopper))
        usage, extension, finish = gateway.settle(paid, request.max_tokens)
        finish = "stop" if stopper.stopped else finish
        choice = (ChatChoice(finish_reason=finish, message=ChatMessage(role="assistant", content=text)) if chat
                  else CompletionChoice(finish_reason=finish, text=text))
        response = CompletionResponse(**head.model_dump(), choices=[choice], usage=usage, payable=extension)
        return JSONResponse(response.model_dump(mode="json"))
    return StreamingResponse(stream(gateway, head, paid, request, stopper, chat), media_type="text/event-stream")


def stream(gateway: Gateway, head: ResponseHead, paid: Paid, request: GenerationRequest, stopper: Stopper,
           chat: bool) -> Iterator[bytes]:
    head = head.model_copy(update={"object": "chat.completion.chunk" if chat else "text_completion"})
    first = True

    def chunk(piece: str | None, finish: str | None = None, extension: dict | None = None) -> dict:
        nonlocal first
        choice: ChatStreamChoice | CompletionStreamChoice
        if chat:  # the first delta names the role, as OpenAI's streams do
            delta = DeltaMessage() if piece is None else DeltaMessage(content=piece,
                                                                      role="assistant" if first else None)
            first = False
            choice = ChatStreamChoice(delta=delta, finish_reason=finish)
        else:
            choice = CompletionStreamChoice(text=piece or "", finish_reason=finish)
        return StreamChunk(**head.model_dump(), choices=[choice], payable=extension).model_dump(mode="json")

    try:
        for piece in pieces(gateway, paid, stopper):
            yield sse(chunk(piece))
        usage, extension, finish = gateway.settle(paid, request.max_tokens)
        finish = "stop" if stopper.stopped else finish
        if not request.include_usage:
            yield sse(chunk(None, finish, extension))
        else:  # OpenAI's last chunk: no choices, the usage
            yield sse(chunk(None, finish))
            yield sse(StreamChunk(**head.model_dump(), choices=[], payable=extension, usage=usage)
                      .model_dump(mode="json"))
    except GatewayError as exc:
        yield sse({"error": exc.info().model_dump()})
    except ClientError as exc:
        yield sse({"error": GatewayError(502, f"The node refused or failed: {exc}", kind="server_error",
                                         code="node_error").info().model_dump()})
    yield b"data: [DONE]\n\n"


@router.get("/v1/models")
def list_models(gateway: GatewayState):
    return guarded(lambda: JSONResponse(ModelList(data=gateway.models()).model_dump(mode="json")))


@router.get("/v1/models/{model}")
def get_model(model: str, gateway: GatewayState):
    return guarded(lambda: JSONResponse(gateway.card(gateway.adapter(model)).model_dump(mode="json")))


async def complete(request: Request, gateway: Gateway, chat: bool):
    """The body is read on the event loop; the blocking chain calls run on the thread pool."""
    try:
        body = await request.json()
    except ValueError as exc:
        return GatewayError(400, f"the body is not JSON: {exc}").response()
    return await run_in_threadpool(lambda: guarded(lambda: run(gateway, body, chat=chat)))


@router.post("/v1/completions")
async def completions(request: Request, gateway: GatewayState):
    return await complete(request, gateway, chat=False)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, gateway: GatewayState):
    return await complete(request, gateway, chat=True)

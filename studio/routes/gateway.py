"""The OpenAI-compatible /v1 routes: list and show the published adapters, completions and chat completions,
plain or streamed (server-sent events). The request and response bodies are `studio.openai_protocol`'s;
the paying, streaming and settling is `studio.gateway.Gateway`'s. Every route first checks the caller
(`Access`: Host, Origin, API key, a JSON body), before a body is read. Every refusal answers in OpenAI's
error shape, also inside a stream that already started. `n` choices are paid and read concurrently; each
streamed chunk names its choice's `index`, and carries the log-probabilities of the tokens whose text it shows
when they were asked for. A stream ends with a `choices: []` chunk carrying the usage only when
`stream_options.include_usage` asked for it (as OpenAI's); the `payable` extension rides on the last chunk
either way.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sdk.client import ClientError

from ..deps import GatewayState
from ..gateway import Call, Gateway, Paid
from ..guard import MAX_BODY, body_within
from ..openai_protocol import (
    ChatChoice,
    ChatCompletionRequest,
    ChatLogprobs,
    ChatMessage,
    ChatStreamChoice,
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    CompletionResponse,
    CompletionStreamChoice,
    DeltaMessage,
    GatewayError,
    GenerationRequest,
    ModelList,
    ResponseHead,
    StreamChunk,
    Token,
    unencodable_text,
)

T = TypeVar("T")


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


class Choice:
    """One choice as it is shown, token by token: its text up to the first stop sequence (`Stopper`), and the
    tokens whose text has begun to show, each with where it starts in the choice's text - their
    log-probabilities go out with that text; the tokens from a stop sequence on never do, nor the model's
    end-of-sequence token (it shows nothing: OpenAI's log-probabilities are the content's)."""

    def __init__(self, stops: list[str]):
        self.stopper = Stopper(stops)
        self.fed = self.shown = 0
        self.waiting: list[tuple[int, Token]] = []
        self.ended = False  # the model stopped on its end-of-sequence token

    @property
    def stopped(self) -> bool:
        return self.stopper.stopped

    def finish_reason(self, counted: str) -> str:
        """"stop" when a stop sequence cut the text or the model ended it, else `counted` (what the settled
        counts say: "length" at max_tokens) - a model that ends on its last allowed token stopped."""
        return "stop" if self.stopped or self.ended else counted

    def feed(self, token: Token) -> tuple[str, list[tuple[int, Token]]]:
        """The text that may be shown now and the tokens (with their offsets) it lets go."""
        if self.stopped:
            return "", []
        if token.stop:
            self.ended = True
            return "", []
        self.waiting.append((self.fed, token))
        self.fed += len(token.text)
        return self._shown(self.stopper.feed(token.text))

    def flush(self) -> tuple[str, list[tuple[int, Token]]]:
        """The generation ended: what was held back, and every token still waiting (unless a stop cut them)."""
        return self._shown(self.stopper.flush(), everything=not self.stopped)

    def _shown(self, text: str, everything: bool = False) -> tuple[str, list[tuple[int, Token]]]:
        self.shown += len(text)
        out = [w for w in self.waiting if everything or w[0] < self.shown]
        self.waiting = [] if self.stopped else self.waiting[len(out):]
        return text, out


def pieces(gateway: Gateway, paid: Paid, request: GenerationRequest,
           choice: Choice) -> Iterator[tuple[str, list[tuple[int, Token]]]]:
    """A choice's text piece by piece up to its first stop sequence, each piece with the tokens it shows."""
    for token in gateway.tokens(paid.request, request.logprobs, request.top_logprobs):
        text, tokens = choice.feed(token)
        if text or tokens:
            yield text, tokens
        if choice.stopped:
            return
    text, tokens = choice.flush()
    if text or tokens:
        yield text, tokens


_DONE = object()


def merged(sources: list[Iterator[T]]) -> Iterator[tuple[int, T]]:
    """The items of several iterators as they come, each with its iterator's index, read on threads of their own
    (one iterator is read here); the first exception any of them raises is raised here."""
    if len(sources) == 1:
        yield from ((0, item) for item in sources[0])
        return
    out: queue.Queue = queue.Queue()

    def read(index: int, source: Iterator[T]) -> None:
        try:
            for item in source:
                out.put((index, item, None))
            out.put((index, _DONE, None))
        except Exception as exc:  # noqa: BLE001 - whatever it is, the reader raises it (else it waits forever)
            out.put((index, _DONE, exc))

    for index, source in enumerate(sources):
        threading.Thread(target=read, args=(index, source), daemon=True, name=f"gateway-choice-{index}").start()
    left = len(sources)
    while left:
        index, item, error = out.get()
        if error is not None:
            raise error
        if item is _DONE:
            left -= 1
        else:
            yield index, item


def logprobs_of(request: GenerationRequest, tokens: list[tuple[int, Token]], chat: bool):
    """The tokens' log-probabilities in the shape of a chat or a completion, or None when not asked for."""
    if not request.logprobs:
        return None
    return ChatLogprobs.of(tokens) if chat else CompletionLogprobs.of(tokens)


def run(gateway: Gateway, body, chat: bool):
    if not isinstance(body, dict):
        raise GatewayError(400, "the body must be a JSON object")
    request = parse(body, chat)  # every parameter is checked before the model is looked up or anything paid
    model = gateway.adapter(request.model)
    prompt = request.prompt_text()
    call = gateway.pay(model, request, prompt)
    head = ResponseHead(id=f"{'chatcmpl' if chat else 'cmpl'}-{call.choices[0].request}", created=int(time.time()),
                        model=str(model.id), object="chat.completion" if chat else "text_completion")
    choices = [Choice(request.stop) for _ in call.choices]
    sources = [pieces(gateway, paid, request, choice) for paid, choice in zip(call.choices, choices, strict=True)]
    if request.stream:
        return StreamingResponse(stream(gateway, head, call, request, choices, sources, chat),
                                 media_type="text/event-stream")
    texts: list[list[str]] = [[] for _ in choices]
    tokens: list[list[tuple[int, Token]]] = [[] for _ in choices]
    for index, (text, shown) in merged(sources):
        texts[index].append(text)
        tokens[index] += shown
    usage, extension, finishes = gateway.settle(call, request.max_tokens)
    out: list[ChatChoice] | list[CompletionChoice] = []
    for index, choice in enumerate(choices):
        finish, text, logprobs = (choice.finish_reason(finishes[index]), "".join(texts[index]),
                                  logprobs_of(request, tokens[index], chat))
        out.append(ChatChoice(index=index, finish_reason=finish, logprobs=logprobs,
                              message=ChatMessage(role="assistant", content=text)) if chat
                   else CompletionChoice(index=index, finish_reason=finish, text=text, logprobs=logprobs))
    response = CompletionResponse(**head.model_dump(), choices=out, usage=usage, payable=extension)
    return JSONResponse(response.model_dump(mode="json"))


def stream(gateway: Gateway, head: ResponseHead, call: Call, request: GenerationRequest, choices: list[Choice],
           sources: list[Iterator[tuple[str, list[tuple[int, Token]]]]], chat: bool) -> Iterator[bytes]:
    """The choices' pieces as they come (each chunk names its choice's index), then each choice's finish
    reason, the `payable` extension on the last of them - or, with `stream_options.include_usage`, on OpenAI's
    last chunk: no choices, the usage."""
    head = head.model_copy(update={"object": "chat.completion.chunk" if chat else "text_completion"})

    def chunk(index: int, piece: str | None, tokens: list[tuple[int, Token]] | None = None,
              finish: str | None = None, extension: dict | None = None, opening: bool = False) -> dict:
        choice: ChatStreamChoice | CompletionStreamChoice
        logprobs = None if tokens is None else logprobs_of(request, tokens, chat)
        if chat:
            delta = DeltaMessage() if piece is None else DeltaMessage(content=piece,
                                                                      role="assistant" if opening else None)
            choice = ChatStreamChoice(index=index, delta=delta, finish_reason=finish, logprobs=logprobs)
        else:
            choice = CompletionStreamChoice(index=index, text=piece or "", finish_reason=finish, logprobs=logprobs)
        return StreamChunk(**head.model_dump(), choices=[choice], payable=extension).model_dump(mode="json")

    try:
        if chat:  # each choice opens with its role and no text yet, as OpenAI's streams do
            for index in range(len(choices)):
                yield sse(chunk(index, "", opening=True))
        for index, (piece, tokens) in merged(sources):
            yield sse(chunk(index, piece, tokens))
        usage, extension, finishes = gateway.settle(call, request.max_tokens)
        for index, choice in enumerate(choices):
            last = index == len(choices) - 1 and not request.include_usage
            yield sse(chunk(index, None, finish=choice.finish_reason(finishes[index]),
                            extension=extension if last else None))
        if request.include_usage:  # OpenAI's last chunk: no choices, the usage
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


async def _body(request: Request) -> bytes:
    """The request's body, refused with GatewayError 413 once it passes the studio's MAX_BODY (`body_within`)."""
    received = await body_within(request.receive, request.headers.get("content-length", ""))
    if received is None:
        raise GatewayError(413, f"the body is over {MAX_BODY >> 20} MiB: no completion request needs that much",
                           code="request_too_large")
    return b"".join(message.get("body", b"") for message in received if message["type"] == "http.request")


async def complete(request: Request, gateway: Gateway, chat: bool):
    """The body is read on the event loop; the blocking chain calls run on the thread pool."""
    try:
        body = json.loads(await _body(request))
    except GatewayError as exc:
        return exc.response()
    except ValueError as exc:
        return GatewayError(400, f"the body is not JSON: {exc}").response()
    except RecursionError:
        return GatewayError(400, "the body is nested too deeply to read").response()
    if (where := unencodable_text(body)) is not None:
        return GatewayError(400, f"{where} is not valid Unicode text (it holds a lone surrogate, which no UTF-8 "
                                 "text can carry)", param=where).response()
    return await run_in_threadpool(lambda: guarded(lambda: run(gateway, body, chat=chat)))


@router.post("/v1/completions")
async def completions(request: Request, gateway: GatewayState):
    return await complete(request, gateway, chat=False)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, gateway: GatewayState):
    return await complete(request, gateway, chat=True)

"""The OpenAI-compatible gateway's wire types: request and response bodies as pydantic models, as vLLM keeps
them in `entrypoints/openai/protocol.py`.

Requests accept what OpenAI's clients send. Fields that change nothing here are ignored (`user`, `store`,
`metadata`, ...); a parameter the gateway cannot honour end to end (`tools`, `response_format` other than
text, penalties, `logit_bias`, ...) is refused with a 400 that names it, before anything is paid,
never silently dropped. Each request is checked in a fixed order - the model, prompt or messages, the
parameters refused, the new-token bound, the sampling, the streaming options - and a refusal is a
`GatewayError`: OpenAI's error shape (`{"error": {message, type, param, code}}`) with the status code the
official client maps to its exception classes, never FastAPI's 422.

Honoured: `stop` (up to 4 strings; the text ends before the first one, finish reason "stop" - the tokens
the worker generated past it are still what the settlement charged), `n` (1..8 choices, each its own paid
request; with a `seed`, choice i samples from a seed derived from it, so the same call gives the same n texts),
`seed` (the worker's sampling stream is seeded from it, so the same seed gives the same text), `top_p` (0 means
the most likely token only, i.e. greedy), `logprobs` (chat: true, with `top_logprobs` 0..20 alternatives;
completions: 0..5 alternatives) - each token's log-probability under the distribution it was drawn from, as the
worker read it from the same logits - `max_tokens`/`max_completion_tokens` (1..1024), message `content` as a
string or a list of text parts.
Responses serialize to the same JSON the gateway has always answered with; the extension field `payable`
(request id, settlement, attribution) rides beside OpenAI's fields, as vLLM and LoRAX add theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_serializer, model_validator

from sdk.wire import MAX_TEMPERATURE_MILLI

DEFAULT_MAX_TOKENS = 64
MAX_TOKENS = 1024
MAX_STOP = 4
MAX_SEED = (1 << 63) - 1
MAX_CHOICES = 8  # `n`: each choice is a paid request of its own
MAX_TOP_LOGPROBS = {True: 20, False: 5}  # alternatives per token: chat's top_logprobs, completions' logprobs
ROLES = ("system", "user", "assistant", "developer")
# parameters refused unless absent or at their neutral value (the value says why), in the order checked
UNSUPPORTED: tuple[tuple[str, tuple, str], ...] = (
    ("tools", (None, []), "tool calling is not supported by the gateway's adapters"),
    ("tool_choice", (None,), "tool calling is not supported by the gateway's adapters"),
    ("parallel_tool_calls", (None,), "tool calling is not supported by the gateway's adapters"),
    ("functions", (None, []), "function calling is not supported by the gateway's adapters"),
    ("function_call", (None,), "function calling is not supported by the gateway's adapters"),
    ("response_format", (None, {"type": "text"}), "only plain text responses are supported"),
    ("logit_bias", (None, {}), "logit_bias is not applied by the paid workers"),
    ("presence_penalty", (None, 0, 0.0), "penalties are not applied by the paid workers"),
    ("frequency_penalty", (None, 0, 0.0), "penalties are not applied by the paid workers"),
    ("best_of", (None, 1), "best_of is not supported (each choice is one paid request)"),
    ("echo", (None, False), "echo is not supported"),
    ("suffix", (None, ""), "suffix (insertion) is not supported"),
    ("audio", (None,), "audio output is not supported"),
    ("modalities", (None, ["text"]), "only text output is supported"),
    ("prediction", (None,), "predicted outputs are not supported"),
    ("web_search_options", (None,), "web search is not supported"),
)


NOT_RETRIED = (401, 403, 415, 429)
PAID_AND_LOST = ("worker_failed", "worker_unreachable", "request_expired")


class GatewayError(Exception):
    """An OpenAI-style error: HTTP status, message, type, code, param."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param

    def info(self) -> ErrorInfo:
        return ErrorInfo(message=self.message, type=self.kind, param=self.param, code=self.code)

    def response(self) -> JSONResponse:
        """The error as OpenAI sends it; told not to retry (`x-should-retry: false`, which OpenAI's clients obey)
        when asking again unchanged would be refused again, or would pay again for an answer lost after it was
        paid (a worker that failed or could not be reached: the escrow comes back, a retry's fee would not)."""
        response = JSONResponse(ErrorResponse(error=self.info()).model_dump(), status_code=self.status)
        if self.status in NOT_RETRIED or self.code in PAID_AND_LOST:
            response.headers["x-should-retry"] = "false"
        return response


# --- errors ---------------------------------------------------------------------------------------
class ErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo


# --- requests -------------------------------------------------------------------------------------
class OpenAIBaseModel(BaseModel):
    """Unknown fields are accepted and ignored: OpenAI's clients send more than a gateway uses."""

    model_config = ConfigDict(extra="ignore")


class StreamOptions(OpenAIBaseModel):
    include_usage: StrictBool | None = None  # null: not asked


def _text_content(content: Any) -> Any:
    """A message's content as one string: a string, or a list of text parts (`{"type": "text", "text": ...}`)
    joined; anything else is left for the check to refuse."""
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" and
                                         isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    return content


class ChatMessage(OpenAIBaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: Annotated[str, BeforeValidator(_text_content)]


def unencodable_text(body: Any) -> str | None:
    """Where in a parsed JSON body a string (a value or a key) is not text UTF-8 can carry - JSON's "\\ud800"
    escapes a lone surrogate: valid JSON, no valid text - as a path like messages[0].content (itself escaped
    where it would not encode either); None when there is none."""
    pending: list[tuple[str, Any]] = [("body", body)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return where.encode("utf-8", "backslashreplace").decode("utf-8")
        elif isinstance(value, dict):
            for key, item in value.items():
                path = str(key) if where == "body" else f"{where}.{key}"
                pending += [(path, key), (path, item)]
        elif isinstance(value, list):
            pending += [(f"{where}[{i}]", item) for i, item in enumerate(value)]
    return None


def _check_object(data: Any) -> dict:
    if not isinstance(data, dict):
        raise GatewayError(400, "the body must be a JSON object")
    return data


def _check_model(data: dict) -> None:
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise GatewayError(400, f"model must be a string (an on-chain model id such as \"1\"), not "
                                f"{type(model).__name__} {str(model)[:40]}", param="model")
    if model is None or not model.strip():
        raise GatewayError(400, "model is required: an on-chain model id (GET /v1/models lists them)",
                           param="model", code="missing_model" if model is None else None)


def _check_supported(data: dict) -> None:
    """Refuse, naming it, the first parameter the gateway cannot honour end to end."""
    for name, neutral, why in UNSUPPORTED:
        value = data.get(name)
        if not any(value == n and type(value) is type(n) or value is n for n in neutral):
            raise GatewayError(400, f"{name} is not supported by this gateway ({why}); leave it out",
                               code="unsupported_parameter", param=name)


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_choices(data: dict, chat: bool) -> tuple[int, bool, int]:
    """`n`, and whether and how many log-probabilities each token carries, in OpenAI's two shapes: a chat's
    `logprobs` is a boolean with `top_logprobs` alternatives beside it, a completion's `logprobs` the number
    of alternatives itself."""
    n = data.get("n")
    if n is not None and not _is_int(n, 1, MAX_CHOICES):
        raise GatewayError(400, f"n must be an integer in 1..{MAX_CHOICES} (each choice is one paid on-chain "
                                "request)", param="n")
    logprobs, top = data.get("logprobs"), data.get("top_logprobs")
    most = MAX_TOP_LOGPROBS[chat]
    if not chat:
        if top is not None:
            raise GatewayError(400, f"top_logprobs is a chat parameter; a completion asks for alternatives with "
                                    f"logprobs (0..{most})", code="unsupported_parameter", param="top_logprobs")
        if logprobs is not None and not _is_int(logprobs, 0, most):
            raise GatewayError(400, f"logprobs must be an integer in 0..{most} (the alternatives per token)",
                               param="logprobs")
        return n or 1, logprobs is not None, logprobs or 0
    if logprobs is not None and not isinstance(logprobs, bool):
        raise GatewayError(400, "logprobs must be a boolean", param="logprobs")
    if top is not None and not _is_int(top, 0, most):
        raise GatewayError(400, f"top_logprobs must be an integer in 0..{most}", param="top_logprobs")
    if top is not None and not logprobs:
        raise GatewayError(400, "top_logprobs needs logprobs: true", param="top_logprobs")
    return n or 1, bool(logprobs), top or 0


def _check_bound(data: dict) -> int:
    """The call's new-token bound (`max_completion_tokens`, or the older `max_tokens`), checked."""
    name = "max_completion_tokens" if data.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = data.get(name)
    if max_tokens is None:
        return DEFAULT_MAX_TOKENS
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= MAX_TOKENS:
        raise GatewayError(400, f"{name} must be an integer in 1..{MAX_TOKENS}", param=name)
    return max_tokens


def _check_sampling(data: dict) -> None:
    for name, top in (("temperature", MAX_TEMPERATURE_MILLI / 1000), ("top_p", 1.0)):
        value = data.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool) or
                                  not 0 <= value <= top):
            raise GatewayError(400, f"{name} must be a number in 0..{top}", param=name)
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED):
        raise GatewayError(400, f"seed must be an integer in 0..{MAX_SEED}", param="seed")
    stop = data.get("stop")
    stops = [stop] if isinstance(stop, str) else stop
    if stops is not None and (not isinstance(stops, list) or len(stops) > MAX_STOP or
                              not all(isinstance(s, str) and s for s in stops)):
        raise GatewayError(400, f"stop must be a non-empty string or a list of at most {MAX_STOP} of them",
                           param="stop")


def _checked_generation(data: dict, chat: bool) -> dict:
    """The parameters refused, the choices, the new-token bound and the sampling checked; the bound as
    `max_tokens` (whichever field carried it); `logprobs` as a boolean and `top_logprobs` as the alternatives
    (for a completion too); unset sampling as the defaults; `stop` as a list; `stream` a boolean (or null);
    `stream_options` an object, and only with `stream`."""
    _check_supported(data)
    n, logprobs, top_logprobs = _check_choices(data, chat)
    max_tokens = _check_bound(data)
    _check_sampling(data)
    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise GatewayError(400, f"stream must be a boolean, not {type(stream).__name__}", param="stream")
    stream = bool(stream)
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise GatewayError(400, "stream_options must be an object", param="stream_options")
    if options is not None and not stream:
        raise GatewayError(400, "stream_options is only allowed when stream is true", param="stream_options")
    stop = data.get("stop")
    data = {k: v for k, v in data.items() if k != "max_completion_tokens" and v is not None}  # null: the default
    return {**data, "max_tokens": max_tokens, "stream": stream, "stream_options": options, "n": n,
            "logprobs": logprobs, "top_logprobs": top_logprobs,
            "stop": [stop] if isinstance(stop, str) else (stop or [])}


class GenerationRequest(OpenAIBaseModel):
    """What a completion and a chat share: the model (an on-chain model id), the new-token bound the call
    escrows for (`max_completion_tokens`, or the older `max_tokens`; 64 when neither is given), the choices,
    the log-probabilities asked for, the sampling and streaming."""

    model: str
    max_tokens: int = DEFAULT_MAX_TOKENS
    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = []
    stream: bool = False
    stream_options: StreamOptions | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and bool(self.stream_options.include_usage)

    def prompt_text(self) -> str:
        """The prompt the adapter is given."""
        raise NotImplementedError


class CompletionRequest(GenerationRequest):
    """POST /v1/completions: one prompt string (lists of prompts and token ids are refused)."""

    prompt: str

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, data: Any) -> Any:
        data = _check_object(data)
        _check_model(data)
        if not isinstance(data.get("prompt"), str):
            raise GatewayError(400, "prompt must be one string", param="prompt")
        return _checked_generation(data, chat=False)

    def prompt_text(self) -> str:
        return self.prompt


class ChatCompletionRequest(GenerationRequest):
    """POST /v1/chat/completions: a non-empty list of messages, the last one the user's."""

    messages: list[ChatMessage]

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, data: Any) -> Any:
        data = _check_object(data)
        _check_model(data)
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise GatewayError(400, "messages must be a non-empty list", param="messages")
        for message in messages:
            if not isinstance(message, dict) or not isinstance(_text_content(message.get("content")), str):
                raise GatewayError(400, "each message needs a role and a content: a string or a list of text "
                                        "parts ({\"type\": \"text\", \"text\": ...}); images and audio are not "
                                        "supported", param="messages")
            if message.get("role") not in ROLES:
                raise GatewayError(400, f"unknown role {message.get('role')!r}", param="messages")
        if messages[-1].get("role") != "user":
            raise GatewayError(400, "the last message must be the user's", param="messages")
        return _checked_generation(data, chat=True)

    def prompt_text(self) -> str:
        """The prompt an adapter sees for a chat: the last user turn, with earlier turns above it as lines
        (the adapter's own training template is applied by the worker)."""
        if len(self.messages) == 1:
            return self.messages[0].content
        return "\n".join(f"{m.role}: {m.content}" for m in self.messages)


# --- log-probabilities ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    """A generated token as the worker streamed it: the text it completes (empty while a UTF-8 character is
    incomplete), and when asked its own bytes, its log-probability and the alternatives (bytes, log-probability),
    most likely first."""

    text: str
    piece: bytes = b""
    logprob: float | None = None
    top: tuple[tuple[bytes, float], ...] = ()
    stop: bool = False  # the model's end-of-sequence token: the generation ended on it, and it shows nothing


def token_string(piece: bytes) -> str:
    """A token's bytes as OpenAI's `token` string (a part of a character shows as U+FFFD; `bytes` is exact)."""
    return piece.decode("utf-8", errors="replace")


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class ChatTokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChatLogprobs(BaseModel):
    """A chat choice's `logprobs`: one entry per token of its content."""

    content: list[ChatTokenLogprob] | None = None

    @classmethod
    def of(cls, tokens: list[tuple[int, Token]]) -> ChatLogprobs:
        return cls(content=[ChatTokenLogprob(token=token_string(t.piece), logprob=t.logprob or 0.0,
                                             bytes=list(t.piece),
                                             top_logprobs=[TopLogprob(token=token_string(p), logprob=lp,
                                                                      bytes=list(p)) for p, lp in t.top])
                            for _, t in tokens])


class CompletionLogprobs(BaseModel):
    """A completion choice's `logprobs` (the legacy shape): per token its string, log-probability, the most
    likely tokens with the chosen one among them (up to logprobs + 1, as OpenAI's), and where its text starts
    in the choice's text."""

    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]

    @classmethod
    def of(cls, tokens: list[tuple[int, Token]]) -> CompletionLogprobs:
        return cls(tokens=[token_string(t.piece) for _, t in tokens],
                   token_logprobs=[t.logprob or 0.0 for _, t in tokens],
                   top_logprobs=[{**{token_string(p): lp for p, lp in t.top}, token_string(t.piece): t.logprob or 0.0}
                                 for _, t in tokens],
                   text_offset=[offset for offset, _ in tokens])


# --- responses ------------------------------------------------------------------------------------
class UsageInfo(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ModelPricing(BaseModel):
    """A published model's prices in OPEN: flat per call, per input token, per output token."""

    flat: str
    input_token: str
    output_token: str
    unit: str = "OPEN"


class WithdrawnContribution(BaseModel):
    contribution: int
    datanet: int
    versions: list[int]  # the model's snapshots of that DataNet that hold it
    how: str             # "withdrawn by its contributor" or "taken down (REASON)"
    withdrawn_at: int    # block
    size: int            # bytes


class WithdrawnData(BaseModel):
    """The model was trained on data withdrawn or taken down since (`payable.modelregistry.v1.withdrawn`)."""

    contributions: list[WithdrawnContribution]
    count: int
    training_contributions: int
    withdrawn_rows: int | None = None  # counted from the model's attribution index; None when not readable
    training_rows: int | None = None
    withdrawn_size: int
    training_size: int
    since: int  # the earliest withdrawal's block


class ModelCard(BaseModel):
    """A published adapter: id = its on-chain model id, `parent` and `root` = its base model;
    `trained_on_withdrawn_data` (an extension, null when none): its training contributions withdrawn since."""

    id: str
    object: str = "model"
    created: int
    owned_by: str
    parent: str
    root: str
    pricing: ModelPricing
    trained_on_withdrawn_data: WithdrawnData | None = None


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]


class ResponseHead(BaseModel):
    """The fields every completion, chat completion and chunk starts with."""

    id: str
    created: int
    model: str
    object: str


class CompletionChoice(BaseModel):
    index: int = 0
    finish_reason: str | None = None
    logprobs: CompletionLogprobs | None = None
    text: str


class ChatChoice(BaseModel):
    index: int = 0
    finish_reason: str | None = None
    logprobs: ChatLogprobs | None = None
    message: ChatMessage


class CompletionResponse(ResponseHead):
    choices: list[CompletionChoice] | list[ChatChoice]
    usage: UsageInfo
    payable: dict[str, Any]


class DeltaMessage(BaseModel):
    """A streamed chat piece: its text, and the role on the first one only (absent fields are left out)."""

    content: str | None = None
    role: str | None = None

    @model_serializer
    def _present(self) -> dict[str, str]:
        return {k: v for k, v in (("content", self.content), ("role", self.role)) if v is not None}


class CompletionStreamChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: str | None = None
    logprobs: CompletionLogprobs | None = None


class ChatStreamChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    finish_reason: str | None = None
    logprobs: ChatLogprobs | None = None


class StreamChunk(ResponseHead):
    """One server-sent event of a stream; the last one has no choices but the `payable` extension (and the
    usage when `stream_options.include_usage` asked for it)."""

    choices: list[CompletionStreamChoice] | list[ChatStreamChoice]
    payable: dict[str, Any] | None = Field(default=None, exclude_if=lambda v: v is None)
    usage: UsageInfo | None = Field(default=None, exclude_if=lambda v: v is None)

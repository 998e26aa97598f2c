"""The OpenAI-compatible gateway's wire types: request and response bodies as pydantic models, as vLLM keeps
them in `entrypoints/openai/protocol.py`.

Requests accept what OpenAI's clients send and ignore the fields this gateway does not use (`n`, `stop`,
`user`, ...). Each request is checked in a fixed order - prompt or messages, the new-token bound, then the
sampling - and a refusal is a `GatewayError`: OpenAI's error shape (`{"error": {message, type, param,
code}}`) with the status code the official client maps to its exception classes, never FastAPI's 422.
Responses serialize to the same JSON the gateway has always answered with; the extension field `payable`
(request id, settlement, attribution) rides beside OpenAI's fields, as vLLM and LoRAX add theirs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_serializer, model_validator

DEFAULT_MAX_TOKENS = 64
MAX_TOKENS = 1024
ROLES = ("system", "user", "assistant", "developer")


class GatewayError(Exception):
    """An OpenAI-style error: HTTP status, message, type, code, param."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param

    def info(self) -> ErrorInfo:
        return ErrorInfo(message=self.message, type=self.kind, param=self.param, code=self.code)

    def response(self) -> JSONResponse:
        return JSONResponse(ErrorResponse(error=self.info()).model_dump(), status_code=self.status)


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
    include_usage: Annotated[bool, BeforeValidator(bool)] = False  # read as truthy


class ChatMessage(OpenAIBaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: str


def _check_object(data: Any) -> dict:
    if not isinstance(data, dict):
        raise GatewayError(400, "the body must be a JSON object")
    return data


def _check_bound(data: dict) -> int:
    """The call's new-token bound (`max_completion_tokens`, or the older `max_tokens`), checked."""
    max_tokens = data.get("max_completion_tokens") or data.get("max_tokens") or DEFAULT_MAX_TOKENS
    if not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_TOKENS:
        raise GatewayError(400, f"max_tokens must be an integer in 1..{MAX_TOKENS}", param="max_tokens")
    return max_tokens


def _check_sampling(data: dict) -> None:
    for name, default, top in (("temperature", 0.0, 2.0), ("top_p", 1.0, 1.0)):
        value = data.get(name, default)
        if not isinstance(value, int | float) or not 0 <= value <= top:
            raise GatewayError(400, f"{name} must be a number in 0..{top}", param=name)


def _checked_generation(data: dict) -> dict:
    """The new-token bound and the sampling checked; the bound as `max_tokens` (whichever field carried it);
    `stream` read as truthy; `stream_options`, when given, an object."""
    max_tokens = _check_bound(data)
    _check_sampling(data)
    options = data.get("stream_options")
    if options and not isinstance(options, dict):
        raise GatewayError(400, "stream_options must be an object", param="stream_options")
    data = {k: v for k, v in data.items() if k != "max_completion_tokens"}
    return {**data, "max_tokens": max_tokens, "stream": bool(data.get("stream")), "stream_options": options or None}


class GenerationRequest(OpenAIBaseModel):
    """What a completion and a chat share: the model (an on-chain model id), the new-token bound the call
    escrows for (`max_completion_tokens`, or the older `max_tokens`; 64 when neither is given), the sampling
    and streaming."""

    model: str
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    top_p: float = 1.0
    stream: bool = False
    stream_options: StreamOptions | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

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
        if not isinstance(data.get("prompt"), str):
            raise GatewayError(400, "prompt must be one string", param="prompt")
        return _checked_generation(data)

    def prompt_text(self) -> str:
        return self.prompt


class ChatCompletionRequest(GenerationRequest):
    """POST /v1/chat/completions: a non-empty list of messages, the last one the user's."""

    messages: list[ChatMessage]

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, data: Any) -> Any:
        data = _check_object(data)
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise GatewayError(400, "messages must be a non-empty list", param="messages")
        for message in messages:
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                raise GatewayError(400, "each message needs a role and a string content", param="messages")
            if message.get("role") not in ROLES:
                raise GatewayError(400, f"unknown role {message.get('role')!r}", param="messages")
        if messages[-1]["role"] != "user":
            raise GatewayError(400, "the last message must be the user's", param="messages")
        return _checked_generation(data)

    def prompt_text(self) -> str:
        """The prompt an adapter sees for a chat: the last user turn, with earlier turns above it as lines
        (the adapter's own training template is applied by the worker)."""
        if len(self.messages) == 1:
            return self.messages[0].content
        return "\n".join(f"{m.role}: {m.content}" for m in self.messages)


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


class ModelCard(BaseModel):
    """A published adapter: id = its on-chain model id, `parent` and `root` = its base model."""

    id: str
    object: str = "model"
    created: int
    owned_by: str
    parent: str
    root: str
    pricing: ModelPricing


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
    logprobs: None = None
    text: str


class ChatChoice(BaseModel):
    index: int = 0
    finish_reason: str | None = None
    logprobs: None = None
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
    logprobs: None = None


class ChatStreamChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    finish_reason: str | None = None
    logprobs: None = None


class StreamChunk(ResponseHead):
    """One server-sent event of a stream; the last one has no choices but the `payable` extension (and the
    usage when `stream_options.include_usage` asked for it)."""

    choices: list[CompletionStreamChoice] | list[ChatStreamChoice]
    payable: dict[str, Any] | None = Field(default=None, exclude_if=lambda v: v is None)
    usage: UsageInfo | None = Field(default=None, exclude_if=lambda v: v is None)

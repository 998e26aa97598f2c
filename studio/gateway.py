"""An OpenAI-compatible gateway: the clients people already have, paying on chain for every call.

`/v1/models` lists the chain's published adapters (id = the on-chain model id, `parent` = its base model);
`/v1/completions` and `/v1/chat/completions`, streamed or not, each become one paid `request_inference`
signed with the gateway's key: the call escrows the model's price at its token bounds, the tokens come from
the assigned worker's stream, and the response waits for the settlement so that `usage` carries the token
counts that were charged. The extension field `payable` carries the request id, the settlement (fee,
refund, every payment) and the attribution (method, credited contributions with their shares), as vLLM
and LoRAX add theirs. Errors use OpenAI's shape (`{"error": {message, type, param, code}}`) and status
codes the official client maps to its exception classes: an unknown model 404, a call above the spending
cap 400 `spending_cap_exceeded`, a key without the OPEN to escrow 429 `insufficient_quota`, a call past the
spending budget 429 `budget_exceeded`, an unreachable worker 502 `worker_unreachable`.

Who may spend the key (`Access`): a caller with the API key (`Authorization: Bearer KEY`, compared in
constant time), from an allowed Host (DNS rebinding) and, when a browser says where it comes from, an
allowed Origin; a POST must say its body is JSON (a `text/plain` "simple" cross-origin POST is never read).
What it may spend (`Budget`): per call the cap, and altogether a budget per hour and one for the gateway's
lifetime, each reserved at the call's escrow before paying and settled at what was really paid (the fee
charged and the transaction fee). Concurrent calls pay with consecutive nonces (`Client.submit_signed`:
one nonce allocator per key in the process).

This module is the gateway's work (`Gateway`); its routes are `studio.routes.gateway` and its request and
response bodies `studio.openai_protocol`. `studio.app.create_gateway_app` serves it alone (`payable gateway`).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import grpc

from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import decode_u128, format_open
from runtime.crypto import Keypair, encode_address
from sdk.client import Client, ClientError

from . import generation, prompt_tokens
from .openai_protocol import ChatCompletionRequest, GatewayError, GenerationRequest, ModelCard, ModelPricing, UsageInfo

API_KEY_ENV = "PAYABLE_GATEWAY_API_KEY"
JSON_TYPES = ("application/json",)
HOUR = 3600.0


@dataclass(frozen=True)
class Access:
    """Who may spend the gateway's key. `api_key` None: anyone who reaches the port (the operator opted out);
    `hosts` None: any Host header (where the app is mounted behind something else that checks it); `origins`:
    the browser origins allowed (a request without Origin, as every non-browser client sends, is fine)."""

    api_key: str | None
    hosts: frozenset[str] | None = None
    origins: frozenset[str] = frozenset()

    @staticmethod
    def local(port: int, api_key: str | None, hosts: Iterable[str] = (), origins: Iterable[str] = ()) -> Access:
        """Loopback on `port` (127.0.0.1:PORT, localhost:PORT, [::1]:PORT) plus the `hosts` named."""
        defaults = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
        return Access(api_key, frozenset(defaults | {h.lower() for h in hosts}),
                      frozenset(o.rstrip("/").lower() for o in origins))

    def check(self, method: str, headers: Mapping[str, str]) -> None:
        """Refuse (GatewayError) a caller who may not spend the key: wrong Host, a foreign Origin, no or a wrong
        API key, a POST body that does not say it is JSON."""
        host = headers.get("host", "").lower()
        if self.hosts is not None and host not in self.hosts:
            raise GatewayError(400, f"Host {host[:100]!r} is not allowed: this gateway answers at "
                                    f"{', '.join(sorted(self.hosts))} (add names with --allowed-host)",
                               code="host_not_allowed")
        origin = headers.get("origin")
        if origin is not None and origin.rstrip("/").lower() not in self.origins:
            raise GatewayError(403, f"Origin {origin[:100]!r} is not allowed to call this gateway (allow a web app's "
                                    "origin with --allowed-origin)", kind="permission_error",
                               code="origin_not_allowed")
        if self.api_key is not None:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.api_key.encode()):
                raise GatewayError(401, "Incorrect or missing API key: send the gateway's key as "
                                        "`Authorization: Bearer KEY` (the OpenAI clients' api_key)",
                                   code="invalid_api_key")
        if method == "POST":
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind not in JSON_TYPES:
                raise GatewayError(415, f"The body must be JSON (Content-Type: application/json), not "
                                        f"{kind[:100] or 'unspecified'!r}", code="unsupported_media_type")


@dataclass
class Hold:
    """One call's share of the budget: reserved at its escrow, then what it really cost."""

    at: float
    amount: int


@dataclass
class Budget:
    """What the gateway may spend altogether, in OPEN base units: per rolling hour and over its lifetime (since
    it started; None: no limit). A call reserves its escrow before paying (refused when a limit would be
    passed: nothing is paid) and is settled at what it really cost."""

    per_hour: int | None = None
    total: int | None = None
    clock: Callable[[], float] = time.monotonic
    spent: int = 0
    _holds: list[Hold] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, amount: int) -> Hold:
        with self._lock:
            now = self.clock()
            self._holds = [h for h in self._holds if now - h.at < HOUR]
            hour = sum(h.amount for h in self._holds)
            for limit, used, what in ((self.per_hour, hour, "per hour"), (self.total, self.spent, "in total")):
                if limit is not None and used + amount > limit:
                    raise GatewayError(429, f"This call escrows up to {format_open(amount)} OPEN; the gateway has "
                                            f"spent or reserved {format_open(used)} of its budget of "
                                            f"{format_open(limit)} OPEN {what}: wait, or raise the budget "
                                            f"(--budget-per-hour, --budget-total)", kind="insufficient_quota",
                                       code="budget_exceeded")
            hold = Hold(now, amount)
            self._holds.append(hold)
            self.spent += amount
            return hold

    def settle(self, hold: Hold, amount: int) -> None:
        """The call really cost `amount` (0: nothing was paid)."""
        with self._lock:
            self.spent += amount - hold.amount
            hold.amount = amount


@dataclass
class Paid:
    """A call once paid: its request id, the transaction fee and its hold on the budget."""

    request: int
    transaction_fee: int
    hold: Hold


def created_seconds(node: Client, block: int, cache: dict[int, int]) -> int:
    """A block's timestamp in Unix seconds (what OpenAI's `created` is), cached per block."""
    if block not in cache:
        cache[block] = node.header(block).header.timestamp_ms // 1000
    return cache[block]


def model_card(model: mr.Model, created: int | None = None) -> ModelCard:
    return ModelCard(id=str(model.id), created=model.registered_at if created is None else created,
                     owned_by=encode_address(model.owner),
                     parent=f"base:{model.base_model}", root=f"base:{model.base_model}",
                     pricing=ModelPricing(flat=format_open(decode_u128(model.price_per_inference)),
                                          input_token=format_open(decode_u128(model.price_per_input_token)),
                                          output_token=format_open(decode_u128(model.price_per_output_token))))


class Gateway:
    """The gateway's state and its work: a node client, the paying key, the per-call spending cap (in OPEN
    base units); which adapters it serves, paying for a call, its tokens and its settlement. The routes
    (`routes.gateway`) only parse, order and shape."""

    def __init__(self, node: Client, key: Keypair, spend_cap: int | None = None, access: Access | None = None,
                 budget: Budget | None = None):
        self.node, self.key, self.spend_cap = node, key, spend_cap
        self.access = access if access is not None else Access(api_key=None)
        self.budget = budget if budget is not None else Budget()
        self._created: dict[int, int] = {}

    def card(self, model: mr.Model) -> ModelCard:
        """The model as OpenAI lists it, `created` in Unix seconds (its registration block's timestamp)."""
        return model_card(model, created_seconds(self.node, model.registered_at, self._created))

    def adapter(self, name) -> mr.Model:
        if not isinstance(name, str) or not name.strip().isdigit():
            raise GatewayError(404, f"The model {name!r} does not exist: models are on-chain model ids "
                                    "(GET /v1/models lists them)", code="model_not_found", param="model")
        try:
            model = self.node.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=int(name)), mr.Model)
        except ClientError as exc:
            if not str(exc).startswith(("NOT_FOUND", "INVALID_ARGUMENT")):
                raise  # the node failed (a 502), which says nothing about the model
            raise GatewayError(404, f"The model {name!r} does not exist on this chain ({exc})",
                               code="model_not_found", param="model") from exc
        if model.format != mr.PEFT_LORA:
            raise GatewayError(400, f"Model {name} is a {mr.ArtifactFormat.Name(model.format)} model; the gateway "
                                    "serves text generation by adapters (PEFT_LORA)", code="model_not_supported",
                               param="model")
        if model.deprecated:
            raise GatewayError(404, f"Model {name} is deprecated by its owner", code="model_not_found", param="model")
        return model

    def models(self) -> list[ModelCard]:
        found = self.node.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList, "models")
        return [self.card(m) for m in found if m.format == mr.PEFT_LORA and not m.deprecated]

    def pay(self, model: mr.Model, request: GenerationRequest, prompt: str) -> Paid:
        """Check the prompt (not empty; its tokens, counted as the worker will, fit the base's context with
        max_tokens: `prompt_tokens`), the cap, the balance and the budget (the request's parameters are
        checked already), then pay."""
        max_tokens = request.max_tokens
        if not prompt.strip():
            raise GatewayError(400, "the prompt is empty", param="prompt")
        greedy = request.top_p == 0  # OpenAI's top_p 0: only the most likely token
        quote = generation.quote(self.node, model.id, prompt, max_new_tokens=max_tokens,
                                 temperature=0.0 if greedy else request.temperature,
                                 top_p=1.0 if greedy else request.top_p, seed=request.seed)
        try:
            prompt_tokens.check(self.node, quote.model, prompt, max_new_tokens=max_tokens,
                                max_input_tokens=quote.args.max_input_tokens)
        except prompt_tokens.PromptTooLong as exc:
            raise GatewayError(400, str(exc), code="context_length_exceeded", param="messages" if
                               isinstance(request, ChatCompletionRequest) else "prompt") from exc
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
        hold = self.budget.reserve(quote.escrow)
        try:
            request_id, fee = generation.pay_with_fee(self.node, self.key, quote)
        except ClientError as exc:
            self.budget.settle(hold, 0)  # refused: nothing paid (on any other failure the hold stays)
            raise GatewayError(400, f"The chain refused the request: {exc}", code="request_refused") from exc
        return Paid(request_id, fee, hold)

    def tokens(self, request_id: int) -> Iterator[str]:
        """The generated text piece by piece; GatewayError when the worker could not answer or be reached."""
        try:
            for event in generation.stream_tokens(self.node, self.key, request_id):
                if event.HasField("token"):
                    yield event.token.text
                elif event.end.error:
                    raise GatewayError(502, f"The worker could not answer request {request_id}: {event.end.error} "
                                            "(the request expires and its escrow is refunded)", kind="server_error",
                                       code="worker_failed")
        except grpc.RpcError as exc:
            raise GatewayError(502, f"The worker assigned to request {request_id} could not be reached "
                                    f"({exc.code().name}); the request expires unanswered and its escrow is "
                                    "refunded", kind="server_error", code="worker_unreachable") from exc

    def settle(self, paid: Paid, max_tokens: int) -> tuple[UsageInfo, dict, str]:
        """usage, the `payable` extension (the settlement, and beside it the transaction fee of the call that
        paid) and the finish reason, once the request settled."""
        _, settlement = generation.wait_closed(self.node, paid.request)
        if settlement is None:
            self.budget.settle(paid.hold, paid.transaction_fee)
            raise GatewayError(502, f"Request {paid.request} expired without a settled answer; its escrow was "
                                    "refunded", kind="server_error", code="request_expired")
        self.budget.settle(paid.hold, decode_u128(settlement.fee) + paid.transaction_fee)
        if settlement.refused:  # the workers' verified refusal: refunded but for what it cost, nobody slashed
            why = generation.refusal_text(settlement)
            raise GatewayError(400, f"Request {paid.request} was refused by its workers ({why}); charged "
                                    f"{format_open(decode_u128(settlement.fee))} OPEN, refunded "
                                    f"{format_open(decode_u128(settlement.refund))} OPEN",
                               code="context_length_exceeded" if settlement.refused == inf.CONTEXT_EXCEEDED
                               else "request_refused")
        usage = UsageInfo(prompt_tokens=settlement.input_tokens, completion_tokens=settlement.output_tokens,
                          total_tokens=settlement.input_tokens + settlement.output_tokens)
        extension = {"request": paid.request, "settlement": generation.settlement_dict(settlement),
                     "transaction_fee": format_open(paid.transaction_fee),
                     "attribution": generation.attribution_view(
                         self.node, generation.settled_attribution(self.node, settlement))}
        return usage, extension, "length" if settlement.output_tokens >= max_tokens else "stop"



"""An OpenAI-compatible gateway: the clients people already have, paying on chain for every call.

`/v1/models` lists the chain's published adapters (id = the on-chain model id, `parent` = its base model,
`trained_on_withdrawn_data` = its training contributions withdrawn or taken down since, null when none);
`/v1/completions` and `/v1/chat/completions`, streamed or not, each become one paid `request_inference`
per choice (`n`) signed with the gateway's key: each escrows the model's price at its token bounds, the tokens
(with their log-probabilities when asked) come from the assigned worker's stream, and the response waits for
the settlements so that `usage` carries the token counts that were charged, summed over the choices. The
extension field `payable` carries the request id, the settlement (fee, refund, every payment) and the
attribution (method, credited contributions with their shares) - per choice under `choices` when there are
several - as vLLM and LoRAX add theirs. Errors use OpenAI's shape (`{"error": {message, type, param, code}}`) and status
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import grpc

from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.modelregistry.v1.withdrawn import withdrawn_json
from runtime.codec import decode_u128, format_open
from runtime.crypto import Keypair, blake2_256, encode_address
from sdk.client import Client, ClientError
from sdk.training_rows import withdrawn_rows

from . import generation, prompt_tokens
from .openai_protocol import (
    MAX_SEED,
    ChatCompletionRequest,
    GatewayError,
    GenerationRequest,
    ModelCard,
    ModelPricing,
    Token,
    UsageInfo,
    WithdrawnData,
)

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
        """Refuse (GatewayError) a caller who may not spend the key: wrong Host, a foreign Origin (or a browser's
        cross-site request naming none), no or a wrong API key, a POST body that does not say it is JSON."""
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
        if origin is None and headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise GatewayError(403, "a cross-site browser request (Sec-Fetch-Site: cross-site) without an allowed "
                                    "Origin may not call this gateway", kind="permission_error",
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
    """One choice once paid: its request id and the transaction fee of the call that paid it."""

    request: int
    transaction_fee: int


@dataclass
class Call:
    """A call once paid: its choices, in order, and its hold on the budget."""

    choices: list[Paid]
    hold: Hold


def cap_advice(model: mr.Model, n: int) -> tuple[str, str | None]:
    """What to do about a call above the spending cap, and the parameter to change: only what lowers the
    escrow - the token bound where the model prices output tokens, fewer choices - else the cap itself."""
    lower = [name for name, helps in (("max_tokens", decode_u128(model.price_per_output_token) > 0),
                                      ("n", n > 1)) if helps]
    if lower:
        return f"lower {' or '.join(lower)} or raise the cap (--max-fee)", lower[0]
    return "this model's flat price alone is above it: raise the cap (--max-fee)", None


def choice_seed(seed: int | None, index: int) -> int | None:
    """The seed choice `index` samples from: the call's own for the first (so n=1 is what it always was), one
    derived from it for the others (the same call, the same n texts); none without a seed (each request's
    sampling is then seeded from its own on-chain record)."""
    if seed is None or index == 0:
        return seed
    digest = blake2_256(b"payable/gateway-choice" + seed.to_bytes(8, "big") + index.to_bytes(4, "big"))
    return int.from_bytes(digest[:8], "big") & MAX_SEED


def created_seconds(node: Client, block: int, cache: dict[int, int]) -> int:
    """A block's timestamp in Unix seconds (what OpenAI's `created` is), cached per block."""
    if block not in cache:
        cache[block] = node.header(block).header.timestamp_ms // 1000
    return cache[block]


def model_card(model: mr.Model, created: int | None = None, withdrawn: mr.WithdrawnData | None = None,
               rows: dict | None = None) -> ModelCard:
    """The model as OpenAI lists it; with `withdrawn` (the chain's get_withdrawn), flagged when trained on data
    withdrawn since (with `rows`, `sdk.training_rows.withdrawn_rows`, how many of its training rows)."""
    flag = withdrawn_json(withdrawn, rows) if withdrawn is not None else None
    return ModelCard(id=str(model.id), created=model.registered_at if created is None else created,
                     owned_by=encode_address(model.owner),
                     trained_on_withdrawn_data=WithdrawnData.model_validate(flag) if flag else None,
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
        """The model as OpenAI lists it, `created` in Unix seconds (its registration block's timestamp), flagged
        when trained on data withdrawn since."""
        withdrawn = self.node.pallet_query("modelregistry", "get_withdrawn", mr.ModelRequest(model=model.id),
                                           mr.WithdrawnData)
        return model_card(model, created_seconds(self.node, model.registered_at, self._created), withdrawn,
                          withdrawn_rows(self.node, model, withdrawn))

    def adapter(self, name) -> mr.Model:
        digits = name.strip() if isinstance(name, str) else ""
        if not (digits.isascii() and digits.isdigit()) or int(digits) >= 1 << 64:  # model ids are u64
            raise GatewayError(404, f"The model {str(name)[:100]!r} does not exist: models are on-chain model ids "
                                    "(GET /v1/models lists them)", code="model_not_found", param="model")
        try:
            model = self.node.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=int(digits)), mr.Model)
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

    def pay(self, model: mr.Model, request: GenerationRequest, prompt: str) -> Call:
        """Check the prompt (not empty; its tokens, counted as the worker will, fit the base's context with
        max_tokens: `prompt_tokens`), the cap, the balance and the budget - each for all `n` choices together
        (the request's parameters are checked already) - then pay one request per choice, concurrently."""
        max_tokens = request.max_tokens
        where = "messages" if isinstance(request, ChatCompletionRequest) else "prompt"
        if not prompt.strip():
            raise GatewayError(400, "the prompt is empty", param=where)
        quote = generation.quote(self.node, model.id, prompt, max_new_tokens=max_tokens,  # top_p 0: greedy
                                 temperature=request.temperature, top_p=request.top_p, seed=request.seed)
        try:
            prompt_tokens.check(self.node, quote.model, prompt, max_new_tokens=max_tokens,
                                max_input_tokens=quote.args.max_input_tokens)
        except prompt_tokens.PromptTooLong as exc:
            raise GatewayError(400, str(exc), code="context_length_exceeded", param=where) from exc
        n, escrow = request.n, quote.escrow * request.n
        what = f"model {model.id} at {max_tokens} max tokens" + (f", {n} choices" if n > 1 else "")
        if self.spend_cap is not None and escrow > self.spend_cap:
            advice, param = cap_advice(model, n)
            raise GatewayError(400, f"This call escrows up to {format_open(escrow)} OPEN ({what}), above the "
                                    f"gateway's spending cap of {format_open(self.spend_cap)} OPEN per call: "
                                    f"{advice}", code="spending_cap_exceeded", param=param)
        free = decode_u128(self.node.account(self.key.public).free)
        if free < escrow:
            raise GatewayError(429, f"The gateway's account {self.key.address} has {format_open(free)} OPEN free; "
                                    f"this call escrows up to {format_open(escrow)} OPEN ({what}): fund the account",
                               kind="insufficient_quota", code="insufficient_quota")
        hold = self.budget.reserve(escrow)
        quotes = [quote if i == 0 else replace(quote, args=self._reseeded(quote.args, choice_seed(request.seed, i)))
                  for i in range(n)]
        with ThreadPoolExecutor(n) as pool:  # consecutive nonces (`Client.submit_signed`), one block if they fit
            outcomes = list(pool.map(self._pay_one, quotes))
        paid = [Paid(*o) for o in outcomes if not isinstance(o, ClientError)]
        refused = [o for o in outcomes if isinstance(o, ClientError)]
        if refused:  # nothing paid for the refused (on any other failure the hold stays)
            self.budget.settle(hold, quote.escrow * len(paid))
            also = f" (requests {', '.join(str(p.request) for p in paid)} were paid and are answered)" if paid else ""
            raise GatewayError(400, f"The chain refused the request: {refused[0]}{also}", code="request_refused")
        return Call(paid, hold)

    def _pay_one(self, quote: generation.Quote) -> tuple[int, int] | ClientError:
        try:
            return generation.pay_with_fee(self.node, self.key, quote)
        except ClientError as exc:
            return exc

    @staticmethod
    def _reseeded(args: inf.RequestInference, seed: int | None) -> inf.RequestInference:
        out = inf.RequestInference()
        out.CopyFrom(args)
        if seed is not None:
            out.sampling.seed = seed
        return out

    def tokens(self, request_id: int, logprobs: bool = False, top_logprobs: int = 0) -> Iterator[Token]:
        """The generated tokens one by one, each with the text it completes (and, when asked, its
        log-probability and `top_logprobs` alternatives); GatewayError when the worker could not answer or be
        reached."""
        try:
            for event in generation.stream_tokens(self.node, self.key, request_id, logprobs=logprobs,
                                                  top_logprobs=top_logprobs):
                if event.HasField("token"):
                    found = event.token
                    yield Token(found.text, found.piece, found.logprob if found.HasField("logprob") else None,
                                tuple((t.piece, t.logprob) for t in found.top_logprobs), found.stop)
                elif event.end.error:
                    raise GatewayError(502, f"The worker could not answer request {request_id}: {event.end.error} "
                                            "(the request expires and its escrow is refunded)", kind="server_error",
                                       code="worker_failed")
        except grpc.RpcError as exc:
            raise GatewayError(502, f"The worker assigned to request {request_id} could not be reached "
                                    f"({exc.code().name}); the request expires unanswered and its escrow is "
                                    "refunded", kind="server_error", code="worker_unreachable") from exc

    def settle(self, call: Call, max_tokens: int) -> tuple[UsageInfo, dict, list[str]]:
        """usage (summed over the choices), the `payable` extension and each choice's finish reason, once every
        choice's request settled. The extension of one choice is its request, settlement, attribution and the
        transaction fee of the call that paid it; of several, the requests, the fees summed and each choice's
        own under `choices`. The budget is settled at what every choice cost before any failure is raised."""
        closed = [(paid, generation.wait_closed(self.node, paid.request)[1]) for paid in call.choices]
        self.budget.settle(call.hold, sum(p.transaction_fee + (decode_u128(s.fee) if s is not None else 0)
                                          for p, s in closed))
        for paid, settlement in closed:
            if settlement is None:
                raise GatewayError(502, f"Request {paid.request} expired without a settled answer; its escrow was "
                                        "refunded", kind="server_error", code="request_expired")
            if settlement.refused:  # the workers' verified refusal: refunded but for what it cost, nobody slashed
                why = generation.refusal_text(settlement)
                raise GatewayError(400, f"Request {paid.request} was refused by its workers ({why}); charged "
                                        f"{format_open(decode_u128(settlement.fee))} OPEN, refunded "
                                        f"{format_open(decode_u128(settlement.refund))} OPEN",
                                   code="context_length_exceeded" if settlement.refused == inf.CONTEXT_EXCEEDED
                                   else "request_refused")
        settled = [s for _, s in closed if s is not None]
        inputs, outputs = sum(s.input_tokens for s in settled), sum(s.output_tokens for s in settled)
        usage = UsageInfo(prompt_tokens=inputs, completion_tokens=outputs, total_tokens=inputs + outputs)
        choices = [{"request": paid.request, "settlement": generation.settlement_dict(settlement),
                    "transaction_fee": format_open(paid.transaction_fee),
                    "attribution": generation.attribution_view(
                        self.node, generation.settled_attribution(self.node, settlement))}
                   for paid, settlement in closed if settlement is not None]
        finishes = ["length" if s.output_tokens >= max_tokens else "stop" for s in settled]
        if len(choices) == 1:
            return usage, choices[0], finishes
        extension = {"requests": [c["request"] for c in choices],
                     "fee": format_open(sum(decode_u128(s.fee) for s in settled)),
                     "transaction_fee": format_open(sum(p.transaction_fee for p in call.choices)),
                     "choices": [{"index": i, **c} for i, c in enumerate(choices)]}
        return usage, extension, finishes



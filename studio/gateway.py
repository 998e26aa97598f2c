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

This module is the gateway's work (`Gateway`); its routes are `studio.routes.gateway` and its request and
response bodies `studio.openai_protocol`. `studio.app.create_gateway_app` serves it alone (`payable gateway`).
"""

from __future__ import annotations

from collections.abc import Iterator

from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import decode_u128, format_open
from runtime.crypto import Keypair, encode_address
from sdk.client import Client, ClientError

from . import generation
from .openai_protocol import GatewayError, GenerationRequest, ModelCard, ModelPricing, UsageInfo


def model_card(model: mr.Model) -> ModelCard:
    return ModelCard(id=str(model.id), created=model.registered_at, owned_by=encode_address(model.owner),
                     parent=f"base:{model.base_model}", root=f"base:{model.base_model}",
                     pricing=ModelPricing(flat=format_open(decode_u128(model.price_per_inference)),
                                          input_token=format_open(decode_u128(model.price_per_input_token)),
                                          output_token=format_open(decode_u128(model.price_per_output_token))))


class Gateway:
    """The gateway's state and its work: a node client, the paying key, the per-call spending cap (in OPEN
    base units); which adapters it serves, paying for a call, its tokens and its settlement. The routes
    (`routes.gateway`) only parse, order and shape."""

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

    def models(self) -> list[ModelCard]:
        found = self.node.pallet_items("modelregistry", "list_models", mr.ModelsRequest(), mr.ModelList, "models")
        return [model_card(m) for m in found if m.format == mr.PEFT_LORA and not m.deprecated]

    def pay(self, model: mr.Model, request: GenerationRequest, prompt: str) -> int:
        """Check the prompt, the cap and the balance (the request's sampling is checked already), then pay;
        the request id."""
        max_tokens = request.max_tokens
        if not prompt.strip():
            raise GatewayError(400, "the prompt is empty", param="prompt")
        quote = generation.quote(self.node, model.id, prompt, max_new_tokens=max_tokens,
                                 temperature=request.temperature, top_p=request.top_p)
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

    def settle(self, request_id: int, max_tokens: int) -> tuple[UsageInfo, dict, str]:
        """usage, the `payable` extension and the finish reason, once the request settled."""
        _, settlement = generation.wait_closed(self.node, request_id)
        if settlement is None:
            raise GatewayError(502, f"Request {request_id} expired without a settled answer; its escrow was "
                                    "refunded", kind="server_error", code="request_expired")
        usage = UsageInfo(prompt_tokens=settlement.input_tokens, completion_tokens=settlement.output_tokens,
                          total_tokens=settlement.input_tokens + settlement.output_tokens)
        extension = {"request": request_id, "settlement": generation.settlement_dict(settlement),
                     "attribution": generation.attribution_view(
                         self.node, generation.settled_attribution(self.node, settlement))}
        return usage, extension, "length" if settlement.output_tokens >= max_tokens else "stop"



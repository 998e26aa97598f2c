"""Refusals: a worker's signed "refused, and why", checked and, when the replicas agree on it, closing the
request.

A worker that cannot answer an assigned request says so instead of staying silent (silence is slashed at
the deadline). The chain checks a refusal as it checks a result - the assigned, bonded worker signed it
(over `REFUSAL_DOMAIN ‖ bytes`, so it can never pass for a result), it names this request, its model and
input - and checks the numbers it can: a context refusal must cite the base's registered context and
new-token count and really not fit; an input-bound refusal must cite the request's own bound and exceed it.

Two kinds of reason:
- about the request (`CONTEXT_EXCEEDED`, `INPUT_OVER_BOUND`, `INPUT_UNDECODABLE`): replicas agree on them
  byte for byte as on results (same reason, same numbers). A request closed on one costs the requester the
  worker's part of the model's flat fee (the split's worker basis points of `flat_fee`), paid to the agreeing
  workers: the requester sent what could not be served, and reading, fetching and tokenizing it was work.
  Nobody else is paid - there was no output to attribute - and the rest of the escrow is refunded. A worker
  gains less by refusing falsely than by answering (an answer earns the worker's part of the whole fee).
- about the worker (`ARTIFACT_UNAVAILABLE`, `BUSY`): abstentions. They do not vote - the other replicas'
  answers decide - and if every worker abstains the request closes refunded in full: the requester did
  nothing wrong, and the worker did no work worth paying.
A refusal is never slashed, even outside a majority: it claims no output, so it cannot mislead a payment;
it only forgoes the pay. A request closed by refusal is REFUSED (its reason on the request), its settlement
carries the reason and numbers, and it cannot be challenged (there is no attribution to dispute).
"""

from __future__ import annotations

from pallets.inference import interface as inference
from pallets.modelregistry import interface as registry
from payable.attribution.v1 import attribution_pb2 as pb
from payable.attribution.v1.refusal import refusal_message
from payable.inference.v1 import inference_pb2 as inf
from runtime.codec import decode_u128, encode_u128
from runtime.context import Context

from . import errors, signed
from . import events as ev
from .payout import here, pay, refund
from .split import split_fee
from .storage import Settlements

ABSTAIN = frozenset({inf.ARTIFACT_UNAVAILABLE, inf.BUSY})


def verified(ctx: Context, origin: bytes, request, model, signed_bytes: bytes) -> pb.StoredResult:
    """Every check a chain can make of a worker's signed refusal of `request`; returns what is kept of it."""
    refusal = signed.opened(ctx, origin, signed_bytes, pb.SignedRefusal, pb.Refusal, "refusal", refusal_message,
                            ("signed_refusal", "the signed refusal", "refusal"))
    signed.same_request("refusal", request, model, refusal)
    _check_numbers(ctx, request, model, refusal)
    return pb.StoredResult(worker=origin, refused=refusal.reason, input_tokens=refusal.input_tokens,
                           max_new_tokens=refusal.max_new_tokens, limit=refusal.limit, included=here(ctx))


def _check_numbers(ctx: Context, request, model, refusal: pb.Refusal) -> None:
    """The reason is a known one, and the numbers behind it are the chain's own where it has them."""
    reason, tokens, new, limit = refusal.reason, refusal.input_tokens, refusal.max_new_tokens, refusal.limit
    if reason not in inf.RefusalReason.values() or reason == inf.NOT_REFUSED:
        raise errors.BadRefusal(f"refusal reason {reason} is not one this chain knows")
    if reason == inf.CONTEXT_EXCEEDED:
        context = registry.base_model(ctx, model.base_model).context_length
        if context and limit != context:
            raise errors.BadRefusal(f"the refusal cites a context of {limit}; the base's is {context}")
        if request.max_new_tokens and new != request.max_new_tokens:
            raise errors.BadRefusal(f"the refusal cites {new} new tokens; the request asked for "
                                    f"{request.max_new_tokens}")
        if tokens + new <= limit:
            raise errors.BadRefusal(f"{tokens} prompt tokens and {new} new tokens fit a context of {limit}")
    elif reason == inf.INPUT_OVER_BOUND:
        if not request.max_input_tokens or limit != request.max_input_tokens or tokens <= limit:
            raise errors.BadRefusal(f"request {request.id} bounds its input at {request.max_input_tokens} tokens; "
                                    f"the refusal cites {tokens} over {limit}")
    elif reason == inf.INPUT_UNDECODABLE and (tokens or new or limit):
        raise errors.BadRefusal("an undecodable input has no token counts")


def cost(request, model, reason: int) -> int:
    """What a refusal costs the requester: the worker's part of the flat fee for a reason about the request,
    nothing for an abstention (see the module docstring)."""
    if reason in ABSTAIN:
        return 0
    split = model.split
    worker = split_fee(decode_u128(request.flat_fee), (split.contributors, split.model_owner, split.protocol,
                                                       split.worker), []).worker
    return min(worker, decode_u128(request.escrow))


def close(ctx: Context, request, model, agreeing: list[pb.StoredResult], slashed: list[bytes]) -> None:
    """Close `request` on the refusal its `agreeing` workers signed: the cost to them in equal parts (largest
    remainder), the rest refunded, the settlement recorded with the reason, the request REFUSED."""
    leader = agreeing[0]
    escrow, fee = decode_u128(request.escrow), cost(request, model, leader.refused)
    workers = [a.worker for a in agreeing]
    settlement = pb.Settlement(request=request.id, model=model.id, fee=encode_u128(fee), settled_at=ctx.block_number,
                               agreeing_workers=workers, slashed_workers=slashed, escrow=request.escrow,
                               input_tokens=leader.input_tokens, evidence=[a.included for a in agreeing],
                               refused=leader.refused, max_new_tokens=leader.max_new_tokens, limit=leader.limit)
    refund(ctx, request, model.id, settlement, escrow - fee)
    share, extra = divmod(fee, len(workers))
    for i, account in enumerate(workers):
        pay(ctx, request, model.id, settlement, account, share + (i < extra), "worker (refusal)")
    Settlements.insert(ctx, request.id, settlement)
    inference.mark_refused(ctx, request.id, leader.refused)
    ev.Refused.emit(ctx, request=request.id, reason=leader.refused, fee=encode_u128(fee),
                    refund=encode_u128(escrow - fee))

"""A paid generation as a client sees it: quote, pay, stream, settle, and read back whose data spoke.

One module for every client that pays for generations - `payable generate`, the studio's playground (where
the browser signs) and the OpenAI-compatible gateway (where the gateway's key signs) - so the escrow, the
stream's signature and the way back from a settlement to its attribution are computed one way.

The request escrows the model's price at the token bounds; the worker's endpoint comes from its on-chain
record; the stream is read with a signature over the request id (`sdk.wire.stream_read_message`), so
nobody but the requester can read it; settlement charges the real token counts and refunds the rest. The
attribution shown afterwards is the agreeing worker's signed result as it sits in its `submit_result`
extrinsic (read where the settlement records it was included), so what a page shows is what the chain checked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.runtime.v1.extrinsic_pb2 import Extrinsic, ExtrinsicBody
from payable.system.v1 import system_pb2
from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc
from runtime.codec import decode_u128, encode_u128, format_open
from runtime.crypto import Keypair, blake2_256, encode_address
from sdk.client import Client, ClientError
from sdk.grpcserver import MESSAGE_OPTIONS
from sdk.wire import MAX_TEMPERATURE_MILLI, leaf_bytes, stream_read_message, token_price

TEMPLATE_ALLOWANCE = 64  # tokens a chat or instruction template may add around the prompt
MAX_TEMPERATURE = MAX_TEMPERATURE_MILLI / 1000  # the inference pallet's limit, in the caller's units


@dataclass(frozen=True)
class Quote:
    """What a generation would escrow, and the call that pays it."""

    model: mr.Model
    args: inf.RequestInference
    escrow: int


def quote(node: Client, model_id: int, prompt: str, *, max_new_tokens: int = 64, max_input_tokens: int = 0,
          temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None) -> Quote:
    """The escrow at the token bounds and the `inference.request_inference` arguments. The input bound
    defaults to the prompt's bytes plus the template's allowance (a byte-level tokenizer never makes more
    tokens than bytes). A `seed` makes the sampling's random stream the seed's own (same seed, same text).
    Bounds the chain would read otherwise (a 0 token bound is its default, charged) or refuse in its own units
    are refused here, in the caller's, before anything is signed; a top-p that rounds to 0 is greedy sampling."""
    if max_new_tokens < 1:
        raise ValueError(f"max new tokens must be at least 1, not {max_new_tokens}")
    if not 0 <= temperature <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must be in 0..{MAX_TEMPERATURE} (0: greedy), not {temperature}")
    if not 0 <= top_p <= 1:
        raise ValueError(f"top-p must be in 0..1, not {top_p}")
    if round(top_p * 1000) == 0:  # only the most likely token (OpenAI's top_p 0): greedy - 0 on chain is "unset"
        temperature, top_p = 0.0, 1.0
    model = node.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=model_id), mr.Model)
    bound = max_input_tokens or len(prompt.encode()) + TEMPLATE_ALLOWANCE
    sampling = inf.Sampling(temperature_milli=round(temperature * 1000), top_p_milli=round(top_p * 1000),
                            seed=seed)
    escrow = token_price(decode_u128(model.price_per_inference), decode_u128(model.price_per_input_token),
                         decode_u128(model.price_per_output_token), bound, max_new_tokens)
    args = inf.RequestInference(model=model_id, input=prompt.encode(), max_fee=encode_u128(escrow),
                                max_input_tokens=bound, max_new_tokens=max_new_tokens, sampling=sampling)
    return Quote(model, args, escrow)


def classifier_quote(node: Client, model_id: int, features: list[float]) -> Quote:
    """A classifier's request: the features as little-endian float32 (what its workers read), escrowing the
    flat price."""
    import struct

    model = node.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=model_id), mr.Model)
    escrow = decode_u128(model.price_per_inference)
    args = inf.RequestInference(model=model_id, input=struct.pack(f"<{len(features)}f", *features),
                                max_fee=encode_u128(escrow))
    return Quote(model, args, escrow)


def requested_id(node: Client, block_number: int, extrinsic_index: int) -> int:
    """The request id an included `request_inference` created (its InferenceRequested event)."""
    return node.emitted(block_number, extrinsic_index, "InferenceRequested", inf.InferenceRequested).request


def pay(node: Client, signer: Keypair, quoted: Quote) -> int:
    """Submit a quoted request signed by `signer` and wait for its block; the request id (ClientError if the
    chain refused it)."""
    return pay_with_fee(node, signer, quoted)[0]


def pay_with_fee(node: Client, signer: Keypair, quoted: Quote) -> tuple[int, int]:
    """`pay`, and the transaction fee the chain took for the call (its ExtrinsicSuccess event), in base units.
    Concurrent calls for one key get consecutive nonces (`Client.submit_signed`)."""
    result = node.submit_signed(signer, node.call_with("inference", "request_inference", quoted.args))
    if not result.success:
        raise ClientError(f"the request was refused: {result.error}")
    request_id, fee = None, 0
    for event in node.events(result.block_number).events:
        if event.extrinsic_index != result.extrinsic_index:
            continue
        if event.name == "InferenceRequested":
            request_id = inf.InferenceRequested.FromString(event.data).request
        elif event.name == "ExtrinsicSuccess":
            fee = decode_u128(system_pb2.ExtrinsicSuccess.FromString(event.data).fee)
    if request_id is None:
        raise ClientError(f"no InferenceRequested event from extrinsic {result.block_number}-"
                          f"{result.extrinsic_index}")
    return request_id, fee


def request_generation(node: Client, signer: Keypair, model_id: int, prompt: str, **bounds) -> int:
    """Pay for one generation signed by `signer`; returns the request id (ClientError if the chain refused)."""
    return pay(node, signer, quote(node, model_id, prompt, **bounds))


def worker_endpoint(node: Client, request_id: int) -> str:
    """Where the request's first assigned worker serves its gRPC (its on-chain record)."""
    request = node.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
    found = node.pallet_query("inference", "get_worker", inf.WorkerRef(worker=request.workers[0]), inf.Worker)
    return found.endpoint


def open_stream(node: Client, request_id: int, requester: bytes, issued_at: int, signature: bytes, *,
                endpoint: str | None = None, timeout: float = 300.0, logprobs: bool = False,
                top_logprobs: int = 0) -> Iterator[wp.PaidStreamEvent]:
    """The paid request's stream events (tokens, then the end), read with the requester's signature over
    `stream_read_message` (made here for a key, or by a browser); with `logprobs`, each token with its piece,
    its log-probability and `top_logprobs` alternatives (0..20)."""
    channel = grpc.insecure_channel(endpoint or worker_endpoint(node, request_id), options=MESSAGE_OPTIONS)
    try:
        stub = worker_pb2_grpc.OpenLoRAStub(channel)
        yield from stub.StreamPaid(wp.PaidStreamRequest(request=request_id, requester=requester, issued_at=issued_at,
                                                        signature=signature, logprobs=logprobs,
                                                        top_logprobs=top_logprobs), timeout=timeout)
    finally:
        channel.close()


def stream_tokens(node: Client, signer: Keypair, request_id: int, endpoint: str | None = None,
                  timeout: float = 300.0, logprobs: bool = False,
                  top_logprobs: int = 0) -> Iterator[wp.PaidStreamEvent]:
    """The stream read as `signer` (who must be the requester)."""
    issued_at = int(time.time())
    signature = signer.sign(stream_read_message(node.genesis_hash, request_id, signer.public, issued_at))
    yield from open_stream(node, request_id, signer.public, issued_at, signature, endpoint=endpoint,
                           timeout=timeout, logprobs=logprobs, top_logprobs=top_logprobs)


def _closed(node: Client, request_id: int) -> tuple[inf.Request, bool, at.Settlement | None]:
    """(the request, whether it is closed, its settlement when it settled or was refused - the refusal's
    reason, numbers, cost and refund): the one look both waits take."""
    request = node.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
    if request.status in (inf.SETTLED, inf.REFUSED):
        return request, True, node.pallet_query("attribution", "get_settlement",
                                                at.SettlementRequest(request=request_id), at.Settlement)
    return request, request.status == inf.EXPIRED, None


def wait_closed(node: Client, request_id: int, timeout: float = 120.0) -> tuple[inf.Request, at.Settlement | None]:
    """The request once it is settled or refused (with its settlement) or expired (None), or ClientError at the
    timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request, closed, settlement = _closed(node, request_id)
        if closed:
            return request, settlement
        time.sleep(0.3)
    raise ClientError(f"request {request_id} neither settled nor expired within {timeout:.0f} s")


def wait_outcome(node: Client, request_id: int, *, stall: float = 60.0,
                 poll: float = 0.3) -> tuple[inf.Request, at.Settlement | None]:
    """The request once it is settled (with its settlement) or expired (None), following the chain rather than
    a clock: a request stays pending at most until the end of its deadline block (escalation may move the
    deadline later; it is re-read each time), so this waits as long as the chain makes blocks. ClientError
    only when the request is still pending and no block has come for `stall` seconds (a halted chain, or an
    instant-seal node with nothing to seal)."""
    best, seen = -1, time.monotonic()
    while True:
        request, closed, settlement = _closed(node, request_id)
        if closed:
            return request, settlement
        number, now = node.chain_info().best_number, time.monotonic()
        if number != best:
            best, seen = number, now
        elif now - seen > stall:
            raise ClientError(f"request {request_id} is still pending at block #{best} (its deadline is block "
                              f"#{request.deadline}) and the chain has made no block for {stall:.0f} s")
        time.sleep(poll)


@dataclass
class Attribution:
    """The settled result as the chain accepted it: the agreeing worker's signed attribution (method, spans
    over the output's tokens, credited contributions with scores) and the proofs it submitted with it."""

    result: at.AttributionResult
    proofs: list[at.ContributionProof]
    extrinsic_hash: bytes
    block_number: int


def settled_attribution(node: Client, settlement: at.Settlement) -> Attribution:
    """The agreeing worker's `attribution.submit_result` for the settled request, read where the settlement
    says it was included (its evidence: block, extrinsic index) - one block fetched, no search. A settlement
    recorded before the chain kept its evidence is found in the worker's history (the node's index) instead."""
    worker = settlement.agreeing_workers[0]
    submit_result = next(("attribution", c.index) for p in node.metadata.pallets if p.name == "attribution"
                         for c in p.calls if c.name == "submit_result")
    if settlement.evidence:
        where = settlement.evidence[0]
        extrinsics = node.block(where.block).block.extrinsics
        raw = extrinsics[where.index] if where.index < len(extrinsics) else b""
        found = _submitted(raw, worker, submit_result, settlement.request)
        if found is None:
            raise ClientError(f"block {where.block} extrinsic {where.index} is not the submit_result of request "
                              f"{settlement.request} its settlement points to")
        return Attribution(*found, blake2_256(raw), where.block)
    before = settlement.settled_at + 1
    while True:
        page = node.account_history(worker, before_block=before, limit=100)
        for entry in page.entries:
            if "signer" not in entry.roles or not entry.extrinsic_hash:
                continue
            tx = node.extrinsic(entry.extrinsic_hash)
            found = _submitted(tx.extrinsic, worker, submit_result, settlement.request)
            if found is not None:
                return Attribution(*found, entry.extrinsic_hash, tx.block_number)
        if not page.next_before_block:
            raise ClientError(f"no submit_result for request {settlement.request} by its agreeing worker")
        before = page.next_before_block


def _submitted(raw: bytes, worker: bytes, submit_result: tuple[str, int],
               request_id: int) -> tuple[at.AttributionResult, list[at.ContributionProof]] | None:
    """The signed result and proofs in `raw` if it is `worker`'s submit_result for `request_id`, else None."""
    extrinsic = Extrinsic.FromString(raw)
    if not extrinsic.HasField("signed"):
        return None
    body = ExtrinsicBody.FromString(extrinsic.signed.body)
    if body.signer != worker or (body.call.pallet, body.call.call_index) != submit_result:
        return None
    args = at.SubmitResult.FromString(body.call.args)
    if args.request != request_id:
        return None
    signed = at.SignedAttribution.FromString(args.signed_attribution)
    return at.AttributionResult.FromString(signed.result), list(args.proofs)


def refusal_text(settlement: at.Settlement) -> str:
    """Why the workers refused a request, as people read it (empty when it was answered)."""
    if not settlement.refused:
        return ""
    reason = inf.RefusalReason.Name(settlement.refused)
    if settlement.refused == inf.CONTEXT_EXCEEDED:
        return (f"{reason}: a prompt of {settlement.input_tokens} tokens and {settlement.max_new_tokens} new tokens "
                f"do not fit the base's context of {settlement.limit}")
    if settlement.refused == inf.INPUT_OVER_BOUND:
        return f"{reason}: the prompt is {settlement.input_tokens} tokens, over the request's bound of " \
               f"{settlement.limit}"
    return reason


def settlement_dict(settlement: at.Settlement) -> dict:
    """Where a fee went, as people read it (amounts in OPEN, accounts as addresses; a refused request's reason)."""
    out = {"fee": format_open(decode_u128(settlement.fee)), "escrow": format_open(decode_u128(settlement.escrow)),
           "refund": format_open(decode_u128(settlement.refund)), "block": settlement.settled_at,
           "payments": [{"account": encode_address(p.account), "role": p.role,
                         "amount": format_open(decode_u128(p.amount)), "contribution": p.contribution_id,
                         "datanet": p.datanet} for p in settlement.payments]}
    if settlement.refused:
        out["refused"] = refusal_text(settlement)
    return out


def attribution_view(client: Client, found: Attribution) -> dict:
    """A settled attribution as clients show it: method, spans over the output's tokens, credited contributions
    (DataNet, contributor, share) with their proofs and the snapshot roots they must fold to (a browser or a
    script re-checks them), a classifier's class."""
    roots: dict[tuple[int, int], bytes] = {}
    proofs = {p.proof.leaf.contribution_id: p for p in found.proofs}
    contributions = []
    for credit in found.result.top_k:
        proof = proofs[credit.contribution_id]
        key = (proof.datanet, proof.version)
        if key not in roots:
            roots[key] = client.pallet_query("datanet", "get_snapshot", dn.SnapshotRequest(
                datanet=proof.datanet, version=proof.version), dn.SnapshotWithProofs).snapshot.root
        contributions.append({
            "contribution": credit.contribution_id, "contributor": encode_address(credit.contributor),
            "datanet": proof.datanet, "version": proof.version, "share_ppb": credit.score_ppb,
            "proof": {"leaf": leaf_bytes(proof.proof.leaf).hex(), "index": proof.proof.index,
                      "count": proof.proof.count, "siblings": [s.hex() for s in proof.proof.siblings],
                      "root": roots[key].hex()}})
    spans = [{"start": s.start, "length": s.length, "count": s.count, "contributions": list(s.contribution_ids)}
             for s in found.result.spans]
    return {"method": found.result.method, "extrinsic": found.extrinsic_hash.hex(), "block": found.block_number,
            "contributions": contributions, "spans": spans, "output_tokens": found.result.output_tokens,
            "label": found.result.label if found.result.HasField("label") else None}

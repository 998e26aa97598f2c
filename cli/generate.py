"""`payable generate`: pay for a generation with a language model or adapter, read its tokens as they are
made, straight from the assigned worker, and show what was charged and who was paid.

The request escrows the model's price at the token bounds; the worker's endpoint comes from its on-chain
record; the stream is read with a signature over the request id (`runtime.wire.stream_read_message`), so
nobody but the requester can read it; settlement charges the real token counts and refunds the rest.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

from payable.attribution.v1 import attribution_pb2 as at
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.worker.v1 import worker_pb2 as wp
from runtime.client import Client, ClientError
from runtime.codec import decode_u128, encode_u128, format_open
from runtime.crypto import Keypair
from runtime.wire import stream_read_message, token_price

from .common import client, client_command, created, emit, keypair_from

TEMPLATE_ALLOWANCE = 64  # tokens a chat or instruction template may add around the prompt


def request_generation(node: Client, signer: Keypair, model_id: int, prompt: str, *, max_new_tokens: int = 64,
                       max_input_tokens: int = 0, temperature: float = 0.0, top_p: float = 1.0) -> int:
    """Pay for one generation; returns the request id. The input bound defaults to the prompt's bytes plus
    the template's allowance (a byte-level tokenizer never makes more tokens than bytes)."""
    model = node.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=model_id), mr.Model)
    bound = max_input_tokens or len(prompt.encode()) + TEMPLATE_ALLOWANCE
    sampling = inf.Sampling(temperature_milli=round(temperature * 1000), top_p_milli=round(top_p * 1000))
    escrow = token_price(decode_u128(model.price_per_inference), decode_u128(model.price_per_input_token),
                         decode_u128(model.price_per_output_token), bound, max_new_tokens)
    call = node.call_with("inference", "request_inference", inf.RequestInference(
        model=model_id, input=prompt.encode(), max_fee=encode_u128(escrow), max_input_tokens=bound,
        max_new_tokens=max_new_tokens, sampling=sampling))
    result = node.submit_and_wait(node.sign(signer, call))
    return created(node, result, "InferenceRequested", inf.InferenceRequested).request


def worker_endpoint(node: Client, request_id: int) -> str:
    """Where the request's first assigned worker serves its gRPC (its on-chain record)."""
    request = node.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
    found = node.pallet_query("inference", "get_worker", inf.WorkerRef(worker=request.workers[0]), inf.Worker)
    return found.endpoint


def stream_tokens(node: Client, signer: Keypair, request_id: int, endpoint: str | None = None,
                  timeout: float = 300.0) -> Iterator[wp.PaidStreamEvent]:
    """The paid request's stream events (tokens, then the end), read as `signer` (who must be the requester)."""
    import grpc

    from payable.worker.v1 import worker_pb2_grpc
    from runtime.grpcserver import MESSAGE_OPTIONS

    issued_at = int(time.time())
    signature = signer.sign(stream_read_message(node.genesis_hash, request_id, signer.public, issued_at))
    channel = grpc.insecure_channel(endpoint or worker_endpoint(node, request_id), options=MESSAGE_OPTIONS)
    try:
        stub = worker_pb2_grpc.OpenLoRAStub(channel)
        yield from stub.StreamPaid(wp.PaidStreamRequest(request=request_id, requester=signer.public,
                                                        issued_at=issued_at, signature=signature), timeout=timeout)
    finally:
        channel.close()


def wait_closed(node: Client, request_id: int, timeout: float = 120.0) -> tuple[inf.Request, at.Settlement | None]:
    """The request once it is settled (with its settlement) or expired (None), or ClientError at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = node.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
        if request.status == inf.SETTLED:
            return request, node.pallet_query("attribution", "get_settlement",
                                              at.SettlementRequest(request=request_id), at.Settlement)
        if request.status == inf.EXPIRED:
            return request, None
        time.sleep(0.3)
    raise ClientError(f"request {request_id} neither settled nor expired within {timeout:.0f} s")


def cmd_generate(args) -> int:
    signer = keypair_from(args.sender)
    with client(args) as node:
        request_id = request_generation(node, signer, args.model, args.prompt, max_new_tokens=args.max_new_tokens,
                                        max_input_tokens=args.max_input_tokens, temperature=args.temperature,
                                        top_p=args.top_p)
        text, end = [], None
        for event in stream_tokens(node, signer, request_id):
            if event.HasField("token"):
                text.append(event.token.text)
                if not args.json:
                    print(event.token.text, end="", flush=True)
            else:
                end = event.end
        if not args.json:
            print()
        if end is not None and end.error:
            print(f"the worker could not answer: {end.error} (the request expires and is refunded)", file=sys.stderr)
        request, settlement = wait_closed(node, request_id)
    if settlement is None:
        emit(args, {"request": request_id, "status": "expired", "refunded": format_open(decode_u128(request.escrow))},
             [("request", str(request_id)), ("status", "expired: escrow refunded")])
        return 1
    emit(args, {"request": request_id, "text": "".join(text), "input_tokens": settlement.input_tokens,
                "output_tokens": settlement.output_tokens, "fee": format_open(decode_u128(settlement.fee)),
                "refund": format_open(decode_u128(settlement.refund)),
                "payments": [{"account": p.account.hex(), "role": p.role, "amount": format_open(decode_u128(p.amount)),
                              "contribution": p.contribution_id} for p in settlement.payments]},
         [("request", str(request_id)), ("tokens", f"{settlement.input_tokens} in, {settlement.output_tokens} out"),
          ("charged", f"{format_open(decode_u128(settlement.fee))} OPEN"),
          ("refunded", f"{format_open(decode_u128(settlement.refund))} OPEN"),
          ("payments", str(len(settlement.payments)))])
    return 0


def register(sub) -> None:
    parser = client_command(sub, "generate", "pay for a generation, stream it from the worker, show the settlement",
                            cmd_generate, signed=True)
    parser.add_argument("model", type=int, help="the model id (an adapter, or a language model)")
    parser.add_argument("prompt", help="the text to continue; the adapter's training template is applied")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--max-input-tokens", type=int, default=0,
                        help="the prompt's token bound (default: its bytes + 64 for the template)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    parser.add_argument("--top-p", type=float, default=1.0)

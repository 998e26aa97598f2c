"""`payable generate`: pay for a generation with a language model or adapter, read its tokens as they are
made, straight from the assigned worker, and show what was charged and who was paid.

The request escrows the model's price at the token bounds; the worker's endpoint comes from its on-chain
record; the stream is read with a signature over the request id (`sdk.wire.stream_read_message`), so
nobody but the requester can read it; settlement charges the real token counts and refunds the rest.
"""

from __future__ import annotations

import sys

from runtime.codec import decode_u128, format_open
from studio.generation import request_generation, stream_tokens, wait_closed

from .common import client, client_command, emit, keypair_from


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

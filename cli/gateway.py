"""`payable gateway`: an OpenAI-compatible API on 127.0.0.1 whose every call is a paid on-chain request."""

from __future__ import annotations

from runtime.codec import format_open, parse_open

from .common import keypair_from
from .studio import serve_web, web_arguments


def cmd_gateway(args) -> int:
    key = keypair_from(args.key)
    cap = parse_open(args.max_fee) if args.max_fee else None

    def build():
        from studio.app import create_gateway_app

        return create_gateway_app(args.node, key, cap)

    limit = f"{format_open(cap)} OPEN per call" if cap is not None else "none"
    return serve_web(args, build, f"OpenAI-compatible gateway on http://127.0.0.1:{args.port}/v1 (node {args.node}, "
                                  f"paying as {key.address}, cap {limit})")


def register(sub) -> None:
    gateway = sub.add_parser("gateway", help="an OpenAI-compatible API (/v1/models, /v1/completions, "
                                             "/v1/chat/completions) paying on chain for each call")
    web_arguments(gateway, 8081)
    gateway.add_argument("--key", required=True, help="the paying key: a key file, //Name or a hex seed")
    gateway.add_argument("--max-fee", default="", help="spending cap per call in OPEN (a call whose escrow at its "
                                                       "token bounds is above it is refused)")
    gateway.set_defaults(func=cmd_gateway)

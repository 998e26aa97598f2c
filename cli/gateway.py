"""`payable gateway`: an OpenAI-compatible API on 127.0.0.1 whose every call is a paid on-chain request.

Only callers with the API key (`--api-key` or $PAYABLE_GATEWAY_API_KEY) may spend the paying key, unless the
operator opts out loudly (`--insecure-no-api-key`, a warning at start); the Host header must name this
gateway (127.0.0.1:PORT, localhost:PORT, or an `--allowed-host`) and a browser's Origin must be allowed
(`--allowed-origin`); besides the per-call cap (`--max-fee`), a budget per hour and in total.
"""

from __future__ import annotations

import os

import structlog

from runtime.codec import format_open, parse_open

from .common import keypair_from
from .studio import serve_web, web_arguments

API_KEY_ENV = "PAYABLE_GATEWAY_API_KEY"


def cmd_gateway(args) -> int:
    key = keypair_from(args.key)
    cap = parse_open(args.max_fee) if args.max_fee else None
    per_hour = parse_open(args.budget_per_hour) if args.budget_per_hour else None
    total = parse_open(args.budget_total) if args.budget_total else None
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if api_key is None and not args.insecure_no_api_key:
        raise ValueError(f"the gateway spends {key.address}'s OPEN for whoever calls it: give it an API key "
                         f"(--api-key KEY or ${API_KEY_ENV}; clients send it as their api_key), or opt out "
                         "with --insecure-no-api-key")
    if api_key is not None and args.insecure_no_api_key:
        raise ValueError("--insecure-no-api-key and an API key together: choose one")
    if api_key is not None and len(api_key) < 16:
        raise ValueError("the API key is shorter than 16 characters: use a long random one "
                         "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")

    def build():
        from studio.app import create_gateway_app
        from studio.gateway import Access, Budget

        access = Access.local(args.port, api_key, args.allowed_host, args.allowed_origin)
        return create_gateway_app(args.node, key, cap, access, Budget(per_hour=per_hour, total=total))

    if api_key is None:
        structlog.get_logger("payable.gateway").warning(
            "gateway_without_api_key", port=args.port, paying_as=key.address,
            detail="--insecure-no-api-key: anyone who can reach this port can spend the paying key's OPEN")

    def limit(amount: int | None, what: str) -> str:
        return f"{format_open(amount)} OPEN {what}" if amount is not None else f"none {what}"

    return serve_web(args, build, f"OpenAI-compatible gateway on http://127.0.0.1:{args.port}/v1 (node {args.node}, "
                                  f"paying as {key.address}, cap {limit(cap, 'per call')}, budget "
                                  f"{limit(per_hour, 'per hour')}, {limit(total, 'in total')}, API key "
                                  f"{'required' if api_key else 'NOT required'})")


def register(sub) -> None:
    gateway = sub.add_parser("gateway", help="an OpenAI-compatible API (/v1/models, /v1/completions, "
                                             "/v1/chat/completions) paying on chain for each call")
    web_arguments(gateway, 8081)
    gateway.add_argument("--key", required=True, help="the paying key: a key file, //Name or a hex seed")
    gateway.add_argument("--api-key", default="", help=f"the key callers must send as `Authorization: Bearer KEY` "
                                                       f"(the OpenAI clients' api_key; default ${API_KEY_ENV}); "
                                                       "required unless --insecure-no-api-key")
    gateway.add_argument("--insecure-no-api-key", action="store_true",
                         help="serve without an API key: anyone who can reach the port spends the paying key")
    gateway.add_argument("--allowed-host", action="append", default=[], metavar="HOST[:PORT]",
                         help="a Host header to answer besides 127.0.0.1:PORT and localhost:PORT (repeatable)")
    gateway.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                         help="a browser origin allowed to call (e.g. http://localhost:3000; repeatable); "
                              "requests without an Origin (non-browser clients) are always allowed")
    gateway.add_argument("--max-fee", default="", help="spending cap per call in OPEN (a call whose escrow at its "
                                                       "token bounds is above it is refused)")
    gateway.add_argument("--budget-per-hour", default="", help="at most this much OPEN spent in any hour "
                                                               "(escrows reserved, settled at what was paid)")
    gateway.add_argument("--budget-total", default="", help="at most this much OPEN spent while the gateway runs")
    gateway.set_defaults(func=cmd_gateway)

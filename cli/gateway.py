"""`payable gateway`: an OpenAI-compatible API on 127.0.0.1 whose every call is a paid on-chain request.

Only callers with the API key (`--api-key` or $PAYABLE_GATEWAY_API_KEY) may spend the paying key, unless the
operator opts out loudly (`--insecure-no-api-key`, a warning at start); the Host header must name this
gateway (127.0.0.1:PORT, localhost:PORT, or an `--allowed-host`) and a browser's Origin must be allowed
(`--allowed-origin`); besides the per-call cap (`--max-fee`), a budget per hour and in total.
"""

from __future__ import annotations

from .common import keypair_from
from .studio import gateway_arguments, gateway_budget, gateway_guards, limits, serve_web, web_arguments


def cmd_gateway(args) -> int:
    key = keypair_from(args.key)
    api_key, cap = gateway_guards(args, key.address)
    budget = gateway_budget(args)

    def build():
        from studio.app import create_gateway_app
        from studio.gateway import Access

        access = Access.local(args.port, api_key, args.allowed_host, args.allowed_origin)
        return create_gateway_app(args.node, key, cap, access, budget)

    return serve_web(args, build, f"OpenAI-compatible gateway on http://127.0.0.1:{args.port}/v1 (node {args.node}, "
                                  f"paying as {key.address}, {limits(cap, budget)}, API key "
                                  f"{'required' if api_key else 'NOT required'})")


def register(sub) -> None:
    gateway = sub.add_parser("gateway", help="an OpenAI-compatible API (/v1/models, /v1/completions, "
                                             "/v1/chat/completions) paying on chain for each call")
    web_arguments(gateway, 8081)
    gateway.add_argument("--key", required=True, help="the paying key: a key file, //Name or a hex seed")
    gateway_arguments(gateway)
    gateway.set_defaults(func=cmd_gateway)

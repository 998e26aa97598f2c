"""`payable studio`: the web app (explorer, playground, earnings, DataNets, ModelFactory, models) on 127.0.0.1.

It answers only at its own loopback Host (127.0.0.1:PORT, localhost:PORT) and the `--allowed-host` names, and
no page of another origin may change anything through it (`studio.guard`). With `--gateway-key` it serves
the OpenAI-compatible /v1 routes too, under the same guards as `payable gateway` (`gateway_arguments`): an
API key unless `--insecure-no-api-key`, the per-call cap and the budgets.
"""

from __future__ import annotations

import os

import structlog

from runtime.codec import format_open, parse_open

from .common import DEFAULT_NODE, keypair_from

API_KEY_ENV = "PAYABLE_GATEWAY_API_KEY"


def serve_web(args, build, banner) -> int:
    """Build an app of the studio package (`build()`, which may refuse with RuntimeError) and serve it on
    127.0.0.1:args.port, after printing `banner`."""
    try:
        import uvicorn

        app = build()
    except ImportError as exc:
        raise ValueError(f"the studio extra is not installed: pip install -e '.[studio]' ({exc})") from exc
    except RuntimeError as exc:
        raise ValueError(str(exc)) from exc
    print(banner, flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=args.log_level)
    return 0


def web_arguments(parser, port: int) -> None:
    """What every web command of the studio package takes: the node to follow, its port, its log level."""
    parser.add_argument("--node", default=DEFAULT_NODE, help=f"node gRPC address (default {DEFAULT_NODE})")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--log-level", default="warning")


def gateway_arguments(parser) -> None:
    """Who may spend a gateway's paying key and how much: the flags `payable gateway` and `payable studio
    --gateway-key` share (the Host and Origin allow-lists guard the studio's own pages too)."""
    parser.add_argument("--api-key", default="", help=f"the key callers must send as `Authorization: Bearer KEY` "
                                                      f"(the OpenAI clients' api_key; default ${API_KEY_ENV}); "
                                                      "required unless --insecure-no-api-key")
    parser.add_argument("--insecure-no-api-key", action="store_true",
                        help="serve without an API key: anyone who can reach the port spends the paying key")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="HOST[:PORT]",
                        help="a Host header to answer besides 127.0.0.1:PORT and localhost:PORT (repeatable)")
    parser.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                        help="a browser origin allowed to call (e.g. http://localhost:3000; repeatable); "
                             "requests without an Origin (non-browser clients) are always allowed")
    parser.add_argument("--max-fee", default="", help="spending cap per call in OPEN (a call whose escrow at its "
                                                      "token bounds is above it is refused)")
    parser.add_argument("--budget-per-hour", default="", help="at most this much OPEN spent in any hour "
                                                              "(escrows reserved, settled at what was paid)")
    parser.add_argument("--budget-total", default="", help="at most this much OPEN spent while the gateway runs")


def gateway_guards(args, paying: str):
    """The API key (None: the operator opted out, with a warning) and the cap, from `gateway_arguments`'
    flags; refuses (ValueError) a gateway without a key unless opted out, or with a short key."""
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if api_key is None and not args.insecure_no_api_key:
        raise ValueError(f"the gateway spends {paying}'s OPEN for whoever calls it: give it an API key "
                         f"(--api-key KEY or ${API_KEY_ENV}; clients send it as their api_key), or opt out "
                         "with --insecure-no-api-key")
    if api_key is not None and args.insecure_no_api_key:
        raise ValueError("--insecure-no-api-key and an API key together: choose one")
    if api_key is not None and len(api_key) < 16:
        raise ValueError("the API key is shorter than 16 characters: use a long random one "
                         "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    if api_key is None:
        structlog.get_logger("payable.gateway").warning(
            "gateway_without_api_key", port=args.port, paying_as=paying,
            detail="--insecure-no-api-key: anyone who can reach this port can spend the paying key's OPEN")
    return api_key, parse_open(args.max_fee) if args.max_fee else None


def gateway_budget(args):
    """The `--budget-per-hour` and `--budget-total` flags as a `studio.gateway.Budget`."""
    from studio.gateway import Budget

    return Budget(per_hour=parse_open(args.budget_per_hour) if args.budget_per_hour else None,
                  total=parse_open(args.budget_total) if args.budget_total else None)


def limits(cap: int | None, budget) -> str:
    """The spending limits in words, for the start banner."""
    def limit(amount: int | None, what: str) -> str:
        return f"{format_open(amount)} OPEN {what}" if amount is not None else f"none {what}"

    return (f"cap {limit(cap, 'per call')}, budget {limit(budget.per_hour, 'per hour')}, "
            f"{limit(budget.total, 'in total')}")


def build_studio(args):
    """The studio app the flags describe (what `payable studio` serves)."""
    from studio.app import create_app
    from studio.gateway import Access

    site = Access.local(args.port, None, args.allowed_host, args.allowed_origin)
    if not args.gateway_key:
        return create_app(args.node, args.worker, site_access=site)
    key = keypair_from(args.gateway_key)
    api_key, cap = gateway_guards(args, key.address)
    access = Access.local(args.port, api_key, args.allowed_host, args.allowed_origin)
    return create_app(args.node, args.worker, key, cap, access, gateway_budget(args), site_access=site)


def cmd_studio(args) -> int:
    gateway = ""
    if args.gateway_key:
        required = "required" if args.api_key or os.environ.get(API_KEY_ENV) else "NOT required"
        gateway = (f"; OpenAI-compatible /v1 paying as {keypair_from(args.gateway_key).address}, "
                   f"{limits(parse_open(args.max_fee) if args.max_fee else None, gateway_budget(args))}, "
                   f"API key {required}")
    return serve_web(args, lambda: build_studio(args), f"Payable Studio on http://127.0.0.1:{args.port} (node "
                                                       f"{args.node}, worker {args.worker}{gateway})")


def register(sub) -> None:
    studio = sub.add_parser("studio", help="the web app: explorer, playground, earnings, DataNets, ModelFactory, "
                                           "models")
    web_arguments(studio, 8080)
    studio.add_argument("--worker", default="127.0.0.1:9955", help="worker gRPC address (default 127.0.0.1:9955)")
    studio.add_argument("--gateway-key", default="", help="also serve the OpenAI-compatible /v1 routes, paying with "
                                                         "this key (a key file, //Name or a hex seed)")
    gateway_arguments(studio)
    studio.set_defaults(func=cmd_studio)

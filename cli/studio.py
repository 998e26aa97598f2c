"""`payable studio`: the web app (DataNets, ModelFactory, models) on 127.0.0.1."""

from __future__ import annotations

from .common import DEFAULT_NODE


def cmd_studio(args) -> int:
    try:
        import uvicorn

        from studio.app import create_app
    except ImportError as exc:
        raise ValueError(f"the studio needs its extra installed: pip install -e '.[studio]' ({exc})") from exc
    from runtime.codec import parse_open

    from .common import keypair_from

    key = keypair_from(args.gateway_key) if args.gateway_key else None
    try:
        app = create_app(args.node, args.worker, key, parse_open(args.max_fee) if args.max_fee else None)
    except RuntimeError as exc:
        raise ValueError(str(exc)) from exc
    gateway = f"; OpenAI-compatible /v1 paying as {key.address}" if key else ""
    print(f"Payable Studio on http://127.0.0.1:{args.port} (node {args.node}, worker {args.worker}{gateway})",
          flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=args.log_level)
    return 0


def register(sub) -> None:
    studio = sub.add_parser("studio", help="the web app: explorer, playground, earnings, DataNets, ModelFactory, "
                                           "models")
    studio.add_argument("--node", default=DEFAULT_NODE, help=f"node gRPC address (default {DEFAULT_NODE})")
    studio.add_argument("--worker", default="127.0.0.1:9955", help="worker gRPC address (default 127.0.0.1:9955)")
    studio.add_argument("--port", type=int, default=8080)
    studio.add_argument("--gateway-key", default="", help="also serve the OpenAI-compatible /v1 routes, paying with "
                                                         "this key (a key file, //Name or a hex seed)")
    studio.add_argument("--max-fee", default="", help="the gateway's spending cap per call, in OPEN")
    studio.add_argument("--log-level", default="warning")
    studio.set_defaults(func=cmd_studio)

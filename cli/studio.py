"""`payable studio`: the web app (explorer, playground, earnings, DataNets, ModelFactory, models) on 127.0.0.1."""

from __future__ import annotations

from runtime.codec import parse_open

from .common import DEFAULT_NODE, keypair_from


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


def cmd_studio(args) -> int:
    key = keypair_from(args.gateway_key) if args.gateway_key else None

    def build():
        from studio.app import create_app

        return create_app(args.node, args.worker, key, parse_open(args.max_fee) if args.max_fee else None)

    gateway = f"; OpenAI-compatible /v1 paying as {key.address}" if key else ""
    return serve_web(args, build, f"Payable Studio on http://127.0.0.1:{args.port} (node {args.node}, worker "
                                  f"{args.worker}{gateway})")


def register(sub) -> None:
    studio = sub.add_parser("studio", help="the web app: explorer, playground, earnings, DataNets, ModelFactory, "
                                           "models")
    web_arguments(studio, 8080)
    studio.add_argument("--worker", default="127.0.0.1:9955", help="worker gRPC address (default 127.0.0.1:9955)")
    studio.add_argument("--gateway-key", default="", help="also serve the OpenAI-compatible /v1 routes, paying with "
                                                         "this key (a key file, //Name or a hex seed)")
    studio.add_argument("--max-fee", default="", help="the gateway's spending cap per call, in OPEN")
    studio.set_defaults(func=cmd_studio)

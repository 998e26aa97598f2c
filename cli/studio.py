"""`payable studio`: the web app (DataNets, ModelFactory, models) on 127.0.0.1."""

from __future__ import annotations

from .common import DEFAULT_NODE


def cmd_studio(args) -> int:
    try:
        import uvicorn

        from studio.app import create_app
    except ImportError as exc:
        raise ValueError(f"the studio needs its extra installed: pip install -e '.[studio]' ({exc})") from exc
    try:
        app = create_app(args.node, args.worker)
    except RuntimeError as exc:
        raise ValueError(str(exc)) from exc
    print(f"Payable Studio on http://127.0.0.1:{args.port} (node {args.node}, worker {args.worker})", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=args.log_level)
    return 0


def register(sub) -> None:
    studio = sub.add_parser("studio", help="the web app: DataNets, ModelFactory, models")
    studio.add_argument("--node", default=DEFAULT_NODE, help=f"node gRPC address (default {DEFAULT_NODE})")
    studio.add_argument("--worker", default="127.0.0.1:9955", help="worker gRPC address (default 127.0.0.1:9955)")
    studio.add_argument("--port", type=int, default=8080)
    studio.add_argument("--log-level", default="warning")
    studio.set_defaults(func=cmd_studio)

"""Payable Studio's server: FastAPI, server-rendered Jinja pages with htmx swaps, a small JSON API for the
page's script. It is a client like any other - the node and the worker over gRPC - and holds no keys.

Pages: the explorer (blocks live, block, extrinsic, account with balances proven in the browser, search),
the playground (pay, stream, whose data spoke, where the fee went), earnings (contributor, model, DataNet),
DataNets (list, create, upload with progress, curate, snapshots, access), ModelFactory (base and
snapshots, mapping with a live preview, hyper-parameters with defaults and the estimate, jobs with a
live loss chart that survives reloads, evaluation, a prompt box, export, publish), Models (what the
chain records), Keys (dev accounts on a dev chain, or an imported key, held in the browser only); with a
gateway key, the OpenAI-compatible /v1 routes too.

This module only assembles: the node client, the channel to the worker and the templates are made once
and kept on `app.state` (the routers get them as dependencies, `studio.deps`); each domain's routes are a
router of `studio.routes`; errors get one answer each (a page for a browser, JSON for the API); the
lifespan closes the connections when the server stops.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import Keypair, decode_address, encode_address
from sdk.client import Client, ClientError
from sdk.grpcserver import MESSAGE_OPTIONS

from . import prompt_tokens, wallet
from .gateway import API_KEY_ENV, Access, Budget, Gateway
from .guard import GatewayCors, SiteGuard, SiteGuardMiddleware, on_gateway
from .openai_protocol import GatewayError
from .routes import datanets, earnings, explorer, keys, modelfactory, models, playground, site
from .routes import gateway as gateway_routes
from .routes.site import missing_assets

HERE = Path(__file__).parent
ROUTERS = (site.router, keys.router, explorer.router, playground.router, earnings.router, datanets.router,
           models.router, modelfactory.router)


def is_address(text: str) -> bool:
    """An account's text form (base58 with checksum), for linking decoded fields to their account page."""
    try:
        return not all(c in "0123456789abcdef" for c in text) and len(decode_address(text)) == 32
    except ValueError:
        return False


def studio_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["address"] = lambda b: encode_address(b) if b else ""
    templates.env.tests["address"] = is_address
    templates.env.filters["short"] = lambda b: (b.hex() if isinstance(b, bytes) else str(b))[:16] + "…"
    return templates


NODE_DOWN = ("UNAVAILABLE", "DEADLINE_EXCEEDED")


def client_status(exc: ClientError) -> int:
    """The node's refusal as an HTTP status: not found 404, unsigned 401, not allowed 403, unreachable 503,
    anything else 400."""
    code = str(exc).split(":", 1)[0]
    if code in NODE_DOWN or "no node answered" in str(exc):
        return 503
    return {"NOT_FOUND": 404, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403}.get(code, 400)


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not the page's script asking the API)."""
    return not request.url.path.startswith(("/api/", "/v1/")) and "text/html" in request.headers.get("accept", "")


def create_app(node: str, worker: str, gateway_key: Keypair | None = None, spend_cap: int | None = None,
               gateway_access: Access | None = None, gateway_budget: Budget | None = None,
               site_access: Access | None = None) -> FastAPI:
    """The studio; with `gateway_key` it also serves the OpenAI-compatible /v1 routes, paying with that key
    (at most `spend_cap` per call, within `gateway_budget`), to the callers `gateway_access` allows: by default
    those with the API key in $PAYABLE_GATEWAY_API_KEY when it is set, and no browser page of another origin.
    Its own routes answer the Hosts of `site_access` (None: any) and change nothing for a page of another
    origin (`studio.guard`)."""
    if missing := missing_assets():
        raise RuntimeError(f"Studio's front-end packages are not installed ({', '.join(missing)}): run "
                           f"`npm ci --prefix studio` (make does it)")
    client = Client(node, timeout=600)
    channel = grpc.insecure_channel(worker, options=MESSAGE_OPTIONS)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        prompt_tokens.warm_up()
        yield
        channel.close()
        client.close()

    app = FastAPI(title="Payable Studio", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.client, app.state.channel = client, channel
    app.state.finetune = worker_pb2_grpc.FinetuneStub(channel)
    app.state.templates = templates = studio_templates()
    guard = SiteGuard(site_access if site_access is not None else Access(api_key=None))
    templates.env.globals["csrf_token"] = guard.token
    app.add_middleware(SiteGuardMiddleware, guard=guard)
    if gateway_access is None:
        gateway_access = Access(api_key=os.environ.get(API_KEY_ENV) or None)
    app.state.gateway = (Gateway(client, gateway_key, spend_cap, gateway_access, gateway_budget)
                         if gateway_key is not None else None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    if gateway_key is not None:
        app.include_router(gateway_routes.router)
        app.add_exception_handler(GatewayError, gateway_error)
        if gateway_access.origins:
            app.add_middleware(GatewayCors, origins=sorted(gateway_access.origins))

    error_pages(app, templates, node, gateway=gateway_key is not None)
    return app


def error_pages(app: FastAPI, templates: Jinja2Templates, node: str, gateway: bool = False) -> None:
    """Every error gets one answer: a page that says what went wrong and what to do for a browser asking for
    a page, JSON for the page's script and the API - an unknown id, a malformed address, a refusal of the
    node or the wallet, a node that does not answer; with the `gateway` mounted, an unknown path or method
    under /v1 in OpenAI's error shape, as the gateway on its own answers."""

    def answer(request: Request, status: int, detail) -> Response:
        """A page answers with a page that says what went wrong and what to do; the API with JSON."""
        if not wants_page(request):
            return JSONResponse({"detail": detail}, status_code=status)
        return templates.TemplateResponse(request, "error.html", {"chain": None, "status": status,
                                                                  "detail": detail}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if gateway and on_gateway(request.url.path):
            return await openai_http_error(request, exc)
        return answer(request, exc.status_code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        """A page's malformed address (`/requests/abc`) is a page that does not exist; the API keeps
        FastAPI's 422 with every problem."""
        if not wants_page(request):
            return await request_validation_exception_handler(request, exc)
        wrong = ", ".join(f"{e['loc'][-1]} {e['input']!r}" for e in exc.errors() if e["loc"][0] == "path")
        return answer(request, 404, f"no such page: {wrong or request.url.path[:200]} is not valid here")

    @app.exception_handler(ClientError)
    async def client_error(request: Request, exc: ClientError):
        status = client_status(exc)
        detail = (f"the node at {node} does not answer ({exc}); start it, or point the studio at another "
                  f"with --node" if status == 503 else str(exc))
        return answer(request, status, detail)

    @app.exception_handler(wallet.WalletError)
    async def wallet_error(request: Request, exc: wallet.WalletError):
        return answer(request, 400, str(exc))


async def gateway_error(_request: Request, exc: Exception) -> JSONResponse:
    """A refusal raised before a route ran (the caller checks) in OpenAI's error shape."""
    assert isinstance(exc, GatewayError)
    return exc.response()


def create_gateway_app(node: str, key: Keypair, spend_cap: int | None = None, access: Access | None = None,
                       budget: Budget | None = None) -> FastAPI:
    """The gateway on its own (`payable gateway`): the /v1 routes and nothing else, to the callers `access`
    allows (by default: only those with the API key in $PAYABLE_GATEWAY_API_KEY, any Host; the CLI passes
    the loopback hosts of its port), spending at most `spend_cap` per call and within `budget`. Unknown
    paths and methods answer in OpenAI's error shape too; with allowed origins, browsers get CORS headers."""
    if access is None:
        access = Access(api_key=os.environ.get(API_KEY_ENV) or None)
    client = Client(node, timeout=600)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        prompt_tokens.warm_up()
        yield
        client.close()

    app = FastAPI(title="Payable OpenAI-compatible gateway", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.client = client
    app.state.gateway = Gateway(client, key, spend_cap, access, budget)
    app.include_router(gateway_routes.router)
    app.add_exception_handler(GatewayError, gateway_error)
    if access.origins:
        app.add_middleware(GatewayCors, origins=sorted(access.origins))

    app.add_exception_handler(HTTPException, openai_http_error)
    app.add_exception_handler(StarletteHTTPException, openai_http_error)
    return app


async def openai_http_error(request: Request, exc: Exception) -> JSONResponse:
    """404 and 405 (and any other HTTP error) of the gateway's routes in OpenAI's error shape."""
    assert isinstance(exc, StarletteHTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    message = {404: f"Unknown path {request.url.path[:200]!r}: the gateway serves /v1/models, /v1/completions "
                    "and /v1/chat/completions",
               405: f"{request.method} is not allowed on {request.url.path[:200]!r}"}.get(exc.status_code,
                                                                                        str(exc.detail))
    response = GatewayError(exc.status_code, message, code=kind).response()
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response

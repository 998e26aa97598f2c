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
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import Keypair, decode_address, encode_address
from sdk.client import Client, ClientError
from sdk.grpcserver import MESSAGE_OPTIONS

from . import wallet
from .gateway import Gateway
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


def create_app(node: str, worker: str, gateway_key: Keypair | None = None, spend_cap: int | None = None) -> FastAPI:
    """The studio; with `gateway_key` it also serves the OpenAI-compatible /v1 routes, paying with that key
    (at most `spend_cap` per call)."""
    if missing := missing_assets():
        raise RuntimeError(f"Studio's front-end packages are not installed ({', '.join(missing)}): run "
                           f"`npm ci --prefix studio` (make does it)")
    client = Client(node, timeout=600)
    channel = grpc.insecure_channel(worker, options=MESSAGE_OPTIONS)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        channel.close()
        client.close()

    app = FastAPI(title="Payable Studio", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.client, app.state.channel = client, channel
    app.state.finetune = worker_pb2_grpc.FinetuneStub(channel)
    app.state.templates = templates = studio_templates()
    app.state.gateway = Gateway(client, gateway_key, spend_cap) if gateway_key is not None else None
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    if gateway_key is not None:
        app.include_router(gateway_routes.router)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        """A page answers with a page that says what went wrong and what to do; the API with JSON."""
        if request.url.path.startswith(("/api/", "/v1/")) or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return templates.TemplateResponse(request, "error.html", {"chain": None, "status": exc.status_code,
                                                                  "detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(ClientError)
    async def client_error(request: Request, exc: ClientError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(wallet.WalletError)
    async def wallet_error(request: Request, exc: wallet.WalletError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    return app


def create_gateway_app(node: str, key: Keypair, spend_cap: int | None = None) -> FastAPI:
    """The gateway on its own (`payable gateway`): the /v1 routes and nothing else."""
    client = Client(node, timeout=600)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        client.close()

    app = FastAPI(title="Payable OpenAI-compatible gateway", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.client = client
    app.state.gateway = Gateway(client, key, spend_cap)
    app.include_router(gateway_routes.router)
    return app

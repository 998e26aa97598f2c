"""What the studio's routers depend on, as FastAPI dependencies: the node client, the worker's ModelFactory
client, the templates, a page renderer and the gateway.

`create_app` (`studio.app`) builds each once and keeps it on `app.state`; a route names what it needs by
type (`client: NodeClient`, `page: Page`, ...) and FastAPI hands it over, so no router holds a closure over
the app's objects and a test can override any of them (`app.dependency_overrides`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from payable.worker.v1 import worker_pb2_grpc
from sdk.client import Client

from .gateway import Gateway

U64_MAX = (1 << 64) - 1
# an id, block number or position as the chain counts them (u64): one outside that range - negative, or
# more than 20 digits - is a page that does not exist (404) or the API's 422 naming it, never a 500
ChainNumber = Annotated[int, Path(ge=0, le=U64_MAX)]
ChainPosition = Annotated[int, Query(ge=0, le=U64_MAX)]


async def node_client(request: Request) -> Client:
    """The node's gRPC client (one per app, shared by every request)."""
    return request.app.state.client


async def finetune_client(request: Request) -> worker_pb2_grpc.FinetuneStub:
    """The worker's ModelFactory service (`Finetune`) over the app's one channel to the worker."""
    return request.app.state.finetune


async def templates(request: Request) -> Jinja2Templates:
    """The Jinja templates with the studio's filters (`address`, `short`) and tests (`address`)."""
    return request.app.state.templates


async def gateway(request: Request) -> Gateway:
    """The OpenAI-compatible gateway's paying state (only where the app was built with a gateway key)."""
    return request.app.state.gateway


class PageRenderer:
    """Renders a full page: the template with the chain's name and height (for the header) and the route's
    own context. The chain is asked at render time, after the route did its work."""

    def __init__(self, request: Request, client: Client, templates: Jinja2Templates):
        self.request, self.client, self.templates = request, client, templates

    def __call__(self, name: str, **context: Any) -> HTMLResponse:
        info = self.client.chain_info()
        return self.templates.TemplateResponse(self.request, name, {"chain": info, **context})


NodeClient = Annotated[Client, Depends(node_client)]
FinetuneClient = Annotated[worker_pb2_grpc.FinetuneStub, Depends(finetune_client)]
Templates = Annotated[Jinja2Templates, Depends(templates)]
GatewayState = Annotated[Gateway, Depends(gateway)]


async def page(request: Request, client: NodeClient, templates: Templates) -> PageRenderer:
    return PageRenderer(request, client, templates)


Page = Annotated[PageRenderer, Depends(page)]

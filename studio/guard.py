"""Who may use the studio's own routes: a page of another origin must not start or abort a fine-tuning job,
store blobs or sign through it, and a rebound DNS name must not reach it at all.

The studio holds no keys, but its state-changing routes act on the worker and the node for whoever calls
them, and a browser sends a "simple" cross-site POST (a form, `text/plain`) without asking first. So:

- every request's Host must be one the studio answers at (127.0.0.1:PORT, localhost:PORT, `--allowed-host`):
  a DNS-rebinding page gets a 400 before any route runs;
- a state-changing request (POST, PUT, PATCH, DELETE) from a browser page of another origin (its `Origin`
  header, or `Sec-Fetch-Site: cross-site`) is refused with 403 unless that origin is allowed;
- and it must be a JSON body (`Content-Type: application/json`, which no cross-site page can send without
  a CORS preflight the studio never grants) or carry the studio's CSRF token (`X-CSRF-Token`), which only
  its own pages know: it is in each page's `<meta name="csrf-token">`, and the page's script and htmx send it.

The OpenAI-compatible /v1 routes are not checked here: the gateway's `Access` guards them (API key too).
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, field

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .gateway import JSON_TYPES, Access

CSRF_HEADER = "x-csrf-token"
# the headers the guard decides on: one of each, or the request is refused - the guard and the routes behind
# it (Starlette reads a repeated header's first value) would otherwise each read another
DECIDING = ("host", "origin", "content-type", "sec-fetch-site", CSRF_HEADER)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A body read whole is refused past this (413) as it arrives (`body_within`): far above any form or JSON the
# studio's routes take (refused here, before a route reads it) and any prompt a served base's context holds
# (refused by /v1 itself, in OpenAI's shape: routes/gateway.py). An upload streams its own to disk, to the
# node's blob limit (routes/datanets.py).
MAX_BODY = 8 << 20
STREAMS_ITS_BODY = frozenset({"/api/upload"})


def on_gateway(path: str) -> bool:
    """Whether `path` is the OpenAI-compatible gateway's (/v1): its callers are checked by the gateway's own
    `Access` (an API key, allowed origins), not by the studio's site guard."""
    return path == "/v1" or path.startswith("/v1/")


@dataclass(frozen=True)
class SiteGuard:
    """The studio's rule for its own routes: `access` (hosts and extra origins; its API key is not used) and
    the CSRF token its pages carry (random per server run)."""

    access: Access
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def refusal(self, method: str, scheme: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, why) when the request may not run, None when it may."""
        host = headers.get("host", "").lower()
        if self.access.hosts is not None and host not in self.access.hosts:
            return 400, (f"Host {host[:100]!r} is not one this studio answers at "
                         f"({', '.join(sorted(self.access.hosts))}; add names with --allowed-host)")
        if method not in UNSAFE:
            return None
        origin = headers.get("origin")
        own = f"{scheme}://{host}"
        if origin is not None and origin.rstrip("/").lower() not in self.access.origins | {own}:
            return 403, f"a page of {origin[:100]!r} may not change anything through this studio"
        if origin is None and headers.get("sec-fetch-site") == "cross-site":
            return 403, "a page of another site may not change anything through this studio"
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in JSON_TYPES or hmac.compare_digest(headers.get(CSRF_HEADER, "").encode(), self.token.encode()):
            return None
        return 403, "this request needs a JSON body or the studio's CSRF token (reload the page)"


# No page of the studio may be shown inside another's frame: a page on another local port (the same site
# as 127.0.0.1) framed the job page invisibly over a button of its own, and one click aborted the user's
# job with the key the framed studio held.
NOT_FRAMED = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]


class SiteGuardMiddleware:
    """`SiteGuard` in front of every route but /v1, and `NOT_FRAMED` on each of their answers (a plain ASGI
    middleware: streamed responses pass as they are)."""

    def __init__(self, app: ASGIApp, guard: SiteGuard):
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or on_gateway(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def not_framed(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *NOT_FRAMED]}
            await send(message)

        names = [k.decode("latin-1").lower() for k, _ in scope["headers"]]
        headers = dict(zip(names, (v.decode("latin-1") for _, v in scope["headers"]), strict=True))
        doubled = [name for name in DECIDING if names.count(name) > 1]
        refused = (400, f"the request carries more than one {doubled[0]} header") if doubled else \
            self.guard.refusal(scope["method"], scope.get("scheme", "http"), headers)
        if refused is None and scope["method"] in UNSAFE and scope["path"] not in STREAMS_ITS_BODY:
            received = await body_within(receive, headers.get("content-length", ""))
            if received is None:
                refused = 413, f"the body is over {MAX_BODY >> 20} MiB: nothing the studio takes is that large"
            else:
                receive = _replaying(received, receive)
        if refused is None:
            await self.app(scope, receive, not_framed)
            return
        status, why = refused
        body = json.dumps({"detail": why}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


async def body_within(receive: Receive, declared: str) -> list[dict] | None:
    """The request's body messages as they came (ASGI `receive`; `declared`: its Content-Length header, or
    empty), or None once the body passes MAX_BODY (declared, or as it arrives: nothing past the limit is
    read)."""
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # the client went away: the route hears it
            return messages
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            return None
        if not message.get("more_body"):
            return messages


def _replaying(messages: list[dict], receive: Receive) -> Receive:
    """`receive` with the messages read already given first, in order."""
    pending = iter(messages)

    async def replayed() -> dict:
        return next(pending, None) or await receive()

    return replayed


class GatewayCors:
    """CORS headers for the /v1 routes alone, for the origins allowed to call them (the studio's own routes
    stay with their own origin), and their preflights answered here - before a route could refuse OPTIONS.
    Any request header is allowed (OpenAI's browser client sends its own `x-stainless-*` ones): the API key
    and the origin are what the gateway checks."""

    def __init__(self, app: ASGIApp, origins: list[str]):
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and on_gateway(scope["path"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

"""What stands between the network and the endpoints: the request body limit, the trusted
proxies, and the per-process resources that keep strangers' requests cheap (the bounded argon2
pool and the throttles). ``install(app, settings)`` wires them; see docs/architecture.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from dialgate.adapters.passwords import HashPool
from dialgate.adapters.ratelimit import Throttle
from dialgate.config import Settings

# The operator console's rate-deck upload (entrypoints/admin/console.py), the only path whose
# body is a whole file.
DECK_UPLOAD_PATH = "/admin/rates/review"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body outgrows the limit while it is read. An
    HTTPException, so that body parsers that turn other errors into "malformed" let it through
    and the app's handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit


def _too_large_body(limit: int) -> bytes:
    return orjson.dumps(
        {
            "type": "about:blank",
            "title": "Content Too Large",
            "status": 413,
            "detail": f"the request body is larger than {limit} bytes",
            "code": "body_too_large",
        }
    )


def _too_large(limit: int) -> list[Message]:
    body = _too_large_body(limit)
    return [
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


class BodyLimit:
    """Refuse bodies over ``limit`` bytes before anything parses them: at once when the
    Content-Length says so, and while reading when the body is chunked or lies about its size.
    Nothing beyond the limit is ever buffered. ``larger`` gives a few exact paths (the console's
    deck upload) their own, larger limit."""

    def __init__(self, app: ASGIApp, limit: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = limit
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.default_limit)
        await self._limited(limit, scope, receive, send)

    async def _limited(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1  # unreadable: refuse rather than trust
                if declared > limit:
                    for message in _too_large(limit):
                        await send(message)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            for message in _too_large(limit):
                await send(message)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the guards to ``app`` (call after every other middleware: these must be outermost)."""
    app.state.hash_pool = HashPool(
        settings.hash_workers, settings.hash_queue, settings.hash_nice
    )
    app.state.throttle = Throttle(settings.rate_limit_storage)
    proxies = settings.trusted_proxy_list()
    if proxies:
        # uvicorn's own middleware, given only the configured proxies: X-Forwarded-For is read
        # from the right, skipping trusted hops, so a client cannot prepend a fake address.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        larger={DECK_UPLOAD_PATH: settings.max_deck_upload_bytes},
    )

    async def on_too_large(request: Request, exc: Exception) -> Response:
        # Raised while a route read the body: the same answer as the middleware's.
        limit = exc.limit if isinstance(exc, BodyTooLarge) else settings.max_body_bytes
        return Response(
            _too_large_body(limit),
            status_code=413,
            media_type="application/problem+json",
            headers={"Connection": "close"},
        )

    app.add_exception_handler(BodyTooLarge, on_too_large)


def hash_pool(request: Request) -> HashPool:
    return cast(HashPool, request.app.state.hash_pool)


def throttle(request: Request) -> Throttle:
    return cast(Throttle, request.app.state.throttle)


def client_ip(request: Request) -> str | None:
    """The caller's address (already the forwarded one when it came through a trusted proxy)."""
    return request.client.host if request.client else None

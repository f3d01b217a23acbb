"""``POST /switch/v1/authorize`` without the FastAPI stack, for the calls that need nothing else.

Kamailio asks this endpoint about every call. Through FastAPI (routing across every API and
portal route, dependency injection, response encoding) one request cost about 0.9 ms of CPU,
while the decision itself takes about 10 us: the framework, not the policy, capped the calls per
second a POP could place. This ASGI middleware answers the common case itself:

- the switch token was already checked (``SwitchTokenCache.peek``, no database), and
- the body is valid (the same ``AuthorizeIn`` model and ``answer_authorize`` as the route).

Everything else (no or an unknown token, a token whose check expired, malformed JSON, a value
the model or ``AuthorizeRequest.checked`` refuses, other paths) goes on to the FastAPI route
with the body replayed, so each error has one definition: the route's problem+json.
"""

from __future__ import annotations

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dialgate.domain.errors import ValidationFailed
from dialgate.entrypoints.api.deps import app_switch_token_cache, switch_token
from dialgate.entrypoints.policy_cache import app_policy_cache
from dialgate.entrypoints.switch.http import AuthorizeIn, answer_authorize

PATH = "/switch/v1/authorize"
MAX_BODY = 16 * 1024  # a real request is about 200 bytes; bigger ones take the slow path
_JSON_HEADERS = [(b"content-type", b"application/json")]


class SwitchFastPath:
    """ASGI middleware: serve valid authorize requests from known switches directly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        answer = self._answer(scope, body) if complete and len(body) <= MAX_BODY else None
        if answer is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            *_JSON_HEADERS, (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})

    def _answer(self, scope: Scope, body: bytes) -> bytes | None:
        """The encoded answer, or None when the FastAPI route must handle the request."""
        headers = scope["headers"]
        if not _is_json(headers):  # the route answers other content types (422)
            return None
        token = switch_token(headers)
        app = scope["app"]
        if token is None or app_switch_token_cache(app).peek(token) is None:
            return None
        try:
            request = AuthorizeIn.model_validate_json(body)
            return orjson.dumps(answer_authorize(app_policy_cache(app), request))
        except (ValidationError, ValidationFailed):
            return None


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            media_type = value.partition(b";")[0].strip().lower()
            return media_type == b"application/json" or media_type.endswith(b"+json")
    return False


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, read until it ends or passes ``MAX_BODY``; ``complete`` is false
    when more is still to come (or the client went away)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # disconnected: let the app see it
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_BODY:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that first hands back what was already read, then the rest."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replayed

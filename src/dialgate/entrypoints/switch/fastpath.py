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

``POST /switch/v1/cdrs`` (Kamailio's call-record batch, every 100 ms of a busy POP) is served
here too, for the same reason: routing, dependency injection and response encoding cost about
1.2 ms of CPU per batch on the project's loaded 2-core box (a sixth of a one-record batch;
``benchmarks/cdr_batches.py``), a fixed cost paid ten times a second per POP (issue #18). A
known token and a JSON array of at most ``MAX_CDR_BATCH`` objects go straight to the route's
own function (``http.record_cdrs``: the same transaction, metrics and log lines) in
the thread pool, as FastAPI would run it; anything else goes to the route. The function's own
error (503: the database refused the batch and kept nothing) is answered with the REST API's
problem+json renderer, as the route's would be.
"""

from __future__ import annotations

import orjson
from fastapi import HTTPException
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dialgate.domain.errors import ValidationFailed
from dialgate.entrypoints.api import problems
from dialgate.entrypoints.api.deps import app_switch_token_cache, switch_token
from dialgate.entrypoints.policy_cache import app_policy_cache
from dialgate.entrypoints.switch.http import (
    MAX_CDR_BATCH,
    AuthorizeIn,
    answer_authorize,
    record_cdrs,
)

PATH = "/switch/v1/authorize"
MAX_BODY = 16 * 1024  # a real request is about 200 bytes; bigger ones take the slow path
CDRS_PATH = "/switch/v1/cdrs"
MAX_CDRS_BODY = 1024 * 1024  # a record is about 300 bytes: MAX_CDR_BATCH of them fit
_JSON_HEADERS = [(b"content-type", b"application/json")]


class SwitchFastPath:
    """ASGI middleware: serve valid authorize requests from known switches directly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else None
        if (path != PATH and path != CDRS_PATH) or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        limit = MAX_BODY if path == PATH else MAX_CDRS_BODY
        body, complete = await _read_body(receive, limit)
        answer: bytes | Response | None = None
        if complete and len(body) <= limit:
            answer = self._answer(scope, body) if path == PATH else await self._record(scope, body)
        if isinstance(answer, Response):
            await answer(scope, receive, send)
            return
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

    async def _record(self, scope: Scope, body: bytes) -> bytes | Response | None:
        """The answer to a call-record batch, or None when the FastAPI route must handle it."""
        headers = scope["headers"]
        if not _is_json(headers):
            return None
        token = switch_token(headers)
        app = scope["app"]
        key = None if token is None else app_switch_token_cache(app).peek(token)
        if key is None:
            return None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        # The route's own body rules (list[dict], Body(max_length=MAX_CDR_BATCH)); anything
        # else is its 422.
        if (type(payload) is not list or len(payload) > MAX_CDR_BATCH
                or any(type(record) is not dict for record in payload)):
            return None
        try:
            result = await run_in_threadpool(record_cdrs, app.state.db, payload, key)
        except HTTPException as exc:  # logged by record_cdrs; nothing of the batch was kept
            return problems.problem(exc.status_code, detail=str(exc.detail),
                                    headers=dict(exc.headers) if exc.headers else None)
        return orjson.dumps(result)


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            media_type = value.partition(b";")[0].strip().lower()
            return media_type == b"application/json" or media_type.endswith(b"+json")
    return False


async def _read_body(receive: Receive, limit: int = MAX_BODY) -> tuple[bytes, bool]:
    """The request body, read until it ends or passes ``limit``; ``complete`` is false
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
        if size > limit:
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

"""What operators' tools read over HTTP: ``/healthz``, ``/readyz`` and ``/metrics``, plus the
middleware that gives each request an id and counts it.

- ``/healthz``: the process answers (no database; a load balancer's liveness probe).
- ``/readyz``: 200 only when the database answers, the policy snapshots' shared data is loaded
  and the policy change feed was read recently (``DIALGATE_FEED_STALE_AFTER``); else 503 and
  the failed checks.
- ``/metrics``: Prometheus text, every worker process added up (``adapters.metrics``). It needs
  ``Authorization: Bearer $DIALGATE_METRICS_TOKEN``; without a configured token it is not
  served at all (404), so metrics are never public by accident.

``install(app)`` adds all of it; it must be the last middleware added, so that requests the
switch fast path answers are counted too.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dialgate import __version__, logs
from dialgate.adapters import metrics
from dialgate.adapters.db.models import OutboxRow
from dialgate.config import Settings
from dialgate.entrypoints.switch.fastpath import CDRS_PATH, PATH
from dialgate.services.uow import Database

log = logging.getLogger("dialgate.http")
router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (nothing else is checked: see ``/readyz``)."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz", responses={503: {"description": "Not ready; the failed checks"}})
def readyz(request: Request) -> JSONResponse:
    """Ready to serve calls: database reachable, snapshots loaded, policy feed fresh."""
    app = request.app
    settings: Settings = app.state.settings
    checks: dict[str, str] = {}
    try:
        with app.state.db.uow(write=False) as uow:
            uow.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    cache = getattr(app.state, "policy_cache", None)
    if cache is None or not cache.warmed:
        checks["snapshots"] = "not loaded yet"
    else:
        checks["snapshots"] = "ok"
    age = cache.feed_age() if cache is not None else float("inf")
    if age <= settings.feed_stale_after:
        checks["policy_feed"] = "ok"
    else:
        read = "never read" if age == float("inf") else f"last read {age:.1f} s ago"
        checks["policy_feed"] = f"stale ({read})"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unready", "checks": checks},
        status_code=200 if ready else 503,
    )


def _outbox(db: Database) -> Iterable[GaugeMetricFamily]:
    try:
        with db.uow(write=False) as uow:
            depth, oldest = uow.session.execute(
                select(func.count(OutboxRow.id), func.min(OutboxRow.created_at)).where(
                    OutboxRow.sent_at.is_(None)
                )
            ).one()
    except SQLAlchemyError:
        return metrics.outbox_families(None, None)
    return metrics.outbox_families(int(depth), oldest)


@router.get("/metrics", include_in_schema=False)
def metrics_endpoint(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if not token:
        return Response("metrics are off: set DIALGATE_METRICS_TOKEN\n", status_code=404)
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response("a metrics token is required\n", status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})
    db: Database = request.app.state.db
    return Response(metrics.render(lambda: _outbox(db)), media_type=CONTENT_TYPE_LATEST)


class OpsMiddleware:
    """Request id (``X-Request-ID`` in and out, and on every log line of the request) and the
    per-request count by route template, method and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._ids = itertools.count(1)
        self._prefix = f"{os.getpid():x}-{int(time.time()):x}-"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
                break
        if not rid:
            rid = self._prefix + str(next(self._ids))
        header = (b"x-request-id", rid.encode("latin-1"))
        token = logs.request_id.set(rid)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)
            tally = metrics.http
            if tally is not None:
                tally.record(_route(scope), scope["method"], status)


# The paths the switch fast path answers itself (no route in the scope): their own labels.
FAST_PATHS = frozenset({PATH, CDRS_PATH})


def _route(scope: Scope) -> str:
    """The matched route's template (``/v1/dids/{did}``), never the raw path: label values
    must be a small set."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope["path"] in FAST_PATHS:  # answered by the switch fast path, before routing
        return str(scope["path"])
    return "unmatched"


def install(app: FastAPI, settings: Settings) -> None:
    """Logs, the ops routes, the middleware and the metrics flusher of one app/process."""
    logs.configure(settings.log_level, settings.log_format, flush_ms=settings.log_flush_ms)
    if settings.metrics_enabled:
        metrics.enable()
        metrics.start_flusher()
    else:
        metrics.disable()
    app.include_router(router)
    app.add_middleware(OpsMiddleware)

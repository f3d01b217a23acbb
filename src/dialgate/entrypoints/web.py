"""The HTTP application: one ASGI app carrying the REST API, the VoIP.ms facade, the switch
endpoints and the portal (each mounted by its own entrypoint package).

``settings.role`` chooses what one process serves: ``switch`` (only ``/switch/v1``, what
Kamailio calls), ``web`` (everything else) or ``all``. Production runs the two roles as
separate processes, so the CPU a flood costs the web side is never the switch's. ``records``
serves ``/switch/v1`` too but never connects to evapi: Kamailio posts its call records there
(``--records-url``), at a lower CPU priority than the decisions calls wait on."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from dialgate import __version__, bootstrap
from dialgate.adapters.passwords import HashPool
from dialgate.config import Settings, get_settings
from dialgate.entrypoints import admin, api, api_docs, guards, ops, portal, voipms
from dialgate.entrypoints.api import problems
from dialgate.entrypoints.api.deps import app_switch_token_cache
from dialgate.entrypoints.policy_cache import app_policy_cache
from dialgate.entrypoints.switch import http as switch_http
from dialgate.entrypoints.switch.evapi import Authorizer, EvapiClients, parse_targets
from dialgate.entrypoints.switch.fastpath import SwitchFastPath
from dialgate.services.decision_log import DecisionLog

log = logging.getLogger(__name__)


def _start_evapi(app: FastAPI, settings: Settings) -> EvapiClients | None:
    """Connect to the Kamailios of ``DIALGATE_SWITCH_EVAPI`` (switch role only)."""
    if not settings.switch_evapi or settings.role not in ("all", "switch"):
        return None
    authorizer = Authorizer(app_policy_cache(app), app_switch_token_cache(app))
    clients = EvapiClients(parse_targets(settings.switch_evapi), authorizer)
    clients.start()
    return clients


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = bootstrap.database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.hash_pool.closed:  # the app is being started again (tests do)
            old = app.state.hash_pool
            app.state.hash_pool = HashPool(old.workers, old.queue, old.nice)
        switch_http.warm_up(app)
        # What start-up built (numbering plan, snapshots, metadata: ~170k objects) lives as long
        # as the process; a full collection would walk it all (~150 ms, a stall in the middle
        # of calls). Frozen, the collector only looks at what requests create. (No collect()
        # first: it would cost those 150 ms at every start, and start-up garbage is small.)
        gc.freeze()
        cache = None
        try:
            cache = app_policy_cache(app)
            cache.start_refresher()
        except SQLAlchemyError:  # not migrated yet: requests poll the feed themselves later
            log.warning("policy cache refresher not started", exc_info=True)
        evapi = _start_evapi(app, settings)
        decisions = DecisionLog(db, interval=settings.decision_flush_seconds)
        decisions.start()
        yield
        decisions.stop()  # the last counts of this worker
        if evapi is not None:
            await evapi.stop()
        if cache is not None:
            cache.stop_refresher()
        app.state.hash_pool.shutdown()
        db.dispose()

    # Dialgate sets up no OpenTelemetry providers; left on, FastAPI's native telemetry would
    # look for them on every request (about a third of a switch request's Python time).
    app = FastAPI(
        title="Dialgate" if settings.role == "all" else f"Dialgate ({settings.role})",
        version=__version__,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # served offline by api_docs
        redoc_url=None,
    )
    app.state.db = db
    app.state.settings = settings

    if settings.role in ("all", "web"):
        api.mount(app)
    else:
        problems.install(app)  # the switch endpoints' errors are problem+json too
    if settings.role in ("all", "switch", "records"):
        switch_http.mount(app)
        app.add_middleware(SwitchFastPath)  # the per-call request skips routing and DI
    if settings.role in ("all", "web"):
        voipms.mount(app)
        portal.install(app)
        admin.mount(app)
        api_docs.install(app)
    # /healthz, /readyz and /metrics in every role; its middleware must see the fast path's
    # requests too, so it goes outside it.
    ops.install(app, settings)
    guards.install(app, settings)  # last: the body limit must be the outermost layer
    return app

"""The HTTP application: one ASGI app carrying the REST API, the VoIP.ms facade, the switch
endpoints and the portal (each mounted by its own entrypoint package)."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from dialgate import __version__, bootstrap
from dialgate.config import Settings, get_settings
from dialgate.entrypoints import admin, api, api_docs, ops, portal, voipms
from dialgate.entrypoints.policy_cache import app_policy_cache
from dialgate.entrypoints.switch import http as switch_http
from dialgate.entrypoints.switch.fastpath import SwitchFastPath

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = bootstrap.database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
        yield
        if cache is not None:
            cache.stop_refresher()
        db.dispose()

    # Dialgate sets up no OpenTelemetry providers; left on, FastAPI's native telemetry would
    # look for them on every request (about a third of a switch request's Python time).
    app = FastAPI(
        title="Dialgate",
        version=__version__,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # served offline by api_docs
        redoc_url=None,
    )
    app.state.db = db
    app.state.settings = settings

    api.mount(app)
    switch_http.mount(app)
    app.add_middleware(SwitchFastPath)  # the per-call request skips routing and DI
    voipms.mount(app)
    portal.install(app)
    admin.mount(app)
    api_docs.install(app)
    ops.install(app, settings)  # last: its middleware must see the fast path's requests too
    return app

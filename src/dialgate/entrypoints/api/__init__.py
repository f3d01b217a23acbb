"""The native REST API (OpenAPI at /openapi.json, docs at /docs).

``mount(app)`` installs the problem+json error mapper and the routers; the switch endpoints
(``/switch/v1/...``) plug in with ``deps.SwitchCaller`` for their authentication.
"""

from __future__ import annotations

from fastapi import FastAPI

from dialgate.entrypoints.api import (
    account,
    billing,
    calls,
    catalogs,
    dids,
    forwardings,
    history,
    problems,
    subaccounts,
)


def mount(app: FastAPI) -> None:
    problems.install(app)
    app.include_router(account.router)
    app.include_router(subaccounts.router)
    app.include_router(dids.router)
    app.include_router(forwardings.router)
    app.include_router(calls.router)
    app.include_router(billing.router)
    app.include_router(history.router)
    app.include_router(catalogs.router)
    problems.use_problem_media_type(app)

"""The customer portal: Jinja2 + htmx pages under ``/portal``, in English, French and Spanish.

``install(app)`` mounts it; see ``web.py`` for how to add a page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from dialgate.domain import catalogs
from dialgate.domain import settings as s
from dialgate.entrypoints import faces
from dialgate.entrypoints.portal import (
    errors,
    forms,
    i18n,
    routes_auth,
    routes_balance,
    routes_calls,
    routes_dids,
    routes_forwardings,
    routes_history,
    routes_settings,
    routes_subaccounts,
    routes_test,
    web,
)
from dialgate.entrypoints.portal.head import HeadAsGet
from dialgate.entrypoints.portal.shed import ShedThrottledLogins

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    i18n.ensure_compiled()
    for language in i18n.LANGUAGES:
        env = web.environment(language)
        env.globals.update(
            labels={spec.key: spec.label for spec in (*s.SPECS, s.DESCRIPTION_SPEC)},
            inputmode=forms.inputmode,
            override_keys=s.SUB_OVERRIDE_KEYS,
            codec_labels=catalogs.CODECS,
        )
    app.mount(web.PREFIX + "/static", StaticFiles(directory=STATIC), name="portal-static")
    app.add_middleware(HeadAsGet)
    # A throttled source's log-ins are refused before the route reads them (shed.py).
    app.add_middleware(
        ShedThrottledLogins,
        rule=routes_auth.FAILURES_PER_SOURCE,
        namespace=routes_auth.SOURCE_FAILURES,
    )

    @app.get("/favicon.ico", include_in_schema=False)
    def _favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    for module in (
        routes_auth,
        routes_settings,
        routes_subaccounts,
        routes_dids,
        routes_forwardings,
        routes_test,
        routes_history,
        routes_calls,
        routes_balance,
    ):
        app.include_router(module.router, include_in_schema=False)

    @app.exception_handler(web.LoginRequired)
    async def _login_required(request: Request, exc: web.LoginRequired) -> Response:
        return web.redirect(request, f"{web.PREFIX}/login")

    @app.exception_handler(web.CsrfRejected)
    async def _csrf_rejected(request: Request, exc: web.CsrfRejected) -> Response:
        return await errors.render(request, exc)

    # Every other error under /portal: the portal's own pages, not the REST API's problems.
    faces.add(app, web.PREFIX, errors.render)

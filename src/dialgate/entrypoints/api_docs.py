"""``/docs`` that works without internet: Swagger UI's files (npm ``swagger-ui-dist`` 5, which
renders the OpenAPI 3.1 FastAPI writes) are vendored in ``swagger_ui/`` by
``scripts/vendor-swagger-ui.sh`` and served at ``/docs/static``, not from FastAPI's CDN links."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "swagger_ui"
STATIC = "/docs/static"


def install(app: FastAPI) -> None:
    """Call on an app created with ``docs_url=None`` and ``redoc_url=None``."""
    app.mount(STATIC, StaticFiles(directory=ASSETS), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
        )

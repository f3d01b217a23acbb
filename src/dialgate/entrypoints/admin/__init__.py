"""The provider's side: the operator console (``/admin/``, Jinja2 pages) and the admin REST API
(``/admin/v1``). ``mount(app)`` installs both."""

from __future__ import annotations

from fastapi import FastAPI

from dialgate.entrypoints.admin import api, console


def mount(app: FastAPI) -> None:
    app.include_router(api.router)
    console.install(app)

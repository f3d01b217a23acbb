"""Errors are mapped once per face: the REST API answers problem+json, the portal its own HTML
pages in the customer's language, the VoIP.ms facade a ``{"status": ...}`` body.

Starlette's exception handlers belong to the whole app, so a face cannot install its own without
taking over every other face's errors. Instead the app has one handler per exception type (this
module's), which hands the error to the face that owns the request's path (the longest matching
prefix). The face registered with the prefix ``""`` (the REST API) answers every other path,
the switch endpoints included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dialgate.domain.errors import DialgateError

ErrorRenderer = Callable[[Request, Exception], Awaitable[Response]]
# What the faces answer: domain errors, malformed requests, HTTP errors (404 of an unknown
# path, 405, the routes' own HTTPException) and, last, any other exception (a bug: 500).
HANDLED: tuple[type[Exception], ...] = (
    DialgateError,
    RequestValidationError,
    StarletteHTTPException,
    Exception,
)


def _owns(prefix: str, path: str) -> bool:
    return prefix == "" or path == prefix or path.startswith(prefix.rstrip("/") + "/")


def renderer_for(app: FastAPI, path: str) -> ErrorRenderer | None:
    faces: dict[str, ErrorRenderer] = app.state.error_faces
    owners = [prefix for prefix in faces if _owns(prefix, path)]
    return faces[max(owners, key=len)] if owners else None


def add(app: FastAPI, prefix: str, renderer: ErrorRenderer) -> None:
    """Make ``renderer`` answer every error of the requests under ``prefix``."""
    if not hasattr(app.state, "error_faces"):
        app.state.error_faces = {}

        async def dispatch(request: Request, exc: Exception) -> Response:
            renderer = renderer_for(app, request.url.path)
            if renderer is None:  # no face at all (an app without the REST API)
                status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
                return PlainTextResponse(str(status), status_code=status)
            return await renderer(request, exc)

        for exc_type in HANDLED:
            app.add_exception_handler(exc_type, dispatch)
    app.state.error_faces[prefix] = renderer

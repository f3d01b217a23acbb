"""The one exception-to-HTTP mapper of the REST API: RFC 9457 ``application/problem+json``.
It answers the REST API's paths and the switch endpoints'; the portal and the VoIP.ms facade
map their own (``entrypoints/faces.py``).

``ValidationFailed`` and malformed requests -> 422 with ``errors: [{field, code, message}]``;
``AuthenticationFailed`` -> 401; ``PermissionDenied`` -> 403; ``NotFound`` -> 404 (other
tenants' things included); ``Conflict`` -> 409 with its code. Anything else is a bug: it is
logged and answered with a 500 problem that reveals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dialgate.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DialgateError,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from dialgate.entrypoints import faces

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("dialgate.api")

_STATUS: tuple[tuple[type[DialgateError], int], ...] = (
    (ValidationFailed, 422),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
)
# Pydantic's error types, in the words of our FieldError codes.
_PYDANTIC_CODES = {
    "extra_forbidden": "unknown_key",
    "missing": "required",
    "json_invalid": "invalid_json",
    "model_attributes_type": "invalid_type",
    "dict_type": "invalid_type",
}


def problem(
    status: int,
    *,
    detail: str | None = None,
    code: str | None = None,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [{"field": e.field, "code": e.code, "message": e.message} for e in errors],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_for(exc: DialgateError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def from_error(exc: DialgateError) -> JSONResponse:
    status = status_for(exc)
    errors: list[FieldError] = []
    if isinstance(exc, ValidationFailed):
        errors = exc.errors
        detail = "The request was rejected; nothing was changed."
    elif isinstance(exc, Conflict) and exc.field:
        errors = [FieldError(exc.field, exc.code, str(exc))]
        detail = str(exc)
    elif isinstance(exc, NotFound):
        detail = f"{exc.what} {exc.ident} not found"
    else:
        detail = str(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, detail=detail, code=exc.code, errors=errors, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] or parts
    return ".".join(parts)


def from_request_validation(exc: RequestValidationError) -> JSONResponse:
    errors = [
        FieldError(
            _field_name(tuple(err.get("loc", ()))),
            _PYDANTIC_CODES.get(str(err.get("type")), str(err.get("type", "invalid"))),
            str(err.get("msg", "invalid value")),
        )
        for err in exc.errors()
    ]
    return problem(
        422,
        detail="The request was rejected; nothing was changed.",
        code="validation_failed",
        errors=errors,
    )


async def render(request: Request, exc: Exception) -> JSONResponse:
    """Any error of a REST request as a problem (see ``entrypoints/faces.py`` for which)."""
    if isinstance(exc, DialgateError):
        return from_error(exc)
    if isinstance(exc, RequestValidationError):
        return from_request_validation(exc)
    if isinstance(exc, StarletteHTTPException):
        return problem(
            exc.status_code,
            detail=str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
        )
    # Only genuine bugs get here; the traceback goes to the log, never to the client.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        500, detail="An internal error occurred; it has been logged.", code="internal_error"
    )


def install(app: FastAPI) -> None:
    """problem+json for the REST API and every path no other face owns."""
    faces.add(app, "", render)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problems a route can answer."""
    from dialgate.entrypoints.api.schemas import Problem

    return {
        status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses
    }


def use_problem_media_type(app: FastAPI) -> None:
    """Document error responses as ``application/problem+json`` (what they really are)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status.isdigit() and int(status) >= 400 and "application/json" in content:
                        response["content"] = {PROBLEM_JSON: content["application/json"]}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

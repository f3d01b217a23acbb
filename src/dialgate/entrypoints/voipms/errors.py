"""The one translation of Dialgate's errors into VoIP.ms statuses, applied by the dispatcher
(``run_method`` in this package's ``__init__``), never inside a method.

A method raises ``wire.VoipmsError`` for what only the wire knows (a missing parameter, a
malformed flag) and lets the services' domain errors through. Each method module says once,
in its ``ERRORS``, how those read for its methods: a ``NotFound`` is "not one of yours" in that
module's words (``invalid_did``, ``invalid_forwarding``, ``invalid_id``), a ``ValidationFailed``
reads as the status of its first field error, a ``Conflict`` as its own code unless the module
names one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dialgate.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DialgateError,
    FieldError,
    PermissionDenied,
    ValidationFailed,
)

log = logging.getLogger("dialgate.voipms")

# A field error and the request's parameters -> the status (the parameters tell e.g. which
# routing header a refused target had).
FieldStatus = Callable[[FieldError, Mapping[str, str]], str]
# What the facade answers when it has no documented status: a bug or an HTTP-level error.
UNAVAILABLE = "unavailable_info"


def always(status: str) -> FieldStatus:
    """Every field error reads as ``status``."""
    return lambda _error, _params: status


@dataclass(frozen=True, slots=True)
class Statuses:
    """How a module's methods say the domain's errors."""

    not_found: str
    invalid: FieldStatus
    conflict: str | None = None  # None: the Conflict's own code (e.g. used_username)

    def status(self, exc: DialgateError, params: Mapping[str, str]) -> str:
        if isinstance(exc, AuthenticationFailed | PermissionDenied):
            return exc.code  # the credential statuses (invalid_credentials, ip_not_enabled...)
        if isinstance(exc, ValidationFailed):
            return self.invalid(exc.errors[0], params)
        if isinstance(exc, Conflict):
            return self.conflict or exc.code
        return self.not_found  # NotFound, and any other refusal of the thing asked for


# Before a method is known (authentication): only the credential statuses occur.
CREDENTIALS = Statuses(not_found="invalid_credentials", invalid=always("invalid_credentials"))


async def render(request: Request, exc: Exception) -> Response:
    """What reaches the app's handlers from ``/api/v1/rest.php`` (an HTTP error such as a 405,
    or a bug): still the wire's shape, a ``status`` the clients can read, never problem+json."""
    if isinstance(exc, StarletteHTTPException):
        return JSONResponse({"status": UNAVAILABLE}, status_code=exc.status_code)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"status": UNAVAILABLE}, status_code=500)

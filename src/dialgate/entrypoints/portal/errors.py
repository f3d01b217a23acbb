"""The portal's own error pages: HTML in the customer's language, never problem+json and never
a traceback (``entrypoints/faces.py`` sends every error under ``/portal`` here).

Domain errors that reach this far are answered by their meaning (``NotFound`` 404,
``PermissionDenied`` 403, ...); routes that can show a form's errors in place do so themselves.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dialgate.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DialgateError,
    NotFound,
    PermissionDenied,
)
from dialgate.entrypoints.portal import i18n, web
from dialgate.services import portal_auth
from dialgate.services.portal_auth import PortalSession


def N_(message: str) -> str:  # noqa: N802 - the gettext convention: marks a msgid for extraction
    return message


log = logging.getLogger("dialgate.portal")

# status -> (title, what the customer can do); other statuses read as the generic 4xx/500 ones.
PAGES: dict[int, tuple[str, str]] = {
    400: (N_("Bad request"), N_("This request could not be understood. Go back and try again.")),
    403: (N_("Access denied"), N_("This page is not available to your account.")),
    404: (
        N_("Page not found"),
        N_("This page does not exist, or it is not one of your account's pages."),
    ),
    405: (N_("Not allowed"), N_("This page cannot be used this way. Go back and try again.")),
    409: (N_("Not possible now"), N_("This change is not possible now. Reload the page.")),
    500: (
        N_("Something went wrong"),
        N_("An internal error occurred; it has been logged. Try again in a moment."),
    ),
}
CSRF_PAGE = (
    N_("This form has expired"),
    N_("This form has expired or did not come from this site. Reload the page and try again."),
)


def status_for(exc: Exception) -> int:
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied | web.CsrfRejected):
        return 403
    if isinstance(exc, AuthenticationFailed):
        return 401
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, DialgateError | RequestValidationError):
        return 400
    return 500


def _session(request: Request) -> PortalSession | None:
    try:
        with web.database(request).uow(write=False) as uow:
            return portal_auth.resolve(uow, request.cookies.get(web.SESSION_COOKIE))
    except Exception:  # the page of an error must not fail in its turn
        log.warning("no session for an error page", exc_info=True)
        return None


def _cookie_language(request: Request) -> str:
    lang = request.cookies.get(web.LANG_COOKIE)
    if lang in i18n.LANGUAGES:
        return lang
    return i18n.negotiate(request.headers.get("accept-language"))


def page(request: Request, status: int, *, csrf: bool = False) -> HTMLResponse:
    """The error page for ``status``; the navigation and the account's language when the
    visitor is logged in (not for a 500: the database may be what failed)."""
    session = _session(request) if status < 500 else None
    language = session.language if session is not None else _cookie_language(request)
    if csrf:
        title, text = CSRF_PAGE
    else:
        title, text = PAGES.get(status) or PAGES[500 if status >= 500 else 400]
    return web.render(
        request,
        "error.html",
        language=language,
        status_code=status,
        session=session,
        status=status,
        title=title,
        text=text,
    )


async def render(request: Request, exc: Exception) -> Response:
    status = status_for(exc)
    if status >= 500:
        # A bug: the traceback goes to the log, the customer sees only the page.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    headers = exc.headers if isinstance(exc, StarletteHTTPException) else None
    response = page(request, status, csrf=isinstance(exc, web.CsrfRejected))
    if headers:  # e.g. the Allow of a 405
        response.headers.update(headers)
    return response

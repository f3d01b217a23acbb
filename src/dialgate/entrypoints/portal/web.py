"""What every portal route shares: templates per language, the session and CSRF dependencies,
rendering with security headers, and the navigation.

Adding a page (e.g. "Test a number", DIDs) = a route module with an ``APIRouter``, a template
extending ``base.html``, and one ``NavItem`` in ``NAV``; ``install`` includes the router.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from babel.dates import format_datetime
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from dialgate.entrypoints.portal import i18n
from dialgate.presentation import i18n as words_i18n
from dialgate.services import portal_auth
from dialgate.services.portal_auth import PortalSession
from dialgate.services.uow import Database

PREFIX = "/portal"
SESSION_COOKIE = "dg_session"
LOGIN_CSRF_COOKIE = "dg_login_csrf"
LANG_COOKIE = "dg_lang"
TEMPLATES = Path(__file__).parent / "templates"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        # Inline *styles* are allowed (htmx and the details widget set some); scripts are not.
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    title: str  # an English msgid, translated when rendered
    section: str  # which item is current: the page's ``section`` context value


NAV: list[NavItem] = [
    NavItem(f"{PREFIX}/settings", "Account Settings", "settings"),
    NavItem(f"{PREFIX}/subaccounts", "Sub Accounts", "subaccounts"),
    NavItem(f"{PREFIX}/dids", "DID Numbers", "dids"),
    NavItem(f"{PREFIX}/forwardings", "Call Forwarding", "forwardings"),
    NavItem(f"{PREFIX}/test", "Test a number", "test"),
    NavItem(f"{PREFIX}/history", "Settings History", "history"),
    NavItem(f"{PREFIX}/calls", "Call History", "calls"),
    NavItem(f"{PREFIX}/balance", "Balance & Transactions", "balance"),
    NavItem(f"{PREFIX}/password", "Change password", "password"),
]


class LoginRequired(Exception):
    """No valid session: send the browser to the login page."""


class CsrfRejected(Exception):
    """A POST without the session's CSRF token."""


def _format_dt(value: datetime, language: str) -> str:
    return str(format_datetime(value, "medium", tzinfo=None, locale=language)) + " UTC"


# One money format for the portal and the emails (``presentation.i18n``).
format_money = words_i18n.format_money


@lru_cache(maxsize=len(i18n.LANGUAGES))
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(language), newstyle=True
    )
    env.globals.update(prefix=PREFIX, nav=NAV, language=language, languages=i18n.LANGUAGES)
    env.filters["datetime"] = lambda v: _format_dt(v, language)
    env.filters["money"] = lambda v: format_money(v, language)
    env.filters["rate"] = lambda v: format_money(v, language, places=4)
    return env


gettext = words_i18n.gettext


def is_secure(request: Request) -> bool:
    return (
        request.url.scheme == "https"
        or request.headers.get("x-forwarded-proto", "").split(",")[0].strip() == "https"
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    *,
    language: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = (
        environment(language)
        .get_template(template)
        .render(request=request, htmx=is_htmx(request), **context)
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def redirect(request: Request, url: str) -> Response:
    """A redirect that also works for htmx requests (which follow 3xx internally)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def current_session(request: Request) -> PortalSession:
    with database(request).uow(write=False) as uow:
        session = portal_auth.resolve(uow, request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired
    return session


async def form_data(request: Request) -> FormData:
    return await request.form()


def checked_session(
    request: Request,
    session: Annotated[PortalSession, Depends(current_session)],
    form: Annotated[FormData, Depends(form_data)],
) -> PortalSession:
    """The session of a POST whose CSRF token matches (form field or X-CSRF-Token header)."""
    token = form.get("csrf_token") or request.headers.get("x-csrf-token")
    if not isinstance(token, str) or not session.csrf_ok(token):
        raise CsrfRejected
    return session


Session = Annotated[PortalSession, Depends(current_session)]
CheckedSession = Annotated[PortalSession, Depends(checked_session)]
Form = Annotated[FormData, Depends(form_data)]
Db = Annotated[Database, Depends(database)]


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )

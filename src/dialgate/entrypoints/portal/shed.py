"""Refuse a throttled source's log-ins before they cost anything.

A source past its failed log-in budget (``routes_auth.FAILURES_PER_SOURCE``) gets 429 whatever
it sends, so there is nothing to learn from its request: this ASGI layer answers it from the
path, the client address and one in-memory counter look-up, before the body is read, the form
parsed, the CSRF pair checked, a database touched or a template rendered
(``benchmarks/login_shed.py``, in-process: about 1.1 ms of CPU per refused log-in through the
route, 55 us here; uvicorn's HTTP work comes on top of both). A guesser flooding the log-in
page then costs the web role little, and a customer's own requests queue behind little.

The answer is the login page with the throttled notice, in the visitor's language (the
``dg_lang`` cookie, else Accept-Language), rendered once per language with a placeholder for
the visitor's login CSRF token, with Retry-After. It sits inside the body limit and
the trusted-proxy layers, so the client address is the forwarded one when it should be.
"""

from __future__ import annotations

import contextlib
from html import escape
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from dialgate.adapters import metrics, ratelimit
from dialgate.adapters.ratelimit import Throttle
from dialgate.entrypoints.portal import i18n, web

LOGIN_PATH = web.PREFIX + "/login"


# Where the visitor's own login CSRF token goes in the cached page (a plain replace per request).
_TOKEN = "dg-shed-csrf-token-placeholder"  # noqa: S105 - a placeholder, not a secret


def _page(language: str) -> str:
    """The login page with the throttled notice, as the route shows it (the form stays usable
    once the budget has room again), rendered once per language."""
    message = web.gettext(language, "Too many login attempts. Wait a few minutes, then try again.")
    return (
        web.environment(language)
        .get_template("login.html")
        .render(
            request=None,  # only the signed-in header reads it; there is no session here
            htmx=False,
            language=language,
            csrf_token=_TOKEN,
            error=message,
            login="",
            section="login",
            chosen_language=None,
        )
    )


class ShedThrottledLogins:
    def __init__(self, app: ASGIApp, rule: ratelimit.RateLimitItem, namespace: str) -> None:
        self.app = app
        self.rule = rule
        self.namespace = namespace
        self._pages: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == LOGIN_PATH:
            throttle: Throttle = scope["app"].state.throttle
            client = scope.get("client")
            source = ratelimit.source_key(client[0] if client else None)
            if throttle.exhausted(self.rule, self.namespace, source):
                metrics.LOGIN_LOCKOUTS.inc()  # as the route counts its throttled answers
                retry = throttle.retry_after(self.rule, self.namespace, source)
                await self._refuse(scope, send, retry)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, retry_after: int) -> None:
        language, token = _language_and_token(scope)
        page = self._pages.get(language)
        if page is None:
            page = self._pages[language] = _page(language)
        body = page.replace(_TOKEN, escape(token)).encode()
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
            *((k.lower().encode(), v.encode()) for k, v in web.SECURITY_HEADERS.items()),
        ]
        # The body is left unread; uvicorn discards it and keeps the connection usable.
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _language_and_token(scope: Scope) -> tuple[str, str]:
    """The visitor's language (the ``dg_lang`` cookie, else Accept-Language) and login CSRF
    token (its cookie; none: the form will need a reload, as with any expired form)."""
    accept = None
    language = token = ""
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            with contextlib.suppress(CookieError):  # malformed: whatever could be read
                cookie.load(value.decode("latin-1"))
            lang = cookie.get(web.LANG_COOKIE)
            if lang is not None and lang.value in i18n.LANGUAGES:
                language = lang.value
            csrf = cookie.get(web.LOGIN_CSRF_COOKIE)
            if csrf is not None:
                token = csrf.value
        elif name == b"accept-language":
            accept = value.decode("latin-1")
    return language or i18n.negotiate(accept), token

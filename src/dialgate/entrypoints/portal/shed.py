"""Refuse a throttled source's log-ins before they cost anything.

A source past its failed log-in budget (``routes_auth.FAILURES_PER_SOURCE``) gets 429 whatever
it sends, so there is nothing to learn from its request: this ASGI layer answers it from the
path, the client address and one in-memory counter look-up, before the body is read, the form
parsed, the CSRF pair checked, a database touched or a template rendered (about 3 ms of CPU per
request through the route, against tens of microseconds here). A guesser flooding the log-in
page then costs the web role little, and a customer's own requests queue behind little.

The answer is a short page in the visitor's language (the ``dg_lang`` cookie, else
Accept-Language), built once per language, with Retry-After. It sits inside the body limit and
the trusted-proxy layers, so the client address is the forwarded one when it should be.
"""

from __future__ import annotations

import contextlib
from html import escape
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from dialgate.adapters import ratelimit
from dialgate.adapters.ratelimit import Throttle
from dialgate.entrypoints.portal import i18n, web

LOGIN_PATH = web.PREFIX + "/login"


def _page(language: str) -> bytes:
    message = web.gettext(language, "Too many login attempts. Wait a few minutes, then try again.")
    log_in = web.gettext(language, "Log in")
    return (
        f'<!doctype html><html lang="{language}"><meta charset="utf-8">'
        f"<title>{escape(log_in)}</title><p>{escape(message)}</p>"
        f'<p><a href="{LOGIN_PATH}">{escape(log_in)}</a></p></html>'
    ).encode()


class ShedThrottledLogins:
    def __init__(self, app: ASGIApp, rule: ratelimit.RateLimitItem, namespace: str) -> None:
        self.app = app
        self.rule = rule
        self.namespace = namespace
        self._pages: dict[str, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == LOGIN_PATH:
            throttle: Throttle = scope["app"].state.throttle
            client = scope.get("client")
            source = ratelimit.source_key(client[0] if client else None)
            if throttle.exhausted(self.rule, self.namespace, source):
                retry = throttle.retry_after(self.rule, self.namespace, source)
                await self._refuse(scope, send, retry)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, retry_after: int) -> None:
        language = _language(scope)
        body = self._pages.get(language)
        if body is None:
            body = self._pages[language] = _page(language)
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
            *((k.lower().encode(), v.encode()) for k, v in web.SECURITY_HEADERS.items()),
        ]
        # The body is left unread; uvicorn discards it and keeps the connection usable.
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _language(scope: Scope) -> str:
    accept = None
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie = SimpleCookie()
            with contextlib.suppress(CookieError):  # malformed: whatever could be read
                cookie.load(value.decode("latin-1"))
            morsel = cookie.get(web.LANG_COOKIE)
            if morsel is not None and morsel.value in i18n.LANGUAGES:
                return morsel.value
        elif name == b"accept-language":
            accept = value.decode("latin-1")
    return i18n.negotiate(accept)

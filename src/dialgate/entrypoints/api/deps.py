"""Dependencies of the HTTP entrypoints: the database, the customer API key and the switch token.

Use them as annotated parameters::

    def endpoint(db: DbDep, caller: ApiCaller) -> ...      # customer REST API
    def authorize(db: DbDep, switch: SwitchCaller) -> ...  # /switch/v1/* (Kamailio)
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from dialgate.entrypoints.policy_cache import per_app
from dialgate.services import apikeys
from dialgate.services.apikeys import SwitchTokenCache
from dialgate.services.uow import Database

_api_key = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A customer API key from `dialgate apikey create ACCOUNT`.",
)
_switch_token = HTTPBearer(
    auto_error=False,
    scheme_name="SwitchToken",
    description="A switch token from `dialgate switch token create`.",
)

# Kamailio's http_client cannot add headers to a named (persistent) connection, only URL
# credentials: it sends the same switch token as HTTP Basic, user "kamailio", password = token.
SWITCH_BASIC_USER = "kamailio"
_switch_basic = HTTPBasic(
    auto_error=False,
    scheme_name="SwitchBasic",
    description="The same switch token as HTTP Basic: user `kamailio`, password = the token.",
)


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


DbDep = Annotated[Database, Depends(get_db)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_api_key)]
SwitchBearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_switch_token)]
SwitchBasicDep = Annotated[HTTPBasicCredentials | None, Depends(_switch_basic)]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling the customer API: a main account, through one of its keys."""

    account: str  # main account number; every request is scoped to it
    key_id: str

    @property
    def actor(self) -> str:
        return f"api:{self.key_id}"


def require_api_key(db: DbDep, credentials: BearerDep) -> Caller:
    token = credentials.credentials if credentials else None
    with db.uow(write=False) as uow:
        account = apikeys.authenticate_api_key(uow, token)
        return Caller(account=account.number, key_id=(token or "").partition(".")[0])


def switch_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The switch token of a request: ``Bearer <token>`` or Basic ``kamailio:<token>``.

    The one parser of the switch's credentials: the ASGI fast path and the FastAPI routes both
    read the raw headers with it."""
    for name, value in headers:
        if name != b"authorization":
            continue
        scheme, _, credentials = value.partition(b" ")
        scheme = scheme.lower()
        if scheme == b"bearer":
            return credentials.strip().decode("latin-1") or None
        if scheme == b"basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, _, password = decoded.partition(":")
            return password if user == SWITCH_BASIC_USER and password else None
        return None
    return None


def app_switch_token_cache(app: FastAPI) -> SwitchTokenCache:
    """The app's one cache of checked switch tokens (``per_app``, like the policy cache)."""
    return per_app(app, "switch_token_cache", SwitchTokenCache)


async def require_switch_token(
    request: Request, bearer: SwitchBearerDep, basic: SwitchBasicDep
) -> apikeys.KeyInfo:
    # The two security schemes are declared for the OpenAPI description (and FastAPI's 401 on
    # a malformed Basic header); the token itself is read by ``switch_token``.
    # async with no DbDep: a known token never waits for a thread.
    del bearer, basic
    token = switch_token(request.headers.raw)
    cache = app_switch_token_cache(request.app)
    if not token:
        return cache.check(token)  # raises: no credentials
    known = cache.peek(token)
    if known is not None:
        return known
    return await run_in_threadpool(cache.check, token)


ApiCaller = Annotated[Caller, Depends(require_api_key)]
SwitchCaller = Annotated[apikeys.KeyInfo, Depends(require_switch_token)]

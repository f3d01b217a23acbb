"""Dependencies of the HTTP entrypoints: the database, the customer API key and the switch token.

Use them as annotated parameters::

    def endpoint(db: DbDep, caller: ApiCaller) -> ...      # customer REST API
    def authorize(db: DbDep, switch: SwitchCaller) -> ...  # /switch/v1/* (Kamailio)
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from dialgate.adapters import passwords
from dialgate.services import apikeys
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


class SwitchTokenCache:
    """Switch tokens already checked, per database, for ``ttl`` seconds.

    The switch asks on every call; looking its token up costs a transaction (about 1-2 ms on
    SQLite under load), more than the decision itself. A revocation committed through the same
    ``Database`` empties the cache at once (commit hook); one made by another process is
    honoured within ``ttl``.
    """

    def __init__(self, db: Database, *, ttl: float = 2.0) -> None:
        self._db = db
        self._ttl = ttl
        self._known: dict[str, tuple[apikeys.KeyInfo, float]] = {}
        db.after_commit_hooks.append(self._on_commit)

    def _on_commit(self, touched: set[str]) -> None:
        if apikeys.SWITCH_TOKENS_CHANGED in touched:
            self._known.clear()

    def _check(self, token: str | None) -> apikeys.KeyInfo:
        with self._db.uow(write=False) as uow:
            return apikeys.authenticate_switch_token(uow, token)

    def peek(self, token: str) -> apikeys.KeyInfo | None:
        """The token's key if it was checked within ``ttl``; never touches the database."""
        hit = self._known.get(passwords.token_digest(token))
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        return None

    async def authenticate(self, token: str | None) -> apikeys.KeyInfo:
        if not token:
            return self._check(token)  # raises: no credentials
        known = self.peek(token)
        if known is not None:
            return known
        now = time.monotonic()
        digest = passwords.token_digest(token)
        info = await run_in_threadpool(self._check, token)
        self._known[digest] = (info, now + self._ttl)
        return info


_token_caches: weakref.WeakKeyDictionary[Database, SwitchTokenCache] = (
    weakref.WeakKeyDictionary()
)


def switch_token_cache(db: Database) -> SwitchTokenCache:
    """The one cache of checked switch tokens for this database."""
    cache = _token_caches.get(db)
    if cache is None:
        cache = _token_caches.setdefault(db, SwitchTokenCache(db))
    return cache


async def require_switch_token(
    request: Request, bearer: SwitchBearerDep, basic: SwitchBasicDep
) -> apikeys.KeyInfo:
    # async with no DbDep: the call path of /switch/v1/authorize never waits for a thread.
    token = bearer.credentials if bearer else None
    if token is None and basic is not None and basic.username == SWITCH_BASIC_USER:
        token = basic.password
    return await switch_token_cache(get_db(request)).authenticate(token)


ApiCaller = Annotated[Caller, Depends(require_api_key)]
SwitchCaller = Annotated[apikeys.KeyInfo, Depends(require_switch_token)]

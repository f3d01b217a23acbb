"""Dependencies of the HTTP entrypoints: the database, the customer API key and the switch token.

Use them as annotated parameters::

    def endpoint(db: DbDep, caller: ApiCaller) -> ...      # customer REST API
    def authorize(db: DbDep, switch: SwitchCaller) -> ...  # /switch/v1/* (Kamailio)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

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


def require_switch_token(
    db: DbDep, bearer: SwitchBearerDep, basic: SwitchBasicDep
) -> apikeys.KeyInfo:
    token = bearer.credentials if bearer else None
    if token is None and basic is not None and basic.username == SWITCH_BASIC_USER:
        token = basic.password
    with db.uow(write=False) as uow:
        return apikeys.authenticate_switch_token(uow, token)


ApiCaller = Annotated[Caller, Depends(require_api_key)]
SwitchCaller = Annotated[apikeys.KeyInfo, Depends(require_switch_token)]

"""The VoIP.ms-compatible API at ``/api/v1/rest.php``; every VoIP.ms quirk lives in this package.

- ``wire``: parameters (GET/POST, urlencoded/multipart), flags, string-only responses.
- ``mapping``: the table between VoIP.ms sub-account fields and Dialgate settings keys.
- ``methods``: one function per API method, each calling Dialgate services.
- ``errors``: how domain errors read as statuses, applied once by ``run_method`` (each method
  module's ``ERRORS``).

- ``dids``, ``forwardings`` and ``billing``: the DID, call forwarding, balance, transaction
  and rate methods.
- ``cdr``: getCDR and its option lists (getCallTypes, getCallAccounts, getCallBilling).

``METHODS`` is every method the API answers, by name.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from dialgate.adapters import passwords, ratelimit
from dialgate.domain.errors import DialgateError
from dialgate.entrypoints import faces, guards
from dialgate.entrypoints.voipms import billing, cdr, dids, errors, forwardings, methods, wire
from dialgate.services import apikeys
from dialgate.services.uow import Database

PATH = "/api/v1/rest.php"
_PASSWORD_IN_QUERY = re.compile(r"(api_password=)[^&\s]*", re.IGNORECASE)


class RedactApiPassword(logging.Filter):
    """VoIP.ms clients send the API password in the query string; access logs must not keep it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _PASSWORD_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a
                for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _PASSWORD_IN_QUERY.sub(r"\1***", record.msg)
        return True


# Every method by name, with how its module says the domain's errors (``errors.Statuses``).
METHODS: dict[str, tuple[methods.Method, errors.Statuses]] = {
    name: (method, module.ERRORS)
    for module in (methods, dids, forwardings, billing, cdr)
    for name, method in module.METHODS.items()
}

# Failed password checks (docs/architecture.md, "Abuse"). Only callers from an allowed address
# ever reach a password check, so these budgets cannot be spent by strangers on an account that
# lists its addresses; for accounts open to every address (0.0.0.0) they bound the guessing.
FAILURES_PER_SOURCE = ratelimit.parse("10/minute")
FAILURES_PER_USER = ratelimit.parse("60/hour")


def run_method(db: Database, number: str, params: dict[str, str], client_ip: str | None) -> Any:
    """The dispatcher: the one place where a method's domain errors become VoIP.ms statuses."""
    method_name = params.get("method")
    if method_name is None:
        raise wire.VoipmsError("missing_method")
    entry = METHODS.get(method_name)
    if entry is None:
        raise wire.VoipmsError("invalid_method")
    method, statuses = entry
    try:
        return method(methods.Call(db, number, params, client_ip))
    except DialgateError as exc:
        raise wire.VoipmsError(statuses.status(exc, params)) from None


async def authenticate(
    request: Request, db: Database, params: dict[str, str], client_ip: str | None
) -> str:
    """The caller's account number: allow-list first, then throttles, then argon2 (in the
    bounded pool, outside any transaction)."""
    username, password = params.get("api_username"), params.get("api_password")

    def read() -> apikeys.VoipmsCredentials:
        with db.uow(write=False) as uow:
            return apikeys.voipms_credentials(uow, username or "")

    creds = await run_in_threadpool(read)
    apikeys.check_voipms_source(username, password, creds, client_ip)
    assert password is not None and username is not None  # checked just above
    if apikeys.verified_recently(creds.password_hash, password):
        return apikeys.check_voipms_verified(creds, True)
    throttle = guards.throttle(request)
    source = ratelimit.source_key(client_ip)
    user = username.strip().lower()
    if throttle.exhausted(FAILURES_PER_SOURCE, "voipms-fail", source) or throttle.exhausted(
        FAILURES_PER_USER, "voipms-fail-user", user
    ):
        raise wire.VoipmsError("api_limit_exceeded")
    try:
        verified = await guards.hash_pool(request).verify(creds.password_hash, password)
    except passwords.HashPoolBusy:
        raise wire.VoipmsError("api_limit_exceeded") from None
    if verified:
        apikeys.remember_verified(creds.password_hash, password)
    else:
        throttle.hit(FAILURES_PER_SOURCE, "voipms-fail", source)
        throttle.hit(FAILURES_PER_USER, "voipms-fail-user", user)
    return apikeys.check_voipms_verified(creds, verified)


def mount(app: FastAPI) -> None:
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactApiPassword) for f in access_log.filters):
        access_log.addFilter(RedactApiPassword())

    async def rest_php(request: Request) -> JSONResponse:
        params = await wire.read_params(request)
        db: Database = request.app.state.db
        client_ip = guards.client_ip(request)
        try:
            number = await authenticate(request, db, params, client_ip)
            body = await run_in_threadpool(run_method, db, number, params, client_ip)
        except DialgateError as exc:  # only authentication's get here: methods' are mapped
            body = {"status": errors.CREDENTIALS.status(exc, params)}
        except wire.VoipmsError as exc:
            body = {"status": exc.status}
        return JSONResponse(wire.stringify(body))

    faces.add(app, PATH, errors.render)  # e.g. a 405 or a bug: still a wire-shaped answer
    app.add_api_route(
        PATH, rest_php, methods=["GET", "POST"], include_in_schema=False, name="voipms_rest"
    )

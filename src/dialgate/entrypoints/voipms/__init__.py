"""The VoIP.ms-compatible API at ``/api/v1/rest.php``; every VoIP.ms quirk lives in this package.

- ``wire``: parameters (GET/POST, urlencoded/multipart), flags, string-only responses.
- ``mapping``: the table between VoIP.ms sub-account fields and Dialgate settings keys.
- ``methods``: one function per API method, each calling Dialgate services.

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

from dialgate.domain.errors import AuthenticationFailed, PermissionDenied
from dialgate.entrypoints.voipms import billing, cdr, dids, forwardings, methods, wire
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


_NO_IP_CHECK = frozenset({"getIP"})
METHODS: dict[str, methods.Method] = {
    **methods.METHODS, **dids.METHODS, **forwardings.METHODS, **billing.METHODS, **cdr.METHODS
}


def dispatch(db: Database, params: dict[str, str], client_ip: str | None) -> dict[str, Any]:
    method_name = params.get("method")
    try:
        with db.uow(write=False) as uow:
            account = apikeys.authenticate_voipms(
                uow,
                username=params.get("api_username"),
                password=params.get("api_password"),
                client_ip=client_ip,
                check_ip=method_name not in _NO_IP_CHECK,
            )
            number = account.number
        if method_name is None:
            raise wire.VoipmsError("missing_method")
        method = METHODS.get(method_name)
        if method is None:
            raise wire.VoipmsError("invalid_method")
        return method(methods.Call(db, number, params, client_ip))
    except (AuthenticationFailed, PermissionDenied) as exc:
        return {"status": exc.code}
    except wire.VoipmsError as exc:
        return {"status": exc.status}


def mount(app: FastAPI) -> None:
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactApiPassword) for f in access_log.filters):
        access_log.addFilter(RedactApiPassword())

    async def rest_php(request: Request) -> JSONResponse:
        params = await wire.read_params(request)
        db: Database = request.app.state.db
        client_ip = request.client.host if request.client else None
        body = await run_in_threadpool(dispatch, db, params, client_ip)
        return JSONResponse(wire.stringify(body))

    app.add_api_route(
        PATH, rest_php, methods=["GET", "POST"], include_in_schema=False, name="voipms_rest"
    )

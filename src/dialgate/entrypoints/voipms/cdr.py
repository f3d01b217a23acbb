"""VoIP.ms call detail record methods: getCDR and its three option lists, getCallTypes,
getCallAccounts and getCallBilling.

getCDR's rules, as the API documents them: ``date_from``/``date_to`` (yyyy-mm-dd, both
required, from not after to, 92 days or less), ``timezone`` (required, numeric, -12 to 13: the
dates are days in that offset from UTC and the returned times are shifted by it), at least one
of ``answered``/``noanswer``/``busy``/``failed`` set to 1, and the optional filters ``calltype``,
``callbilling`` and ``account`` taking values of the three list methods.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from dialgate.entrypoints.voipms.errors import Statuses, always
from dialgate.entrypoints.voipms.methods import Call, Method
from dialgate.entrypoints.voipms.wire import VoipmsError, flag
from dialgate.services import dids, history, lookups

MAX_RANGE_DAYS = 92
DISPOSITION_LABELS = {
    "answered": "ANSWERED",
    "busy": "BUSY",
    "noanswer": "NO ANSWER",
    "failed": "FAILED",
}
STATUS_FLAGS = {"answered": "answered", "noanswer": "noanswer", "busy": "busy", "failed": "failed"}
CALL_TYPES = {"all": "All Calls", "outgoing": "Outgoing Calls", "incoming": "Incoming Calls"}
CALL_BILLING = {"all": "All Calls", "free": "Free Calls", "billed": "Billed Calls"}
EIGHT = Decimal("0.00000001")


def date_param(call: Call, name: str, missing: str) -> date:
    raw = call.get(name)
    if raw is None:
        raise VoipmsError(missing)
    text = raw.strip()
    try:
        if len(text) != 10 or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise VoipmsError("invalid_date") from None


def date_range(call: Call) -> tuple[date, date]:
    """date_from and date_to with the documented rules: both given and valid, from not after
    to (invalid_date_from), at most 92 days (invalid_daterange)."""
    date_from = date_param(call, "date_from", "missing_from_date")
    date_to = date_param(call, "date_to", "missing_to_date")
    if date_to < date_from:
        raise VoipmsError("invalid_date_from")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise VoipmsError("invalid_daterange")
    return date_from, date_to


def _timezone(call: Call) -> Decimal:
    raw = call.get("timezone")
    if raw is None:
        raise VoipmsError("missing_timezone")
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise VoipmsError("invalid_timezone") from None
    if not value.is_finite() or not Decimal(-12) <= value <= Decimal(13):
        raise VoipmsError("invalid_timezone")
    return value


def _wanted_dispositions(call: Call) -> list[str]:
    wanted = []
    for param, disposition in STATUS_FLAGS.items():
        raw = call.get(param)
        try:
            on = raw is not None and flag(raw, invalid="no_callstatus")
        except VoipmsError:
            on = False  # the API documents no status for a malformed flag: it is not set
        if on:
            wanted.append(disposition)
    if not wanted:
        raise VoipmsError("no_callstatus")
    return wanted


def _account_dids(call: Call) -> list[str]:
    with call.db.uow(write=False) as uow:
        return [d.number for d in dids.list_dids(uow, call.account)]


def _hms(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _row(view: history.CdrView, offset: timedelta) -> dict[str, Any]:
    inbound = view.direction == "inbound"
    return {
        "date": (view.started_at + offset).strftime("%Y-%m-%d %H:%M:%S"),
        "callerid": (view.caller_number or "") if inbound else view.subject,
        "destination": view.dialed,
        "description": "Inbound" if inbound else f"Outbound - {(view.route or '').title()}",
        "account": view.subject,
        "disposition": DISPOSITION_LABELS.get(view.disposition, view.disposition.upper()),
        "duration": _hms(view.duration_s),
        "seconds": view.duration_s,
        "rate": format(view.rate_per_minute.quantize(EIGHT), "f"),
        "total": format(view.cost.quantize(EIGHT), "f"),
        "uniqueid": view.id,
        "destination_type": "IN" if inbound else "OUT",
        "call_logs": "",
    }


def get_cdr(call: Call) -> dict[str, Any]:
    date_from, date_to = date_range(call)
    tz = _timezone(call)
    dispositions = _wanted_dispositions(call)
    offset = timedelta(hours=float(tz))
    calltype = (call.get("calltype") or "all").strip()
    direction: str | None = None
    did: str | None = None
    if calltype == "outgoing":
        direction = "outbound"
    elif calltype == "incoming":
        direction = "inbound"
    elif calltype != "all":
        if calltype not in _account_dids(call):
            raise VoipmsError("invalid_call_type")
        did = calltype
    callbilling = (call.get("callbilling") or "all").strip()
    if callbilling not in CALL_BILLING:
        raise VoipmsError("invalid_billingtype")
    subject = (call.get("account") or "all").strip()
    start, end = history.day_range(date_from, date_to, offset=offset, max_days=MAX_RANGE_DAYS)
    with call.db.uow(write=False) as uow:
        f = history.make_filter(
            uow,
            call.account,
            start=start,
            end=end,
            subject=None if subject == "all" else subject,
            direction=direction,
            dispositions=dispositions,
        )
        f = replace(f, did=did, billing=callbilling)
        rows = [_row(v, offset) for v in history.iter_cdrs(uow, call.account, f)]
    if not rows:
        raise VoipmsError("no_cdr")
    return {"status": "success", "cdr": rows}


def _listing(name: str, table: dict[str, str]) -> dict[str, Any]:
    return {"status": "success", name: [{"value": k, "description": v} for k, v in table.items()]}


def get_call_types(call: Call) -> dict[str, Any]:
    """All, outgoing, incoming, and each of the account's DIDs (its incoming calls)."""
    table = {**CALL_TYPES, **{number: number for number in _account_dids(call)}}
    return _listing("call_types", table)


def get_call_accounts(call: Call) -> dict[str, Any]:
    """All, the main account and each sub account."""
    with call.db.uow(write=False) as uow:
        account = lookups.get_account(uow, call.account)
        subs = [s.name for s in lookups.list_subaccounts(uow, account)]
    table = {"all": "All Accounts", account.number: account.number, **{s: s for s in subs}}
    return {
        "status": "success",
        "accounts": [{"value": k, "description": v} for k, v in table.items()],
    }


def get_call_billing(call: Call) -> dict[str, Any]:
    return _listing("call_billing", CALL_BILLING)


# The one field error here is the filter's: an ``account`` that is not one of the caller's.
ERRORS = Statuses(not_found="invalid_account", invalid=always("invalid_account"))

METHODS: dict[str, Method] = {
    "getCDR": get_cdr,
    "getCallTypes": get_call_types,
    "getCallAccounts": get_call_accounts,
    "getCallBilling": get_call_billing,
}

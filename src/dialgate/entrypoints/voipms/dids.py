"""VoIP.ms DID methods: getDIDsInfo, setDIDRouting, setDIDInfo, setDIDPOP.

Routing targets already use the VoIP.ms notation (``account:100000_office``, ``vm:1001``,
``fwd:12``, ``sys:hangup``, ``none:``), so they pass through; POPs travel as ``server_pop`` ids
and the billing plan as ``billing_type`` 1 (per minute) / 2 (flat). Validation is the DID
service's; ``ERRORS`` says how its field errors read as the documented statuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialgate.domain.errors import FieldError
from dialgate.entrypoints.voipms.errors import Statuses
from dialgate.entrypoints.voipms.methods import Call, Method, context
from dialgate.entrypoints.voipms.wire import VoipmsError, flag, one_zero
from dialgate.services import dids, lookups

ACTOR = "voipms-api"
BILLING_TYPES = {"1": "per_minute", "2": "flat"}
BILLING_CODES = {v: k for k, v in BILLING_TYPES.items()}
ROUTING_KEYS = ("routing", "failover_busy", "failover_unreachable", "failover_noanswer")
# A well-formed target that does not exist on the account: the status of its kind.
UNKNOWN_TARGET = {
    "account": "invalid_account",
    "vm": "invalid_mailbox",
    "fwd": "invalid_forwarding",
    "ivr": "invalid_ivr",
    "queue": "invalid_queue",
    "grp": "invalid_ringgroup",
    "tc": "invalid_timecondition",
}
FIELD_STATUS = {
    "number": "invalid_did",
    "pop": "invalid_serverpop",
    "dial_time": "invalid_dialtime",
    "cnam_lookup": "invalid_cnam",
    "plan": "invalid_billingtype",
    "description": "invalid_note",
}
NOTE_MAX = 100  # our description's limit; longer notes are note_toolong


def _did_number(call: Call) -> str:
    raw = call.get("did")
    if raw is None:
        raise VoipmsError("missing_did")
    return raw


def _check_did(call: Call, number: str) -> None:
    """invalid_did, before any other value is looked at, unless the caller owns the DID (the
    service's NotFound or the number's field error, both invalid_did in ``ERRORS``)."""
    with call.db.uow(write=False) as uow:
        dids.show_did(uow, number, account=call.account)


# The request parameter that carried each DID field the service may refuse.
_PARAM_OF = {"description": "note"}


def _status(error: FieldError, params: Mapping[str, str]) -> str:
    """A DID field error as its status; a refused routing target by the header it had."""
    field, code = error.field, error.code
    given = params.get(_PARAM_OF.get(field, field), "")
    if field in ROUTING_KEYS:
        header = given.partition(":")[0].strip().lower()
        if code == "unknown_target" and header in UNKNOWN_TARGET:
            return UNKNOWN_TARGET[header]
        return "invalid_routing_header" if field == "routing" else "invalid_failover_header"
    if field == "description" and len(given) > NOTE_MAX:
        return "note_toolong"
    return FIELD_STATUS.get(field, "invalid_" + field.replace("_", ""))


def _set(call: Call, number: str, changes: dict[str, object]) -> dict[str, Any]:
    """Apply the changes to one of the caller's DIDs, all or nothing."""
    dids.set_did(call.db, number, changes, actor=ACTOR, account=call.account)
    return {"status": "success"}


def _pop_name(call: Call, raw: str) -> str:
    """A ``server_pop`` id (a POP name is accepted too) -> our POP name."""
    with call.db.uow(write=False) as uow:
        ids = context(uow).pop_ids
    value = raw.strip().lower()
    by_id = {str(i): name for name, i in ids.items()}
    if value in by_id:
        return by_id[value]
    if value in ids:
        return value
    raise VoipmsError("invalid_serverpop")


def set_did_routing(call: Call) -> dict[str, Any]:
    number = _did_number(call)
    routing = call.get("routing")
    if routing is None:
        raise VoipmsError("missing_routing")
    return _set(call, number, {"routing": routing})


def set_did_pop(call: Call) -> dict[str, Any]:
    number = _did_number(call)
    pop = call.get("pop")
    if pop is None:
        raise VoipmsError("missing_serverpop")
    _check_did(call, number)
    return _set(call, number, {"pop": _pop_name(call, pop)})


_INFO_REQUIRED = (
    ("routing", "missing_routing"),
    ("pop", "missing_serverpop"),
    ("dialtime", "missing_dialtime"),
    ("cnam", "missing_cnam"),
    ("billing_type", "missing_billingtype"),
)


def set_did_info(call: Call) -> dict[str, Any]:
    number = _did_number(call)
    for param, status in _INFO_REQUIRED:
        if call.get(param) is None:
            raise VoipmsError(status)
    _check_did(call, number)
    changes: dict[str, object] = {"routing": call.get("routing")}
    for key in ROUTING_KEYS[1:]:
        if (value := call.get(key)) is not None:
            changes[key] = value
    changes["pop"] = _pop_name(call, call.get("pop") or "")
    changes["dial_time"] = call.get("dialtime")
    changes["cnam_lookup"] = flag(call.get("cnam") or "", invalid="invalid_cnam")
    plan = BILLING_TYPES.get((call.get("billing_type") or "").strip())
    if plan is None:
        raise VoipmsError("invalid_billingtype")
    changes["plan"] = plan
    if (note := call.get("note")) is not None:
        changes["description"] = note
    return _set(call, number, changes)


def _mailbox(view: dids.DidView) -> str:
    for key in ROUTING_KEYS:
        header, _, value = str(view.values[key]).partition(":")
        if header == "vm":
            return value
    return ""


def _present(view: dids.DidView, pop_ids: Mapping[str, int]) -> dict[str, Any]:
    v = view.values
    return {
        "did": view.number,
        "description": v["description"],
        "routing": v["routing"],
        "failover_busy": v["failover_busy"],
        "failover_unreachable": v["failover_unreachable"],
        "failover_noanswer": v["failover_noanswer"],
        "voicemail": _mailbox(view),
        "pop": pop_ids.get(v["pop"], ""),
        "dialtime": v["dial_time"],
        "cnam": one_zero(bool(v["cnam_lookup"])),
        "e911": one_zero(bool(v["e911_enabled"])),
        "callerid_prefix": "",
        "note": v["description"],
        "port_out_pin": "",
        "billing_type": BILLING_CODES.get(v["plan"], "1"),
        "sms_available": "0",
        "sms_enabled": "0",
    }


def _routed_to(call: Call, subject: str, invalid: str) -> str:
    """``100000_office`` -> its routing target, if it is one of the caller's sub accounts."""
    main, sep, user = subject.strip().partition("_")
    if not sep or main != call.account:
        raise VoipmsError(invalid)
    with call.db.uow(write=False) as uow:
        account = lookups.get_account(uow, call.account)
        if lookups.find_subaccount(uow, account, user) is None:
            raise VoipmsError(invalid)
    return f"account:{main}_{user}"


def get_dids_info(call: Call) -> dict[str, Any]:
    """All DIDs; ``client`` (a sub account) or ``did`` (a DID or a sub account) narrows them.
    A sub account's DIDs are those whose main routing goes to it."""
    client, did = call.get("client"), call.get("did")
    target = _routed_to(call, client, "invalid_client") if client is not None else None
    number: str | None = None
    if did is not None:
        if "_" in did:
            target = _routed_to(call, did, "invalid_did")
        else:
            number = dids.normalize_number(did)  # a field error on "number": invalid_did
    with call.db.uow(write=False) as uow:
        pop_ids = context(uow).pop_ids
        views = dids.list_dids(uow, call.account)
    found = [
        v
        for v in views
        if (number is None or v.number == number)
        and (target is None or v.values["routing"] == target)
    ]
    if not found:
        raise VoipmsError("no_did")
    return {"status": "success", "dids": [_present(v, pop_ids) for v in found]}


# A DID that is not the caller's (or not a number) is invalid_did; field errors by field.
ERRORS = Statuses(not_found="invalid_did", invalid=_status)

METHODS: dict[str, Method] = {
    "getDIDsInfo": get_dids_info,
    "setDIDRouting": set_did_routing,
    "setDIDInfo": set_did_info,
    "setDIDPOP": set_did_pop,
}

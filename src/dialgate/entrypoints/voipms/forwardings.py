"""VoIP.ms call forwarding methods: getForwardings, setForwarding, delForwarding.

Validation is the forwarding service's; ``ERRORS`` says how its field errors read as the
documented statuses. ``phone_number`` is presented as the account dials it in NANP mode (10
digits, or 011 + the international number), which both dialing modes accept back. Deleting a
forwarding a DID still routes to answers ``account_with_dids`` (the reference has no status of
its own for a forwarding in use; that one says the same of an account).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialgate.domain import forwarding as f
from dialgate.domain.errors import FieldError
from dialgate.domain.snapshot import nanp10
from dialgate.entrypoints.voipms.errors import Statuses
from dialgate.entrypoints.voipms.methods import Call, Method
from dialgate.entrypoints.voipms.wire import VoipmsError, flag, one_zero
from dialgate.services import forwardings

ACTOR = "voipms-api"
FIELD_STATUS = {
    "phone_number": "invalid_phonenumber",
    "callerid_override": "invalid_callerid_override",
    "description": "invalid_description",
    "dtmf_digits": "invalid_dtmf_digits",
    "pause": "invalid_pause",
    "diversion_header": "invalid_diversion_header",
    "forwarding": "invalid_forwarding",
}
PARAMS = ("phone_number", "callerid_override", "description", "dtmf_digits", "pause")


def _dialable(e164: str) -> str:
    return nanp10(e164) or "011" + e164.lstrip("+")


def _present(entry: f.Forwarding) -> dict[str, Any]:
    return {
        "forwarding": entry.id,
        "phone_number": _dialable(entry.phone_number),
        "callerid_override": entry.callerid_override,
        "description": entry.description,
        "dtmf_digits": entry.dtmf_digits,
        "pause": str(entry.pause),
        "diversion_header": one_zero(entry.diversion_header),
    }


def _ident(raw: str) -> str:
    if not raw.strip().isdigit():
        raise VoipmsError("invalid_forwarding")
    return raw.strip()


def get_forwardings(call: Call) -> dict[str, Any]:
    """All forwardings, or the one ``forwarding`` names."""
    wanted = call.get("forwarding")
    with call.db.uow(write=False) as uow:
        if wanted is not None:
            found = [forwardings.get_forwarding(uow, call.account, _ident(wanted))]
        else:
            found = forwardings.list_forwardings(uow, call.account)
    if not found:
        raise VoipmsError("no_forwarding")
    return {"status": "success", "forwardings": [_present(e) for e in found]}


def set_forwarding(call: Call) -> dict[str, Any]:
    """Update ``forwarding`` if given, else add one; ``phone_number`` is always required."""
    if call.get("phone_number") is None:
        raise VoipmsError("missing_phonenumber")
    changes: dict[str, object] = {k: v for k in PARAMS if (v := call.get(k)) is not None}
    if (diversion := call.get("diversion_header")) is not None:
        changes["diversion_header"] = flag(diversion, invalid="invalid_diversion_header")
    ident = call.get("forwarding")
    if ident is None:
        entry_id = forwardings.add_forwarding(call.db, call.account, changes, actor=ACTOR).id
    else:
        entry_id = int(_ident(ident))
        forwardings.set_forwarding(call.db, call.account, entry_id, changes, actor=ACTOR)
    return {"status": "success", "forwarding": entry_id}


def del_forwarding(call: Call) -> dict[str, Any]:
    ident = call.get("forwarding")
    if ident is None:
        raise VoipmsError("missing_forwarding")
    forwardings.delete_forwarding(call.db, call.account, _ident(ident), actor=ACTOR)
    return {"status": "success"}


def _status(error: FieldError, _params: Mapping[str, str]) -> str:
    if error.code == "missing_phonenumber":
        return "missing_phonenumber"
    return FIELD_STATUS.get(error.field, "invalid_forwarding")


# A forwarding that is not the caller's is invalid_forwarding; one a DID still routes to cannot
# be deleted (account_with_dids, see above).
ERRORS = Statuses(not_found="invalid_forwarding", invalid=_status, conflict="account_with_dids")

METHODS: dict[str, Method] = {
    "getForwardings": get_forwardings,
    "setForwarding": set_forwarding,
    "delForwarding": del_forwarding,
}

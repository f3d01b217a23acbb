"""The VoIP.ms API methods, each a thin translation to and from Dialgate's services."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dialgate.adapters import geo
from dialgate.adapters.db.models import AccountRow, SubAccountRow
from dialgate.domain import catalogs as domain_catalogs
from dialgate.domain import settings as s
from dialgate.domain import values as v
from dialgate.entrypoints.voipms import mapping as m
from dialgate.entrypoints.voipms.errors import Statuses
from dialgate.entrypoints.voipms.wire import VoipmsError
from dialgate.services import accounts, catalogs, directory, lookups
from dialgate.services.uow import Database, UnitOfWork

ACTOR = "voipms-api"


@dataclass(frozen=True, slots=True)
class Call:
    db: Database
    account: str  # main account number of the caller
    params: Mapping[str, str]
    client_ip: str | None

    def get(self, name: str) -> str | None:
        return self.params.get(name)


Method = Callable[[Call], dict[str, Any]]


def _listing(
    name: str, rows: list[dict[str, Any]], wanted: str | None, invalid: str
) -> dict[str, Any]:
    """The shape every catalog method shares: all rows, or the one matching ``value``."""
    if wanted is not None:
        rows = [r for r in rows if str(r["value"]).lower() == wanted.strip().lower()]
        if not rows:
            raise VoipmsError(invalid)
    return {"status": "success", name: rows}


def _choices(table: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"value": k, "description": v} for k, v in table.items()]


def context(uow: UnitOfWork) -> m.Context:
    return m.Context({p.name: p.id for p in catalogs.list_pops(uow)})


# --- general and catalogs ---------------------------------------------------------------------


def get_ip(call: Call) -> dict[str, Any]:
    return {"status": "success", "ip": call.client_ip or ""}


def get_servers_info(call: Call) -> dict[str, Any]:
    with call.db.uow(write=False) as uow:
        pops = catalogs.list_pops(uow)
        recommended = accounts.show_settings(uow, call.account).values.get("did_pop")
    rows = [
        {
            "value": p.id,
            "server_name": p.city,
            "server_shortname": p.city.split(",")[0],
            "server_hostname": p.hostname,
            "server_ip": "",
            "server_country": geo.country_name(p.country),
            "server_pop": p.id,
            "server_recommended": "Yes" if p.name == recommended else "No",
        }
        for p in pops
    ]
    result = _listing("servers", rows, call.get("server_pop"), "invalid_serverpop")
    for row in result["servers"]:
        del row["value"]
    return result


def get_countries(call: Call) -> dict[str, Any]:
    rows = [
        {"value": c.code, "description": c.name}
        for c in catalogs.list_countries("en", domestic=True)
    ]
    return _listing("countries", rows, call.get("country"), "invalid_country")


def get_languages(call: Call) -> dict[str, Any]:
    return _listing(
        "languages", _choices(domain_catalogs.LANGUAGES), call.get("language"), "invalid_language"
    )


def get_routes(call: Call) -> dict[str, Any]:
    return _listing("routes", _choices(m.ROUTE_LABELS), call.get("route"), "invalid_route")


def get_protocols(call: Call) -> dict[str, Any]:
    return _listing(
        "protocols", _choices(m.PROTOCOL_LABELS), call.get("protocol"), "invalid_protocol"
    )


def get_auth_types(call: Call) -> dict[str, Any]:
    return _listing("auth_types", _choices(m.AUTH_TYPES), call.get("type"), "invalid_authtype")


def get_device_types(call: Call) -> dict[str, Any]:
    table = {code: domain_catalogs.DEVICE_TYPES[key] for code, key in m.DEVICE_TYPES.items()}
    return _listing("device_types", _choices(table), call.get("device_type"), "invalid_devicetype")


def get_dtmf_modes(call: Call) -> dict[str, Any]:
    return _listing(
        "dtmf_modes", _choices(m.DTMF_LABELS), call.get("dtmf_mode"), "invalid_dtmfmode"
    )


def get_nat(call: Call) -> dict[str, Any]:
    return _listing("nat", _choices(domain_catalogs.NAT_MODES), call.get("nat"), "invalid_nat")


def get_lock_international(call: Call) -> dict[str, Any]:
    return _listing(
        "lock_international",
        _choices(m.LOCK_INTERNATIONAL),
        call.get("lock_international"),
        "invalid_lockinternational",
    )


def get_allowed_codecs(call: Call) -> dict[str, Any]:
    return _listing("allowed_codecs", _choices(m.CODEC_LABELS), call.get("codec"), "invalid_codec")


def get_music_on_hold(call: Call) -> dict[str, Any]:
    def row(value: str, description: str) -> dict[str, Any]:
        return {
            "value": value,
            "description": description,
            "recordings": "",
            "total": "0",
            "volume": "",
            "sort": "",
            "custom": "0",
        }

    rows = [row(m.MOH_DEFAULT, m.MOH_DEFAULT_LABEL)] + [
        row(moh.key, moh.label) for moh in domain_catalogs.MUSIC_ON_HOLD
    ]
    return _listing("music_on_hold", rows, call.get("music_on_hold"), "invalid_musiconhold")


# --- sub accounts ---------------------------------------------------------------------------


def _present(
    uow: UnitOfWork, account: AccountRow, sub: SubAccountRow, ctx: m.Context
) -> dict[str, Any]:
    view = accounts.show_settings(uow, sub.name)
    values = {**view.values, "description": view.values.get("description", "")}
    fields = m.encode_subaccount(values, view.sources, ctx)
    # Passwords are kept as digests: never returned (and a write-back without one keeps it).
    return {
        "id": sub.id,
        "account": sub.name,
        "username": sub.username,
        **fields,
        "auth_type": "1",
        "ip": "",
        "language": account.language,
    }


def get_subaccounts(call: Call) -> dict[str, Any]:
    wanted = call.get("account")
    with call.db.uow(write=False) as uow:
        account = lookups.get_account(uow, call.account)
        ctx = context(uow)
        subs = lookups.list_subaccounts(uow, account)
        if wanted is not None:
            subs = [s_ for s_ in subs if wanted in (s_.name, s_.username, str(s_.id))]
        if not subs:
            raise VoipmsError("no_subaccount")
        return {"status": "success", "accounts": [_present(uow, account, x, ctx) for x in subs]}


def _require(call: Call, names: tuple[tuple[str, str], ...]) -> None:
    for param, status in names:
        if call.get(param) is None:
            raise VoipmsError(status)


def _check_auth(call: Call) -> None:
    if call.get("auth_type") not in m.AUTH_TYPES:
        raise VoipmsError("invalid_authtype")
    if call.get("ip") is not None:
        raise VoipmsError("invalid_ip_auth")


def _checked_password(call: Call) -> str | None:
    password = call.get("password")
    if password is not None:
        status = m.password_status(password)
        if status:
            raise VoipmsError(status)
    return password


def _wanted_changes(
    call: Call,
    ctx: m.Context,
    vctx: v.ValidationContext,
    values: Mapping[str, Any],
    sources: Mapping[str, str],
) -> dict[str, Any]:
    """The settings changes a request asks for: only values that differ from what the sub
    account has now (see the mapping module for why)."""
    changes: dict[str, Any] = {}
    for field in m.SUB_FIELDS:
        raw = call.get(field.param)
        if raw is None:
            continue
        decoded = field.decode(raw, ctx)
        overridden = sources.get(field.key) == "override"
        if decoded == m.INHERIT and field.key in s.SUB_OVERRIDE_KEYS:
            if overridden:
                changes[field.key] = ""
            continue
        try:
            value = s.spec_for(field.key).parse(decoded, vctx)
        except v.InvalidValue:
            raise VoipmsError(field.invalid) from None
        # Equal to the current value (inherited or not): nothing to change, keep inheriting.
        if value != values.get(field.key):
            changes[field.key] = value
    return changes


def create_subaccount(call: Call) -> dict[str, Any]:
    _require(
        call,
        (
            ("username", "missing_username"),
            ("protocol", "missing_protocol"),
            ("auth_type", "missing_authtype"),
        ),
    )
    _check_auth(call)
    _require(
        call,
        (("password", "missing_password"), *m.REQUIRED),
    )
    password = _checked_password(call)
    assert password is not None
    username = call.get("username") or ""
    # Reading what the wire's codes mean for this account (its POPs, the values a new sub
    # account would inherit); the use case checks the changes again in its own transaction.
    with call.db.uow(write=False) as uow:
        account = lookups.get_account(uow, call.account)
        ctx = context(uow)
        main = lookups.load_settings(account)
        fresh = s.effective_settings(main, s.sub_defaults())
        changes = _wanted_changes(
            call, ctx, lookups.validation_context(uow, account), fresh.values, fresh.sources
        )
    changes = {key: value for key, value in changes.items() if value != ""}
    sub = accounts.create_subaccount(
        call.db, call.account, username, password=password, changes=changes, actor=ACTOR
    )
    return {"status": "success", "id": sub.id, "account": sub.name}


def _sub_by_id(uow: UnitOfWork, account: AccountRow, raw: str | None) -> SubAccountRow:
    if raw is None:
        raise VoipmsError("missing_id")
    if not raw.strip().isdigit():
        raise VoipmsError("invalid_id")
    sub = directory.find_subaccount_by_id(uow, account, int(raw))
    if sub is None:
        raise VoipmsError("invalid_id")
    return sub


def set_subaccount(call: Call) -> dict[str, Any]:
    _require(call, (("id", "missing_id"), ("auth_type", "missing_authtype")))
    _check_auth(call)
    _require(call, m.REQUIRED)
    password = _checked_password(call)
    # As in create_subaccount: a read to translate the request, then the use case.
    with call.db.uow(write=False) as uow:
        account = lookups.get_account(uow, call.account)
        sub = _sub_by_id(uow, account, call.get("id"))
        view = accounts.show_settings(uow, sub.name)
        changes = _wanted_changes(
            call,
            context(uow),
            lookups.validation_context(uow, account),
            view.values,
            view.sources,
        )
    if password is not None:
        changes["sip_password"] = password
    if changes:
        accounts.update_settings(call.db, sub.name, changes, actor=ACTOR)
    return {"status": "success"}


def del_subaccount(call: Call) -> dict[str, Any]:
    with call.db.uow(write=False) as uow:
        account = lookups.get_account(uow, call.account)
        sub = _sub_by_id(uow, account, call.get("id"))
    accounts.delete_subaccount(call.db, sub.name, actor=ACTOR)
    return {"status": "success"}


# --- registrations and voicemail ------------------------------------------------------------


def get_registration_status(call: Call) -> dict[str, Any]:
    name = call.get("account")
    if name is None:
        raise VoipmsError("missing_account")
    with call.db.uow(write=False) as uow:
        account = lookups.get_account(uow, call.account)
        main, sep, user = name.partition("_")
        if main != account.number or (sep and lookups.find_subaccount(uow, account, user) is None):
            raise VoipmsError("invalid_account")
        found = directory.registrations(uow, name)
    registrations = []
    for reg in found:
        host, _, port = reg.received.removeprefix("sip:").rpartition(":")
        transport = reg.socket.split(":", 1)[0].upper() if reg.socket else "UDP"
        registrations.append(
            {
                "server_name": "",
                "server_shortname": "",
                "server_hostname": "",
                "server_ip": "",
                "server_country": "",
                "server_pop": "",
                "register_ip": host or reg.contact,
                "register_port": port,
                "register_next": reg.expires.strftime("%Y-%m-%d %H:%M:%S") if reg.expires else "",
                "register_protocol": "SIP",
                "register_transport": transport,
            }
        )
    return {
        "status": "success",
        "registered": "yes" if registrations else "no",
        "registrations": registrations,
    }


def get_voicemails(call: Call) -> dict[str, Any]:
    wanted = call.get("mailbox")
    with call.db.uow(write=False) as uow:
        account = lookups.get_account(uow, call.account)
        boxes = directory.list_mailboxes(uow, account)
    if wanted is not None:
        boxes = [b for b in boxes if b.mailbox == wanted.strip()]
    if not boxes:
        raise VoipmsError("no_mailbox")
    return {
        "status": "success",
        "voicemails": [
            {"mailbox": b.mailbox, "name": b.name, "email": b.email, "language": account.language}
            for b in boxes
        ],
    }


# Sub accounts: a field error reads as its field's status (mapping), a conflict as its own code
# (used_username...), anything not found as invalid_id.
ERRORS = Statuses(
    not_found="invalid_id",
    invalid=lambda error, _params: m.status_for_field_error(error.field, error.code),
)

METHODS: dict[str, Method] = {
    "getIP": get_ip,
    "getServersInfo": get_servers_info,
    "getCountries": get_countries,
    "getLanguages": get_languages,
    "getRoutes": get_routes,
    "getProtocols": get_protocols,
    "getAuthTypes": get_auth_types,
    "getDeviceTypes": get_device_types,
    "getDTMFModes": get_dtmf_modes,
    "getNAT": get_nat,
    "getLockInternational": get_lock_international,
    "getAllowedCodecs": get_allowed_codecs,
    "getMusicOnHold": get_music_on_hold,
    "getSubAccounts": get_subaccounts,
    "createSubAccount": create_subaccount,
    "setSubAccount": set_subaccount,
    "delSubAccount": del_subaccount,
    "getRegistrationStatus": get_registration_status,
    "getVoicemails": get_voicemails,
}

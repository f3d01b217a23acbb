"""DIDs: add (with the account's Default DID Routing), list and change, all or nothing, audited.

A DID's keys are validated with the same parsers as the account settings; the audit subject is
the DID number. Every lookup is scoped to the account that owns the DID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from dialgate.adapters.db.models import AccountRow, DidRow
from dialgate.domain import settings as s
from dialgate.domain import values as v
from dialgate.domain.did_fields import DIAL_TIME_MAX as DIAL_TIME_MAX
from dialgate.domain.did_fields import DIAL_TIME_MIN as DIAL_TIME_MIN
from dialgate.domain.did_fields import DID_KEYS as DID_KEYS
from dialgate.domain.did_fields import KINDS as KINDS
from dialgate.domain.errors import Conflict, FieldError, NotFound, ValidationFailed
from dialgate.services import audit, lookups, notifications, policy_feed
from dialgate.services.uow import UnitOfWork, query, use_case

# Keys whose change alters call decisions (emergency caller ID) and so the policy snapshot.
POLICY_KEYS = frozenset({"e911_enabled"})


@dataclass(frozen=True, slots=True)
class DidView:
    account: str
    number: str
    values: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "number": self.number, **self.values}


def _values(row: DidRow) -> dict[str, Any]:
    return {key: getattr(row, key) for key in DID_KEYS}


def view(account_number: str, row: DidRow) -> DidView:
    return DidView(account_number, row.number, _values(row))


def _parse(changes: Mapping[str, object], ctx: v.ValidationContext) -> dict[str, Any]:
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for key, raw in changes.items():
        kind = KINDS.get(key)
        if kind is None:
            errors.append(FieldError(key, "unknown_key", f"{key!r} is not a DID setting"))
            continue
        try:
            out[key] = kind.parse(raw, ctx)
        except v.InvalidValue as exc:
            errors.append(exc.field_error(key))
    if errors:
        raise ValidationFailed(errors)
    return out


def normalize_number(number: str) -> str:
    try:
        return str(v.NanpNumber().parse(number, v.NO_CONTEXT))
    except v.InvalidValue as exc:
        raise ValidationFailed([exc.field_error("number")]) from None


def find_did(uow: UnitOfWork, number: str, *, account: str) -> DidRow | None:
    """A DID by number, only if ``account`` owns it (another account's DID is not found)."""
    owner = lookups.find_account(uow, account)
    if owner is None:
        return None
    return uow.session.scalars(
        select(DidRow).where(DidRow.number == number, DidRow.account_id == owner.id)
    ).first()


def get_did(uow: UnitOfWork, number: str, *, account: str) -> DidRow:
    row = find_did(uow, normalize_number(number), account=account)
    if row is None:
        raise NotFound("DID", number)
    return row


def get_did_in_service(uow: UnitOfWork, number: str) -> DidRow:
    """The DID a carrier's call is for, whoever has it. Only the switch's inbound routing looks
    a DID up without an account: it learns the account from the DID."""
    row = uow.session.scalars(
        select(DidRow).where(DidRow.number == normalize_number(number))
    ).first()
    if row is None:
        raise NotFound("DID", number)
    return row


def _in_service(uow: UnitOfWork, number: str) -> bool:
    """Whether any account has this DID (numbers are unique across accounts)."""
    return uow.session.scalars(select(DidRow.id).where(DidRow.number == number)).first() is not None


@query
def owner_of(uow: UnitOfWork, number: str) -> str:
    """The account that has a DID: for the operator's tools (the CLI), which act on any DID
    and then go through the same account-scoped use cases as the customer's faces."""
    owner = uow.session.scalars(
        select(AccountRow.number)
        .join(DidRow, DidRow.account_id == AccountRow.id)
        .where(DidRow.number == normalize_number(number))
    ).first()
    if owner is None:
        raise NotFound("DID", number)
    return owner


def show_did(uow: UnitOfWork, number: str, *, account: str) -> DidView:
    """One DID of ``account``; another account's DID is ``NotFound`` like a missing one."""
    return view(account, get_did(uow, number, account=account))


@use_case
def add_did(
    uow: UnitOfWork,
    account_number: str,
    number: str,
    changes: Mapping[str, object] | None = None,
    *,
    actor: str,
) -> DidView:
    """A new DID takes the account's Default DID Routing, then ``changes`` on top."""
    account = lookups.get_account(uow, account_number)
    digits = normalize_number(number)
    ctx = lookups.validation_context(uow, account)
    parsed = _parse(changes or {}, ctx)
    if _in_service(uow, digits):
        raise Conflict("did_in_use", f"DID {digits} is already in service", field="number")
    main = lookups.load_settings(account)
    values: dict[str, Any] = {
        "description": "",
        "routing": main["did_routing"],
        "failover_busy": main["did_failover_busy"],
        "failover_unreachable": main["did_failover_unreachable"],
        "failover_noanswer": main["did_failover_noanswer"],
        "pop": main["did_pop"],
        "plan": main["did_plan"],
        "cnam_lookup": main["did_cnam_lookup"],
        "e911_enabled": False,
        "dial_time": 60,
        **parsed,
    }
    row = DidRow(account_id=account.id, number=digits, **values)
    uow.session.add(row)
    uow.session.flush()
    created = (
        s.Change("did", "", "created"),
        *(s.Change(k, "", KINDS[k].display(value)) for k, value in values.items() if k in parsed),
    )
    audit.audit(uow, account, created, subject=digits, actor=actor)
    if values["e911_enabled"]:
        policy_feed.policy_changed(uow, account)
    return view(account.number, row)


def list_dids(uow: UnitOfWork, account_number: str) -> list[DidView]:
    account = lookups.get_account(uow, account_number)
    rows = uow.session.scalars(
        select(DidRow).where(DidRow.account_id == account.id).order_by(DidRow.number)
    )
    return [view(account.number, row) for row in rows]


@use_case
def set_did(
    uow: UnitOfWork,
    number: str,
    changes: Mapping[str, object],
    *,
    actor: str,
    account: str,
) -> tuple[s.Change, ...]:
    """Change a DID of ``account``, all or nothing; returns what changed."""
    if not changes:
        raise ValidationFailed.single("changes", "empty", "give at least one key=value")
    row = get_did(uow, number, account=account)
    owner = uow.session.get_one(AccountRow, row.account_id)
    parsed = _parse(changes, lookups.validation_context(uow, owner))
    changed = tuple(
        s.Change(key, KINDS[key].display(getattr(row, key)), KINDS[key].display(value))
        for key, value in parsed.items()
        if getattr(row, key) != value
    )
    if not changed:
        return ()
    for key, value in parsed.items():
        setattr(row, key, value)
    audit.audit(uow, owner, changed, subject=row.number, actor=actor)
    if any(c.key in POLICY_KEYS for c in changed):
        policy_feed.policy_changed(uow, owner)
    notifications.on_did_changed(uow, owner, row.number, changed)
    return changed

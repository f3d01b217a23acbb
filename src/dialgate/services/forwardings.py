"""Call forwarding entries: add, list, change and delete, all or nothing, audited.

Every lookup is scoped to the account that owns the forwarding (another account's forwarding is
``NotFound`` like a missing one). The phone number is validated with the account's dialing mode
(``domain.forwarding``). A forwarding that a DID routes or fails over to, or that the Default
DID Routing names, cannot be deleted: the DID would silently route nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from dialgate.adapters.db.models import AccountRow, DidRow, ForwardingRow
from dialgate.adapters.numbering_cache import numbering_plan
from dialgate.domain import forwarding as f
from dialgate.domain import settings as s
from dialgate.domain.errors import Conflict, NotFound, ValidationFailed
from dialgate.services import audit, lookups
from dialgate.services.uow import UnitOfWork, use_case

ROUTING_SETTINGS = (
    "did_routing", "did_failover_busy", "did_failover_unreachable", "did_failover_noanswer"
)


def to_domain(row: ForwardingRow) -> f.Forwarding:
    return f.Forwarding(
        id=row.id,
        phone_number=row.phone_number,
        description=row.description,
        callerid_override=row.callerid_override,
        dtmf_digits=row.dtmf_digits,
        pause=Decimal(row.pause),
        diversion_header=row.diversion_header,
    )


def _parse(
    uow: UnitOfWork, account: AccountRow, changes: Mapping[str, object]
) -> dict[str, Any]:
    mode = str(lookups.load_settings(account).get("dialing_mode") or "nanp")
    return f.parse(
        changes,
        mode=mode,
        plan=numbering_plan(),
        ctx=lookups.validation_context(uow, account),
    )


def _ident(forwarding: object) -> int:
    text = str(forwarding).strip()
    if not text.isdigit() or len(text) > 18:
        raise ValidationFailed.single(
            "forwarding", "invalid_forwarding", f"must be a forwarding id (digits); got {text!r}"
        )
    return int(text)


def _row(uow: UnitOfWork, account: AccountRow, forwarding: object) -> ForwardingRow:
    ident = _ident(forwarding)
    row = uow.session.scalars(
        select(ForwardingRow).where(
            ForwardingRow.id == ident, ForwardingRow.account_id == account.id
        )
    ).first()
    if row is None:
        raise NotFound("forwarding", str(forwarding))
    return row


def list_forwardings(uow: UnitOfWork, account_number: str) -> list[f.Forwarding]:
    account = lookups.get_account(uow, account_number)
    rows = uow.session.scalars(
        select(ForwardingRow)
        .where(ForwardingRow.account_id == account.id)
        .order_by(ForwardingRow.id)
    )
    return [to_domain(row) for row in rows]


def get_forwarding(uow: UnitOfWork, account_number: str, forwarding: object) -> f.Forwarding:
    account = lookups.get_account(uow, account_number)
    return to_domain(_row(uow, account, forwarding))


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@use_case
def add_forwarding(
    uow: UnitOfWork, account_number: str, fields: Mapping[str, object], *, actor: str
) -> f.Forwarding:
    """A new forwarding; ``phone_number`` is required, the rest have VoIP.ms's defaults."""
    account = lookups.get_account(uow, account_number)
    if "phone_number" not in fields:
        raise ValidationFailed.single(
            "phone_number", "missing_phonenumber", "is required: the number to forward to"
        )
    parsed = _parse(uow, account, fields)
    row = ForwardingRow(
        account_id=account.id,
        phone_number=parsed["phone_number"],
        description=parsed.get("description", ""),
        callerid_override=parsed.get("callerid_override", ""),
        dtmf_digits=parsed.get("dtmf_digits", ""),
        pause=parsed.get("pause", Decimal("0.0")),
        diversion_header=parsed.get("diversion_header", False),
    )
    uow.session.add(row)
    uow.session.flush()
    created = (
        s.Change("forwarding", "", "created"),
        *(s.Change(k, "", _display(v)) for k, v in parsed.items()),
    )
    audit.audit(uow, account, created, subject=f"fwd:{row.id}", actor=actor)
    return to_domain(row)


@use_case
def set_forwarding(
    uow: UnitOfWork,
    account_number: str,
    forwarding: object,
    changes: Mapping[str, object],
    *,
    actor: str,
) -> tuple[s.Change, ...]:
    """Change a forwarding, all or nothing; returns what changed."""
    if not changes:
        raise ValidationFailed.single("changes", "empty", "give at least one field=value")
    account = lookups.get_account(uow, account_number)
    row = _row(uow, account, forwarding)
    parsed = _parse(uow, account, changes)
    changed = tuple(
        s.Change(key, _display(getattr(row, key)), _display(value))
        for key, value in parsed.items()
        if getattr(row, key) != value
    )
    for key, value in parsed.items():
        setattr(row, key, value)
    if changed:
        audit.audit(uow, account, changed, subject=f"fwd:{row.id}", actor=actor)
    return changed


def users(uow: UnitOfWork, account: AccountRow, target: str) -> list[str]:
    """What routes to ``target``: DIDs (routing or a failover) and Default DID Routing keys."""
    routed = uow.session.scalars(
        select(DidRow.number).where(
            DidRow.account_id == account.id,
            (DidRow.routing == target)
            | (DidRow.failover_busy == target)
            | (DidRow.failover_unreachable == target)
            | (DidRow.failover_noanswer == target),
        ).order_by(DidRow.number)
    ).all()
    main = lookups.load_settings(account)
    defaults = [f"setting {key}" for key in ROUTING_SETTINGS if main.get(key) == target]
    return [*(f"DID {number}" for number in routed), *defaults]


@use_case
def delete_forwarding(
    uow: UnitOfWork, account_number: str, forwarding: object, *, actor: str
) -> None:
    account = lookups.get_account(uow, account_number)
    row = _row(uow, account, forwarding)
    target = f"fwd:{row.id}"
    used_by = users(uow, account, target)
    if used_by:
        raise Conflict(
            "forwarding_in_use",
            f"forwarding {row.id} cannot be deleted: {', '.join(used_by)} route to it; "
            "point them elsewhere first",
            field="forwarding",
        )
    uow.session.delete(row)
    audit.audit(
        uow, account, (s.Change("forwarding", "created", "deleted"),), subject=target, actor=actor
    )

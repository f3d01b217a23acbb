"""Suspension that finishes the job, and restoring what can be restored.

Suspending (one transaction): the account and its sub accounts are disabled (calls refused by
the policy, REGISTER refused through Kamailio's subscriber rows: ``accounts.set_account_enabled``),
their rows in the shared ``location`` table are deleted (registrations in the database, shared
or written through), the customer is emailed in their language (outbox), and the operator audit
log gets the reason. After the commit, ``kick`` asks each Kamailio over JSON-RPC to drop the
in-memory registrations (``ul.rm``) and to end the calls in progress (``dlg.end_dlg``).

Restoring re-enables the account and emails the customer; devices register again by
themselves (ended calls cannot come back).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select

from dialgate.adapters import kamailio_rpc
from dialgate.adapters.db.models import AccountRow, AuditRow, LocationRow
from dialgate.domain import suspension as d
from dialgate.domain.errors import ValidationFailed
from dialgate.domain.notifications import Kind
from dialgate.services import accounts, lookups, notifications, operators
from dialgate.services.operators import Operator
from dialgate.services.uow import UnitOfWork, use_case


@dataclass(frozen=True, slots=True)
class Outcome:
    account: str
    changed: bool  # False: it already was in that state (nothing written)
    lines: frozenset[str]  # 100000 and its sub accounts' names
    registrations_removed: int = 0


@dataclass(slots=True)
class KickReport:
    calls_ended: int = 0
    errors: list[str] = field(default_factory=list)


def _lines(uow: UnitOfWork, account: AccountRow) -> frozenset[str]:
    return frozenset({account.number, *(s.name for s in lookups.list_subaccounts(uow, account))})


def _reason(reason: str | None, *, required: bool) -> str:
    why = (reason or "").strip()
    if required and not why:
        raise ValidationFailed.single("reason", "required", "say why (1 to 200 characters)")
    return why


@use_case
def suspend(uow: UnitOfWork, operator: Operator, number: str, reason: str | None) -> Outcome:
    why = _reason(reason, required=True)
    account = lookups.get_account(uow, number)
    lines = _lines(uow, account)
    if not accounts.set_account_enabled(uow, number, False, reason=why, actor=operator.actor):
        return Outcome(number, False, lines)
    result = uow.session.execute(
        delete(LocationRow).where(LocationRow.username.in_(sorted(lines)))
    )
    removed = int(getattr(result, "rowcount", 0) or 0)
    notifications.on_suspension(uow, account, Kind.ACCOUNT_SUSPENDED, why)
    operators.audit(uow, operator, "account.suspend", number, why)
    return Outcome(number, True, lines, removed)


@use_case
def restore(uow: UnitOfWork, operator: Operator, number: str, reason: str | None) -> Outcome:
    why = _reason(reason, required=False)
    account = lookups.get_account(uow, number)
    lines = _lines(uow, account)
    if not accounts.set_account_enabled(uow, number, True, reason=why, actor=operator.actor):
        return Outcome(number, False, lines)
    notifications.on_suspension(uow, account, Kind.ACCOUNT_RESTORED, why)
    operators.audit(uow, operator, "account.restore", number, why)
    return Outcome(number, True, lines)


def kick(addresses: list[str], lines: frozenset[str]) -> KickReport:
    """After a committed suspension: drop in-memory registrations and end calls on every
    Kamailio. A server that does not answer is reported, not fatal (the policy already
    refuses the account's new calls and registrations)."""
    report = KickReport()
    for address in addresses:
        try:
            for line in sorted(lines):
                try:
                    kamailio_rpc.call(address, "ul.rm", "location", line)
                except kamailio_rpc.KamailioRpcError as exc:
                    if "not found" not in str(exc).lower():
                        raise
            report.calls_ended += kamailio_rpc.end_calls(address, set(lines))
        except kamailio_rpc.KamailioRpcError as exc:
            report.errors.append(str(exc))
    return report


def rpc_addresses(configured: str) -> list[str]:
    return [a.strip() for a in configured.split(",") if a.strip()]


def suspension_reason(uow: UnitOfWork, account: AccountRow) -> str | None:
    """Why a disabled account was suspended (the latest ``account_enabled`` audit row), or
    None if it is enabled."""
    if account.enabled:
        return None
    new = uow.session.scalars(
        select(AuditRow.new)
        .where(AuditRow.account_id == account.id, AuditRow.key == "account_enabled")
        .order_by(AuditRow.at.desc(), AuditRow.id.desc())
        .limit(1)
    ).first()
    return d.reason_of(new or "")

"""What operators do to customer accounts (console and admin API alike): find, look at,
create, move money. Every change writes the operator audit log with who did it; money needs
the admin role. Suspension is in ``services.suspension``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select

from dialgate.adapters.db import repo_cdrs, repo_outbox
from dialgate.adapters.db.models import AccountRow, DidRow
from dialgate.domain import catalogs
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.services import accounts, billing, decision_log, dids, lookups, operators, suspension
from dialgate.services.operators import Operator
from dialgate.services.uow import UnitOfWork, query, use_case

MONEY_KINDS = ("deposit", "credit")
OVERVIEW_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class AccountSummary:
    number: str
    email: str
    enabled: bool
    language: str
    balance: Decimal

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "email": self.email, "enabled": self.enabled,
                "language": self.language, "balance": str(self.balance)}


def _summary(uow: UnitOfWork, row: AccountRow) -> AccountSummary:
    return AccountSummary(row.number, row.email, row.enabled, row.language,
                          billing.current_balance(uow, row.number))


def search_accounts(uow: UnitOfWork, query: str, *, limit: int = 50) -> list[AccountSummary]:
    """Accounts whose number starts with, or email contains, ``query``, or that own the DID
    ``query`` (digits); an empty query lists the newest accounts."""
    q = query.strip()
    stmt = select(AccountRow).order_by(AccountRow.number).limit(limit)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        owners = None
        if q.isdigit():
            try:
                owners = select(DidRow.account_id).where(
                    DidRow.number == dids.normalize_number(q)
                )
            except ValidationFailed:  # not a DID: the number and email searches remain
                owners = None
        conditions = [AccountRow.number.like(f"{escaped}%", escape="\\"),
                      AccountRow.email.like(f"%{escaped.lower()}%", escape="\\")]
        if owners is not None:
            conditions.append(AccountRow.id.in_(owners))
        stmt = stmt.where(or_(*conditions))
    else:
        stmt = select(AccountRow).order_by(AccountRow.created_at.desc()).limit(limit)
    return [_summary(uow, row) for row in uow.session.scalars(stmt)]


@dataclass(frozen=True, slots=True)
class AccountDetail:
    summary: AccountSummary
    settings: dict[str, Any]
    subaccounts: list[str]
    dids: list[str]
    suspension_reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {**self.summary.to_json(), "settings": self.settings,
                "subaccounts": self.subaccounts, "dids": self.dids,
                "suspension_reason": self.suspension_reason}


def account_detail(uow: UnitOfWork, number: str) -> AccountDetail:
    """A customer's account as the operator sees it (read-only; secrets show as ***)."""
    row = lookups.get_account(uow, number)
    view = accounts.show_settings(uow, number)
    shown = view.to_json()["settings"]
    return AccountDetail(
        summary=_summary(uow, row),
        settings=shown,
        subaccounts=[s.name for s in lookups.list_subaccounts(uow, row)],
        dids=[d.number for d in dids.list_dids(uow, number)],
        suspension_reason=suspension.suspension_reason(uow, row),
    )


@use_case
def create_account(
    uow: UnitOfWork, operator: Operator, *, number: str, email: str, password: str,
    language: str = "en",
) -> AccountSummary:
    row = accounts.create_account(uow, number=number, email=email, password=password,
                                  actor=operator.actor)
    if language != "en":
        if language not in catalogs.LANGUAGES:
            raise ValidationFailed.single("language", "invalid_choice", "must be en, fr or es")
        row.language = language
    operators.audit(uow, operator, "account.create", number, f"email={row.email}")
    return _summary(uow, row)


@use_case
def move_money(
    uow: UnitOfWork, operator: Operator, number: str, *, kind: str, amount: object, reason: str
) -> Decimal:
    """A deposit (the customer paid) or a credit (the provider gives); admins only, always
    with a reason, which the ledger line and the audit log keep. Returns the new balance."""
    operators.require_money(operator)
    errors = []
    why = (reason or "").strip()
    if kind not in MONEY_KINDS:
        errors.append(("kind", "invalid_choice", "must be deposit or credit"))
    if not why or len(why) > 150:
        errors.append(("reason", "required", "say why (1 to 150 characters)"))
    if errors:
        raise ValidationFailed([FieldError(f, c, m) for f, c, m in errors])
    label = "Deposit" if kind == "deposit" else "Credit"
    description = f"{label}: {why}"
    if kind == "deposit":
        after = billing.deposit(uow, number, amount, description=description)
    else:
        after = billing.credit(uow, number, amount, description=description)
    operators.audit(uow, operator, f"account.{kind}", number, f"amount={amount}; reason={why}")
    return after


@dataclass(frozen=True, slots=True)
class Overview:
    """The console's live overview: calls that ended in the last ``OVERVIEW_WINDOW`` by
    outcome, the email outbox's backlog, and every worker's call decisions by reason."""

    by_outcome: dict[str, int]
    pending_emails: int
    failing_emails: int
    decisions: dict[str, int]

    @property
    def calls(self) -> int:
        return sum(self.by_outcome.values())

    @property
    def calls_per_second(self) -> float:
        return round(self.calls / OVERVIEW_WINDOW.total_seconds(), 3)


@query
def overview(uow: UnitOfWork) -> Overview:
    now = uow.now()
    pending, failing = repo_outbox.backlog(uow.session)
    return Overview(
        by_outcome=repo_cdrs.dispositions_since(uow.session, now - OVERVIEW_WINDOW),
        pending_emails=pending,
        failing_emails=failing,
        decisions=decision_log.recent(uow, now=now),
    )

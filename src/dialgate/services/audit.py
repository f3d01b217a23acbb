"""The account audit log: writing changes and reading them back (``settings history``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dialgate.adapters.db.models import AccountRow, AuditRow
from dialgate.domain import settings as s
from dialgate.services.lookups import get_account, get_subaccount, split_subject
from dialgate.services.uow import UnitOfWork


def audit(
    uow: UnitOfWork,
    account: AccountRow,
    changes: Sequence[s.Change],
    *,
    subject: str | None = None,
    actor: str = "system",
) -> None:
    """Append changes to the account's audit log (values already redacted by the caller)."""
    for change in changes:
        uow.session.add(
            AuditRow(
                account_id=account.id,
                subject=subject or account.number,
                actor=actor,
                key=change.key,
                old=change.old,
                new=change.new,
            )
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    subject: str
    actor: str
    key: str
    old: str
    new: str
    tab: str

    def to_json(self) -> dict[str, str]:
        return {
            "at": self.at.isoformat(),
            "account": self.subject,
            "actor": self.actor,
            "key": self.key,
            "old": self.old,
            "new": self.new,
            "tab": self.tab,
        }


def settings_history(
    uow: UnitOfWork, subject: str, *, tab: str | None = None, limit: int = 500
) -> list[AuditEntry]:
    main_number, username = split_subject(subject)
    account = get_account(uow, main_number)
    query = select(AuditRow).where(AuditRow.account_id == account.id)
    if username is not None:
        get_subaccount(uow, account, username)
        query = query.where(AuditRow.subject == subject)
    rows = uow.session.scalars(query.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit))
    out = []
    for row in rows:
        spec = s.SPECS_BY_KEY.get(row.key)
        row_tab = spec.tab.value if spec else ("general" if row.key == "description" else "account")
        if tab is None or row_tab == tab:
            out.append(
                AuditEntry(row.at, row.subject, row.actor, row.key, row.old, row.new, row_tab)
            )
    return out

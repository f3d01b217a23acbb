"""The policy change feed: how every process learns that an account's call policy changed."""

from __future__ import annotations

from sqlalchemy import update

from dialgate.adapters.db.models_core import AccountRow, PolicyChangeRow
from dialgate.services.uow import UnitOfWork


def policy_changed(uow: UnitOfWork, account: AccountRow) -> None:
    """Record that the account's call policy changed (for every process's snapshot cache)."""
    uow.session.execute(
        update(AccountRow).where(AccountRow.id == account.id).values(version=AccountRow.version + 1)
    )
    uow.session.add(PolicyChangeRow(account=account.number))
    uow.touched.add(account.number)

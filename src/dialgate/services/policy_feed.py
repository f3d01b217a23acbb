"""The policy change feed: how every process learns that an account's call policy changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, update

from dialgate.adapters.db import tables
from dialgate.services.uow import UnitOfWork

if TYPE_CHECKING:
    from dialgate.adapters.db.models_core import AccountRow


# What changed (``policy_changes.kind``): the call policy, to be compiled again, or only the
# balance, which a snapshot cache updates in place (every answered call changes it).
POLICY = "policy"
BALANCE = "balance"


def policy_changed(uow: UnitOfWork, account: AccountRow, *, kind: str = POLICY) -> None:
    """Record that the account's call policy changed (for every process's snapshot cache);
    ``kind=BALANCE`` when the balance is all that changed."""
    accounts = tables.accounts.c
    uow.execute(
        update(tables.accounts).where(accounts.id == account.id).values(
            version=accounts.version + 1
        )
    )
    uow.execute(insert(tables.policy_changes).values(account=account.number, kind=kind))
    uow.touched.add(account.number)

"""A use case owns its transaction: given a Database it commits; given a unit of work, it joins."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dialgate.adapters.db import tables
from dialgate.adapters.db.models import AccountRow, AuditRow
from dialgate.domain.errors import ValidationFailed
from dialgate.services import accounts, lookups
from dialgate.services.uow import Database


def _count(db: Database, row: type[AccountRow] | type[AuditRow]) -> int:
    with db.uow(write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(row)) or 0)


def test_given_a_database_the_use_case_commits_and_the_hooks_hear_of_it(db: Database) -> None:
    heard: list[set[str]] = []
    db.after_commit_hooks.append(heard.append)
    row = accounts.create_account(db, number="100000", email="o@example.com", password="Portal1234")
    assert row.number == "100000"  # what it returns stays readable after its transaction
    assert _count(db, AccountRow) == 1
    assert heard == [{"100000"}]
    accounts.update_settings(db, "100000", {"max_expiry": "600"}, actor="t")
    assert accounts.show_settings(db, "100000").values["max_expiry"] == 600
    assert heard == [{"100000"}, {"100000"}]


def test_given_a_unit_of_work_the_use_case_joins_it_and_leaves_the_commit(db: Database) -> None:
    with db.uow() as uow:
        accounts.create_account(uow, number="100000", email="o@example.com", password="Portal1234")
        accounts.create_subaccount(uow, "100000", "office", password="Office1234", actor="t")
        assert len(lookups.list_subaccounts(uow, lookups.get_account(uow, "100000"))) == 1
        # not committed: rolled back when the block ends
    assert _count(db, AccountRow) == 0


def test_a_rejected_change_writes_nothing(db: Database) -> None:
    accounts.create_account(db, number="100000", email="o@example.com", password="Portal1234")
    audit_rows = _count(db, AuditRow)
    before = accounts.show_settings(db, "100000").values
    with pytest.raises(ValidationFailed) as caught:
        accounts.update_settings(
            db, "100000", {"canada_route": "premium", "max_expiry": "-5"}, actor="t"
        )
    assert [e.field for e in caught.value.errors] == ["max_expiry"]
    assert accounts.show_settings(db, "100000").values == before
    assert _count(db, AuditRow) == audit_rows


# One unit of work, one transaction: Core statements on its connection and the ORM session made
# on first use see each other's changes, and commit or roll back together.


def test_core_statements_and_the_orm_session_share_one_transaction(db: Database) -> None:
    accounts.create_account(db, number="100000", email="o@example.com", password="Portal1234")
    balance = tables.accounts.c.balance
    with db.uow() as uow:
        # Core first (no session yet), then the ORM sees what Core wrote, uncommitted.
        uow.execute(tables.accounts.update().values(balance=balance + 5))
        row = lookups.get_account(uow, "100000")
        assert row.balance == 5
        # an ORM change is flushed before the next Core statement reads
        row.email = "new@example.com"
        assert uow.scalar(select(tables.accounts.c.email)) == "new@example.com"
        uow.commit()
    with db.uow(write=False) as uow:
        record = lookups.get_account_record(uow, "100000")
        assert (record.balance, record.email) == (5, "new@example.com")


def test_a_unit_of_work_left_without_commit_undoes_core_and_orm_changes(db: Database) -> None:
    accounts.create_account(db, number="100000", email="o@example.com", password="Portal1234")
    with db.uow() as uow:
        uow.execute(tables.accounts.update().values(balance=tables.accounts.c.balance + 5))
        lookups.get_account(uow, "100000").email = "new@example.com"
        uow.session.flush()
    with db.uow() as uow:  # Core only: its commit is the connection's
        uow.execute(tables.accounts.update().values(language="fr"))
        uow.commit()
    with db.uow(write=False) as uow:
        record = lookups.get_account_record(uow, "100000")
        assert (record.balance, record.email, record.language) == (0, "o@example.com", "fr")

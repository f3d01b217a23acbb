"""Disabling and enabling an account (services.accounts.set_account_enabled) on SQLite and
PostgreSQL: the flag, the audit log, the call policy of every process and Kamailio's subscriber
rows follow in one transaction; a no-op or a refused change writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dialgate.adapters.db.models import AccountRow, AuditRow, PolicyChangeRow, SubscriberRow
from dialgate.domain.errors import NotFound, ValidationFailed
from dialgate.domain.policy import AuthorizeRequest
from dialgate.services import accounts, audit, lookups
from dialgate.services.authorize import PolicyCache, authorize_call
from dialgate.services.uow import Database
from tests.support.accounts import load_demo_decks, setup_account
from tests.support.clock import MonotonicClock

LOCAL = "5145551234"


def seed(db: Database) -> None:
    load_demo_decks(db)
    setup_account(db, email="o@example.com", balance="20", subs=("office", "desk"))
    setup_account(db, "200000", email="b@example.com", balance="5", subs=())


def set_enabled(db: Database, number: str, enabled: bool, reason: str | None = None) -> bool:
    with db.uow() as uow:
        changed = accounts.set_account_enabled(
            uow, number, enabled, reason=reason, actor="operator"
        )
        uow.commit()
    return changed


def ask(cache: PolicyCache, subject: str) -> str:
    return authorize_call(cache, AuthorizeRequest.checked(subject, LOCAL)).reason


def subscribers_enabled(db: Database) -> dict[str, int]:
    with db.uow(write=False) as uow:
        return dict(
            uow.session.execute(select(SubscriberRow.username, SubscriberRow.enabled)).all()
        )


def account_enabled(db: Database, number: str) -> bool:
    with db.uow(write=False) as uow:
        return lookups.get_account(uow, number).enabled


def audit_rows(db: Database, key: str = "account_enabled") -> list[tuple[str, str, str, str]]:
    with db.uow(write=False) as uow:
        return [
            (r.subject, r.actor, r.old, r.new)
            for r in uow.session.scalars(
                select(AuditRow).where(AuditRow.key == key).order_by(AuditRow.id)
            )
        ]


def state(db: Database) -> tuple[object, ...]:
    """Everything a change could touch: flags, versions, audit log, change feed, subscribers."""
    with db.uow(write=False) as uow:
        flags = uow.session.execute(
            select(AccountRow.number, AccountRow.enabled, AccountRow.version).order_by(
                AccountRow.number
            )
        ).all()
        audits = uow.session.scalar(select(func.count()).select_from(AuditRow))
        feed = uow.session.scalar(select(func.max(PolicyChangeRow.seq)))
    return (tuple(flags), audits, feed, subscribers_enabled(db))


def test_disabled_account_is_refused_everywhere_and_enabling_restores_it(db: Database) -> None:
    seed(db)
    cache = PolicyCache(db)
    assert ask(cache, "100000") == ask(cache, "100000_office") == "ok"

    assert set_enabled(db, "100000", False, reason="  unpaid invoice ") is True
    assert account_enabled(db, "100000") is False
    assert ask(cache, "100000") == "account_disabled"
    assert ask(cache, "100000_office") == "account_disabled"
    assert subscribers_enabled(db) == {
        "100000": 0,
        "100000_office": 0,
        "100000_desk": 0,
        "200000": 1,  # another account is left alone
    }
    assert audit_rows(db) == [("100000", "operator", "true", "false; reason: unpaid invoice")]
    assert ask(cache, "200000") == "ok"

    assert set_enabled(db, "100000", True) is True
    assert account_enabled(db, "100000") is True
    assert ask(cache, "100000") == ask(cache, "100000_office") == "ok"
    assert set(subscribers_enabled(db).values()) == {1}
    assert audit_rows(db)[1:] == [("100000", "operator", "false", "true")]
    with db.uow(write=False) as uow:
        history = audit.settings_history(uow, "100000")
    assert (history[0].key, history[0].new, history[0].tab) == (
        "account_enabled",
        "true",
        "account",
    )


def test_another_process_sees_the_change_through_the_change_feed(db: Database) -> None:
    seed(db)
    clock = MonotonicClock()
    elsewhere = Database(db.url)  # another process's connection: no shared commit hook
    try:
        cache = PolicyCache(elsewhere, clock=clock)
        assert ask(cache, "100000_desk") == "ok"
        set_enabled(db, "100000", False, reason="fraud")
        clock.now += 1.0  # past the poll interval
        assert ask(cache, "100000_desk") == "account_disabled"
        set_enabled(db, "100000", True)
        clock.now += 1.0
        assert ask(cache, "100000_desk") == "ok"
    finally:
        elsewhere.dispose()


def test_disabling_a_disabled_account_is_a_no_op(db: Database) -> None:
    seed(db)
    assert set_enabled(db, "100000", False) is True
    assert audit_rows(db) == [("100000", "operator", "true", "false")]
    before = state(db)
    assert set_enabled(db, "100000", False, reason="again") is False
    assert state(db) == before
    assert set_enabled(db, "200000", True) is False  # enabling an enabled account too
    assert state(db) == before


def test_unknown_account_is_not_found_and_nothing_changes(db: Database) -> None:
    seed(db)
    before = state(db)
    with db.uow() as uow, pytest.raises(NotFound) as info:
        accounts.set_account_enabled(uow, "999999", False, reason="fraud", actor="operator")
    assert "999999" in str(info.value)
    # A sub account is not an account: it is disabled with its main account only.
    with db.uow() as uow, pytest.raises(NotFound):
        accounts.set_account_enabled(uow, "100000_office", False, reason=None, actor="operator")
    assert state(db) == before


def test_too_long_reason_is_refused_and_nothing_changes(db: Database) -> None:
    seed(db)
    before = state(db)
    with db.uow() as uow, pytest.raises(ValidationFailed) as info:
        accounts.set_account_enabled(
            uow, "100000", False, reason="x" * (accounts.REASON_MAX + 1), actor="operator"
        )
    assert info.value.errors[0].field == "reason"
    assert state(db) == before


def test_sub_account_of_a_disabled_account_is_created_disabled(db: Database) -> None:
    seed(db)
    set_enabled(db, "100000", False)
    with db.uow() as uow:
        accounts.create_subaccount(uow, "100000", "fax", password="Fax1234567", actor="t")
        uow.commit()
    assert subscribers_enabled(db)["100000_fax"] == 0
    set_enabled(db, "100000", True)
    assert subscribers_enabled(db)["100000_fax"] == 1


def test_settings_changes_of_a_disabled_account_keep_its_subscribers_disabled(
    db: Database,
) -> None:
    seed(db)
    set_enabled(db, "100000", False)
    with db.uow() as uow:
        # The main account's change rewrites every sub account's subscriber row too.
        accounts.update_settings(
            uow, "100000", {"max_expiry": "600", "sip_password": "NewSip9999"}, actor="t"
        )
        accounts.update_settings(uow, "100000_office", {"nat": "no"}, actor="t")
        uow.commit()
    enabled = subscribers_enabled(db)
    assert (enabled["100000"], enabled["100000_office"], enabled["100000_desk"]) == (0, 0, 0)

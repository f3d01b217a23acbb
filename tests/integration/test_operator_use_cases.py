"""The use cases the console, the admin API and the CLI now call instead of committing
themselves, on SQLite and PostgreSQL, with the database's clock faked: what they commit (a
refused log-in too), what they leave out (a refused key, a config that did not render), and
that their times come from the unit of work's clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dialgate.adapters.db.models import OutboxRow, SwitchTokenRow
from dialgate.domain.errors import AuthenticationFailed
from dialgate.services import admin, apikeys, billing, decision_log, operators, suspension
from dialgate.services.uow import Database
from tests.support.accounts import setup_account
from tests.support.clock import WallClock
from tests.support.records import NOW, cdr

PASSWORD = "Operator-pass-123"
HELPDESK = "help@provider.test"


@pytest.fixture
def clock() -> WallClock:
    return WallClock(NOW)


@pytest.fixture
def seamed(database_url: str, clock: WallClock) -> Iterator[Database]:
    db = Database(database_url, clock=clock)
    yield db
    db.dispose()


def _aware(at: datetime) -> datetime:
    # SQLite gives naive datetimes back (stored in UTC); PostgreSQL gives aware ones.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _failed_logins(db: Database) -> int:
    with db.uow(write=False) as uow:
        row = operators.find(uow, HELPDESK)
        assert row is not None
        return row.failed_logins


def test_a_refused_log_in_is_committed_and_the_lockout_runs_on_the_database_clock(
    seamed: Database, clock: WallClock
) -> None:
    operators.create_operator(seamed, HELPDESK, "support", PASSWORD)
    for attempt in range(1, operators.MAX_FAILED_LOGINS):
        refused = operators.attempt_login(seamed, HELPDESK, "wrong-password-1")
        assert isinstance(refused, operators.LoginFailed)
        assert _failed_logins(seamed) == attempt  # kept although the log-in failed
    locked = operators.attempt_login(seamed, HELPDESK, "wrong-password-1")
    assert isinstance(locked, operators.AccountLocked)
    assert locked.until == NOW + timedelta(minutes=operators.LOCK_MINUTES)

    still = operators.attempt_login(seamed, HELPDESK, PASSWORD)  # right password, too early
    assert isinstance(still, operators.AccountLocked)
    clock.advance(timedelta(minutes=operators.LOCK_MINUTES, seconds=1))
    done = operators.attempt_login(seamed, HELPDESK, PASSWORD)
    assert isinstance(done, tuple)
    token, session = done
    assert session.complete and session.operator.email == HELPDESK
    assert _failed_logins(seamed) == 0
    with seamed.uow(write=False) as uow:
        assert operators.resolve(uow, token) is not None
        newest, created = operators.audit_log(uow, target=HELPDESK)
    assert (created.action, _aware(created.at)) == ("operator.create", NOW)
    assert (newest.action, _aware(newest.at)) == ("console.login", clock())


def test_an_admin_api_request_is_audited_and_a_refused_key_writes_nothing(
    seamed: Database,
) -> None:
    operators.create_operator(seamed, HELPDESK, "support", PASSWORD)
    prefix, key = operators.create_admin_key(seamed, HELPDESK, name="crm")
    with seamed.uow(write=False) as uow:
        before = operators.audit_log(uow)

    operator = operators.admin_api_request(seamed, key, "api.GET", "/admin/v1/accounts")
    assert (operator.email, operator.role, operator.via) == (
        HELPDESK, "support", f"admin-api:{prefix}")
    with seamed.uow(write=False) as uow:
        after = operators.audit_log(uow)
    assert len(after) == len(before) + 1
    assert (after[0].action, after[0].target, after[0].via) == (
        "api.GET", "/admin/v1/accounts", f"admin-api:{prefix}")
    assert _aware(after[0].at) == NOW

    for wrong in (None, "dg_customer.key", f"{prefix}.not-the-secret"):
        with pytest.raises(AuthenticationFailed):
            operators.admin_api_request(seamed, wrong, "api.GET", "/admin/v1/accounts")
    operators.revoke_admin_key(seamed, prefix)
    with pytest.raises(AuthenticationFailed):
        operators.admin_api_request(seamed, key, "api.GET", "/admin/v1/accounts")
    with seamed.uow(write=False) as uow:
        # Only the revocation was written.
        assert [e.action for e in operators.audit_log(uow)][:2] == [
            "admin_key.revoke", "api.GET"]


def _switch_tokens(db: Database) -> int:
    with db.uow(write=False) as uow:
        return int(uow.session.scalar(select(func.count(SwitchTokenRow.id))) or 0)


def test_a_switch_token_is_kept_only_if_what_needs_it_was_built(seamed: Database) -> None:
    def refuse(_token: str) -> str:
        raise ValueError("--port: must be 1 to 65535")

    with pytest.raises(ValueError, match="--port"):
        apikeys.create_switch_token_for(seamed, name="kamailio-yul", use=refuse)
    assert _switch_tokens(seamed) == 0

    info, token, text = apikeys.create_switch_token_for(
        seamed, name="kamailio-yul", use=lambda t: f"token={t}")
    assert text == f"token={token}"
    with seamed.uow(write=False) as uow:
        (listed,) = apikeys.list_switch_tokens(uow)
    assert (listed.id, listed.name, _aware(listed.created_at)) == (
        info.id, "kamailio-yul", NOW)
    assert apikeys.SwitchTokenCache(seamed).check(token).id == info.id


def test_a_suspension_dates_its_email_and_audit_by_the_database_clock(
    seamed: Database,
) -> None:
    setup_account(seamed)
    with seamed.uow(write=False) as uow:
        queued = {row.id for row in uow.session.scalars(select(OutboxRow))}
    outcome = suspension.suspend(seamed, operators.CLI, "100000", "unpaid invoices")
    assert outcome.changed and outcome.lines == frozenset({"100000", "100000_office"})
    with seamed.uow(write=False) as uow:
        emails = [r for r in uow.session.scalars(select(OutboxRow)) if r.id not in queued]
        (entry,) = operators.audit_log(uow, target="100000")
    assert [(r.kind, _aware(r.created_at)) for r in emails] == [("account_suspended", NOW)]
    assert (entry.action, entry.detail, _aware(entry.at)) == (
        "account.suspend", "unpaid invoices", NOW)


def test_the_overview_counts_the_calls_of_its_window_by_the_database_clock(
    seamed: Database, clock: WallClock
) -> None:
    setup_account(seamed)
    inside = cdr("inside")  # ended about 9 minutes before NOW
    early = NOW - timedelta(minutes=40)
    outside = cdr("outside", started_at=early.isoformat(),
                  answered_at=(early + timedelta(seconds=5)).isoformat(),
                  ended_at=(early + timedelta(seconds=66)).isoformat())
    billing.record_cdrs(seamed, [inside, outside])
    with seamed.uow(write=False) as uow:
        unsent = uow.session.scalar(
            select(func.count(OutboxRow.id)).where(OutboxRow.sent_at.is_(None)))

    seen = admin.overview(seamed)
    assert seen.by_outcome == {"answered": 1}
    assert (seen.calls, seen.calls_per_second) == (1, round(1 / 900, 3))
    assert (seen.pending_emails, seen.failing_emails) == (unsent, 0)

    clock.advance(timedelta(minutes=10))  # the inside call is now 19 minutes old
    assert admin.overview(seamed).by_outcome == {}


def test_call_decisions_of_the_overview_are_those_of_the_database_clock_window(
    seamed: Database, clock: WallClock
) -> None:
    with seamed.uow() as uow:
        decision_log.add_counts(uow, "w1", decision_log.minute_of(NOW), {"allowed": 3})
        decision_log.add_counts(uow, "w2", decision_log.minute_of(NOW), {"allowed": 2,
                                                                          "no_funds": 1})
        uow.commit()
    with seamed.uow(write=False) as uow:
        assert decision_log.recent(uow) == {"allowed": 5, "no_funds": 1}
    assert admin.overview(seamed).decisions == {"allowed": 5, "no_funds": 1}
    clock.advance(timedelta(minutes=decision_log.WINDOW_MINUTES))
    with seamed.uow() as uow:
        assert decision_log.recent(uow) == {}
        decision_log.prune(uow, keep_hours=0)  # the cut-off is the clock's minute
        uow.commit()
    clock.advance(-timedelta(minutes=decision_log.WINDOW_MINUTES))
    with seamed.uow(write=False) as uow:
        assert decision_log.recent(uow) == {}  # pruned, not only out of the window

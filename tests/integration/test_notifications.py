"""Notifications end to end: outbox rows in the change's transaction, a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dialgate.adapters.db.models import OutboxRow
from dialgate.adapters.mailer import Email, SmtpMailer
from dialgate.domain import settings as s
from dialgate.domain.errors import ValidationFailed
from dialgate.services import accounts, billing, dids, outbox
from dialgate.services.uow import Database
from tests.support import accounts as support_accounts
from tests.support.clock import WallClock
from tests.support.smtp import SmtpServer, free_port


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


def mailer_for(port: int) -> SmtpMailer:
    return SmtpMailer(host="127.0.0.1", port=port, sender="Dialgate <noreply@dialgate.test>")


def setup_account(db: Database, *, language: str = "en", **settings: str) -> None:
    given = {
        "notification_emails": "first@example.com, second@example.com",
        "balance_threshold": "5",
        **settings,
    }
    support_accounts.setup_account(
        db,
        email="owner@example.com",
        balance="6",
        subs=(),
        mailboxes=("1001",),
        settings=given,
        language=language,
    )


def drain(db: Database, clock: WallClock, smtp: SmtpServer) -> None:
    """Send the setup's own notifications and forget them."""
    outbox.run_once(db, mailer_for(smtp.port), clock)
    smtp.sink.messages.clear()


def charge(
    db: Database, call_id: str, cost: str, clock: WallClock, *, account: str = "100000"
) -> None:
    """An answered 411 call of ``account`` that costs ``cost`` (a flat fee), ended now."""
    ended = clock()
    with db.uow() as uow:
        billing.record_cdr(
            uow,
            {
                "call_id": call_id,
                "account": account,
                "dialed": "411",
                "started_at": (ended - timedelta(seconds=30)).isoformat(),
                "answered_at": (ended - timedelta(seconds=25)).isoformat(),
                "ended_at": ended.isoformat(),
                "disposition": "answered",
                "route": "value",
                "rate_per_minute": "0",
                "increment_s": 60,
                "flat_fee": cost,
            },
            now=clock(),
        )
        uow.commit()


def test_crossing_the_threshold_emails_every_address_once_in_the_accounts_language(
    db: Database, smtp: SmtpServer
) -> None:
    clock = WallClock()
    setup_account(db, language="fr")
    drain(db, clock, smtp)
    charge(db, "c1", "0.50", clock)  # 5.50: still above
    charge(db, "c2", "1.00", clock)  # 4.50: crosses
    charge(db, "c3", "1.00", clock)  # 3.50: already below, no new email
    result = outbox.run_once(db, mailer_for(smtp.port), clock)
    assert result.sent == 2  # one message per address: no address sees the others
    mails = sorted(smtp.sink.messages, key=lambda m: m.envelope_to)
    assert [m.envelope_to for m in mails] == [["first@example.com"], ["second@example.com"]]
    for mail, other in zip(mails, reversed(mails), strict=True):
        assert other.envelope_to[0] not in mail.message.as_string()
        # Babel's French money (narrow no-break space, "$US"), balances with 2 decimals.
        assert mail.subject == "Votre solde est inférieur à 5,00\u00a0$US"
        assert "4,50\u00a0$US" in mail.text and "4,50\u00a0$US" in mail.html
        assert mail.message.get_content_type() == "multipart/alternative"


def test_reminder_each_day_while_below_then_deposit_stops_them(
    db: Database, smtp: SmtpServer
) -> None:
    clock = WallClock()
    setup_account(db, notification_emails="first@example.com")
    drain(db, clock, smtp)
    charge(db, "c1", "2", clock)
    mailer = mailer_for(smtp.port)
    outbox.run_once(db, mailer, clock)
    clock.advance(hours=23)
    assert outbox.run_once(db, mailer, clock).reminders == 0
    clock.advance(hours=1)
    assert outbox.run_once(db, mailer, clock).reminders == 1
    assert outbox.run_once(db, mailer, clock).reminders == 0
    clock.advance(days=1)
    assert outbox.run_once(db, mailer, clock).reminders == 1
    subjects = [m.subject for m in smtp.sink.messages]
    assert subjects == [
        "Your balance is below $5.00",
        "Reminder: your balance is below $5.00",
        "Reminder: your balance is below $5.00",
    ]
    with db.uow() as uow:
        billing.deposit(uow, "100000", "1", now=clock())  # 5.00: back at the threshold
        uow.commit()
    clock.advance(days=3)
    assert outbox.run_once(db, mailer, clock).reminders == 0
    assert len(smtp.sink.messages) == 3


def test_a_deposit_that_leaves_the_balance_below_keeps_the_reminders(
    db: Database, smtp: SmtpServer
) -> None:
    clock = WallClock()
    setup_account(db)
    drain(db, clock, smtp)
    charge(db, "c1", "3", clock)
    with db.uow() as uow:
        billing.deposit(uow, "100000", "1", now=clock())  # 4.00: still below
        uow.commit()
    clock.advance(days=1)
    assert outbox.run_once(db, mailer_for(smtp.port), clock).reminders == 1


def test_threshold_change_stops_the_reminders(db: Database, smtp: SmtpServer) -> None:
    clock = WallClock()
    setup_account(db, notification_emails="owner@example.com")
    drain(db, clock, smtp)
    charge(db, "c1", "2", clock)
    with db.uow() as uow:
        accounts.update_settings(uow, "100000", {"balance_threshold": "4.50"}, actor="t")
        uow.commit()
    clock.advance(days=2)
    result = outbox.run_once(db, mailer_for(smtp.port), clock)
    assert result.reminders == 0
    kinds = [m.subject for m in smtp.sink.messages]
    assert kinds == ["Your balance is below $5.00", "Configuration change on account 100000"]


def test_disabled_threshold_sends_no_balance_email(db: Database, smtp: SmtpServer) -> None:
    clock = WallClock()
    setup_account(db, balance_threshold="")
    drain(db, clock, smtp)
    charge(db, "c1", "5", clock)
    clock.advance(days=2)
    result = outbox.run_once(db, mailer_for(smtp.port), clock)
    assert (result.sent, result.reminders) == (0, 0)


def test_config_change_emails_the_first_address_and_the_owner_with_secrets_redacted(
    db: Database, smtp: SmtpServer
) -> None:
    clock = WallClock()
    setup_account(db)
    drain(db, clock, smtp)
    with db.uow() as uow:
        accounts.update_settings(
            uow,
            "100000",
            {"sip_password": "NewSecret99", "nat": "no", "e911_callerid": "5145550100"},
            actor="t",
        )
        uow.commit()
    outbox.run_once(db, mailer_for(smtp.port), clock)
    by_subject: dict[str, list[Any]] = {}
    for m in smtp.sink.messages:
        by_subject.setdefault(m.subject, []).append(m)
    assert set(by_subject) == {
        "Configuration change on account 100000",
        "e911 change on account 100000",
    }
    # The first address, and the account's own email: whoever points the first address
    # elsewhere (a stolen API key) cannot hide the changes from the owner.
    configs = by_subject["Configuration change on account 100000"]
    assert sorted(m.envelope_to for m in configs) == [
        ["first@example.com"],
        ["owner@example.com"],
    ]
    config = configs[0]
    # The customer's words (the portal's labels and values); a password only "changed".
    assert "- Main account, NAT: Yes → No\n" in config.text.replace("\r\n", "\n")
    assert "Main account, Main SIP/IAX Password: changed" in config.text
    for leak in ("NewSecret99", "***", "sip_password", "nat:"):
        assert leak not in config.text + config.html, leak
    e911 = by_subject["e911 change on account 100000"][0].text
    assert "e911_callerid" not in e911
    assert f"{s.SPECS_BY_KEY['e911_callerid'].label}: (none) → 5145550100" in e911


def test_toggles_off_mean_no_change_emails_and_invalid_changes_enqueue_nothing(
    db: Database, smtp: SmtpServer
) -> None:
    clock = WallClock()
    setup_account(db, notify_config_changes="no", notify_e911_changes="no")
    with db.uow() as uow:
        dids.add_did(uow, "100000", "5145550100", actor="t")
        uow.commit()
    drain(db, clock, smtp)
    with db.uow() as uow:
        accounts.update_settings(uow, "100000", {"nat": "no"}, actor="t")
        dids.set_did(
            uow,
            "5145550100",
            {"e911_enabled": "yes", "dial_time": "30"},
            actor="t",
            account="100000",
        )
        uow.commit()
    with db.uow() as uow, pytest.raises(ValidationFailed):
        accounts.update_settings(uow, "100000", {"nat": "maybe"}, actor="t")
    assert outbox.run_once(db, mailer_for(smtp.port), clock).sent == 0


def test_smtp_down_then_back_delivers_each_message_once(db: Database, smtp: SmtpServer) -> None:
    clock = WallClock()
    setup_account(db, notification_emails="owner@example.com")
    drain(db, clock, smtp)
    charge(db, "c1", "2", clock)
    down = mailer_for(free_port())  # nothing listens there
    assert outbox.run_once(db, down, clock).failed == 1
    assert outbox.run_once(db, down, clock).failed == 0  # backing off: not due yet
    clock.advance(seconds=31)
    assert outbox.run_once(db, down, clock).failed == 1
    with db.uow(write=False) as uow:
        row = uow.session.scalars(select(OutboxRow).where(OutboxRow.sent_at.is_(None))).one()
        assert row.attempts == 2 and "Connection" in row.last_error
        assert row.next_attempt_at == clock() + timedelta(seconds=60)
    clock.advance(seconds=61)
    up = mailer_for(smtp.port)
    assert outbox.run_once(db, up, clock).sent == 1
    clock.advance(days=0.5)
    assert outbox.run_once(db, up, clock).sent == 0
    assert [m.subject for m in smtp.sink.messages] == ["Your balance is below $5.00"]


class Crash(BaseException):
    """The worker process dying (not an error the worker could handle)."""


class DiesAfterSending:
    def __init__(self, inner: SmtpMailer) -> None:
        self.inner = inner

    def send(self, email: Email) -> None:
        self.inner.send(email)
        raise Crash


def test_worker_killed_between_send_and_mark_resends_once_after_the_lease(
    db: Database, smtp: SmtpServer
) -> None:
    clock = WallClock()
    setup_account(db, notification_emails="owner@example.com")
    drain(db, clock, smtp)
    charge(db, "c1", "2", clock)
    with pytest.raises(Crash):
        outbox.run_once(db, DiesAfterSending(mailer_for(smtp.port)), clock)
    assert len(smtp.sink.messages) == 1
    mailer = mailer_for(smtp.port)
    assert outbox.run_once(db, mailer, clock).sent == 0  # still leased to the dead worker
    clock.advance(seconds=outbox.LEASE.total_seconds() + 1)
    assert outbox.run_once(db, mailer, clock).sent == 1  # the documented at-least-once resend
    clock.advance(hours=1)
    assert outbox.run_once(db, mailer, clock).sent == 0
    first, second = smtp.sink.messages
    assert first.message["Message-ID"] == second.message["Message-ID"]


def test_two_workers_never_claim_the_same_row(db: Database) -> None:
    clock = WallClock()
    setup_account(db)
    with db.uow(write=False) as uow:
        pending = len(list(uow.session.scalars(select(OutboxRow))))
    assert pending >= 1
    first = outbox.claim(db, now=clock())
    second = outbox.claim(db, now=clock())
    assert len(first) == pending and second == []


def test_run_worker_stops_when_asked(db: Database, smtp: SmtpServer) -> None:
    import threading

    setup_account(db)
    stop = threading.Event()
    sent: list[Any] = []

    class Recording(SmtpMailer):
        def send(self, email: Email) -> None:
            super().send(email)
            sent.append(email)
            stop.set()

    mailer = Recording(host="127.0.0.1", port=smtp.port, sender="noreply@dialgate.test")
    thread = threading.Thread(
        target=outbox.run_worker, args=(db, mailer, outbox.system_clock, stop)
    )
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and sent


def test_at_most_ten_notification_addresses(db: Database) -> None:
    setup_account(db)
    many = ", ".join(f"user{n}@example.com" for n in range(11))
    with db.uow() as uow, pytest.raises(ValidationFailed) as caught:
        accounts.update_settings(uow, "100000", {"notification_emails": many}, actor="t")
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("notification_emails", "too_many_emails")
    ]
    with db.uow(write=False) as uow:
        values = accounts.show_settings(uow, "100000").values
    assert values["notification_emails"] == ("first@example.com", "second@example.com")
    ten = ", ".join(f"user{n}@example.com" for n in range(10))
    with db.uow() as uow:
        accounts.update_settings(uow, "100000", {"notification_emails": ten}, actor="t")
        uow.commit()

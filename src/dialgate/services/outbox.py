"""The outbox worker: claim due emails, send them, mark them sent; retry with backoff.

Delivery is at least once. A row is claimed by setting ``claimed_until`` (a lease) in its own
short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never claim the same
row; SQLite serializes writers). The worker then sends over SMTP and, in a second transaction,
marks the row sent. If the worker dies after the SMTP server accepted the message but before the
mark commits, the lease expires and another pass sends it again: that is the one duplicate
window, the few milliseconds between the end of the SMTP DATA command and the commit of the mark.
The resend carries the same Message-ID (``<outbox-ID@dialgate>``), so a mail system can
recognize it. Nothing is lost: a row leaves the outbox only once marked sent.

Failures (SMTP down, refused) release the claim and schedule the next attempt with exponential
backoff (30 s, 1 min, 2 min, ... capped at 1 h).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from dialgate.adapters import metrics
from dialgate.adapters.db.models import OutboxRow
from dialgate.adapters.mailer import Email, Mailer, MailerError
from dialgate.services import notifications
from dialgate.services.uow import Database

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


def system_clock() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures (1 -> 30 s, 2 -> 60 s, ...)."""
    delay: timedelta = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_MAX)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    attempts: int
    email: Email


@dataclass(slots=True)
class PassResult:
    sent: int = 0
    failed: int = 0
    reminders: int = 0


def claim(db: Database, *, now: datetime, limit: int = 20) -> list[Claimed]:
    with db.uow() as uow:
        query = (
            select(OutboxRow)
            .where(
                OutboxRow.sent_at.is_(None),
                OutboxRow.next_attempt_at <= now,
                or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
            )
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        if uow.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(uow.session.scalars(query))
        out = []
        for row in rows:
            row.claimed_until = now + LEASE
            out.append(
                Claimed(
                    row.id,
                    row.attempts,
                    Email(
                        to=tuple(row.recipients.get("to", [])),
                        subject=row.subject,
                        text=row.body_text,
                        html=row.body_html,
                        message_id=f"<outbox-{row.id}@dialgate>",
                    ),
                )
            )
        uow.commit()
    return out


def _mark_sent(db: Database, row_id: int, now: datetime) -> None:
    with db.uow() as uow:
        uow.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row_id)
            .values(sent_at=now, claimed_until=None, last_error="")
        )
        uow.commit()


def _mark_failed(db: Database, item: Claimed, now: datetime, error: str) -> None:
    attempts = item.attempts + 1
    with db.uow() as uow:
        uow.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item.id)
            .values(
                attempts=attempts,
                next_attempt_at=now + backoff(attempts),
                claimed_until=None,
                last_error=error[:2000],
            )
        )
        uow.commit()


def run_once(db: Database, mailer: Mailer, clock: Clock = system_clock) -> PassResult:
    """One pass: enqueue due balance reminders, then send what is due."""
    result = PassResult()
    with db.uow() as uow:
        result.reminders = notifications.send_due_reminders(uow, now=clock())
        uow.commit()
    for item in claim(db, now=clock()):
        try:
            mailer.send(item.email)
        except MailerError as exc:
            metrics.SMTP_FAILURES.inc()
            attempts = item.attempts + 1
            log.warning("smtp send failed", extra={
                "outbox_id": item.id, "attempts": attempts, "error": str(exc)[:300],
                "retry_in_s": backoff(attempts).total_seconds(),
            })
            _mark_failed(db, item, clock(), str(exc))
            result.failed += 1
            continue
        metrics.SMTP_SENT.inc()
        _mark_sent(db, item.id, clock())
        log.info("email sent", extra={"outbox_id": item.id})
        result.sent += 1
    return result


def run_worker(
    db: Database,
    mailer: Mailer,
    clock: Clock = system_clock,
    stop_event: threading.Event | None = None,
    *,
    poll_interval: float = 2.0,
) -> None:
    """Run passes until ``stop_event`` is set (``dialgate worker``, ``serve --with-worker``)."""
    stop = stop_event or threading.Event()
    failures = 0
    while not stop.is_set():
        try:
            run_once(db, mailer, clock)
        except SQLAlchemyError as exc:
            # The database is down or restarting: nothing was lost (a claimed row's lease
            # expires and it is sent later). Wait longer each time, up to a minute, and go on.
            failures += 1
            metrics.WORKER_ERRORS.inc()
            log.error("outbox pass failed; retrying", extra={
                "error": type(exc).__name__, "detail": str(getattr(exc, "orig", exc))[:300],
                "consecutive_failures": failures,
            })
            stop.wait(min(poll_interval * 2 ** min(failures, 5), 60.0))
            continue
        if failures:
            log.info("outbox pass succeeded again", extra={"after_failures": failures})
        failures = 0
        stop.wait(poll_interval)

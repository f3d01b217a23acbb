"""Notifications: decide (``domain.notifications``) and enqueue in the outbox, in the caller's
transaction, so an email exists exactly when the change that caused it was committed.

Sending is the outbox worker's job (``services.outbox``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update

from dialgate.adapters.db.models import AccountRow, BalanceAlertRow, OutboxRow
from dialgate.domain import notifications as n
from dialgate.domain import settings as s
from dialgate.services.uow import UnitOfWork


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _settings(account: AccountRow) -> dict[str, Any]:
    return {key: s.from_json(key, value) for key, value in (account.settings or {}).items()}


def _emails(settings: dict[str, Any], account: AccountRow) -> tuple[str, ...]:
    return tuple(settings.get("notification_emails") or (account.email,))


def enqueue(
    uow: UnitOfWork, account: AccountRow, message: n.Message, *, now: datetime | None = None
) -> OutboxRow | None:
    """One outbox row (one email) per recipient, so that no address sees the others and one
    bad address does not hold back the rest. Returns the first row, or None if none."""
    at = _now(now)
    first = None
    for address in message.to:
        row = OutboxRow(
            account_id=account.id,
            kind=message.kind.value,
            recipients={"to": [address]},
            subject=message.subject,
            body_text=message.text,
            body_html=message.html,
            created_at=at,
            next_attempt_at=at,
        )
        uow.session.add(row)
        first = first or row
    return first


def _notify_changes(
    uow: UnitOfWork,
    account: AccountRow,
    lines: Sequence[n.ChangeLine],
    *,
    only: n.Kind | None = None,
    now: datetime | None = None,
) -> list[OutboxRow]:
    settings = _settings(account)
    parts = {only: tuple(lines)} if only is not None else n.split_changes(lines)
    out = []
    for kind, part in parts.items():
        if not part or not settings.get(n.TOGGLES[kind], True):
            continue
        message = n.change_message(
            kind,
            language=account.language,
            account=account.number,
            lines=part,
            emails=_emails(settings, account),
            account_email=account.email,
        )
        row = enqueue(uow, account, message, now=now)
        if row is not None:
            out.append(row)
    return out


def on_settings_changed(
    uow: UnitOfWork,
    account: AccountRow,
    subject: str,
    changes: Sequence[s.Change],
    *,
    now: datetime | None = None,
) -> list[OutboxRow]:
    """Called by ``accounts.update_settings`` in its transaction, with the redacted changes."""
    if any(c.key == "balance_threshold" for c in changes):
        reset_balance_alert(uow, account)
    lines = [n.ChangeLine(subject, c.key, c.old, c.new) for c in changes]
    return _notify_changes(uow, account, lines, now=now)


def on_did_changed(
    uow: UnitOfWork,
    account: AccountRow,
    did: str,
    changes: Sequence[s.Change],
    *,
    now: datetime | None = None,
) -> list[OutboxRow]:
    lines = [n.ChangeLine(did, c.key, c.old, c.new) for c in changes]
    return _notify_changes(uow, account, lines, now=now)


def on_api_changed(
    uow: UnitOfWork,
    account: AccountRow,
    changes: Sequence[s.Change],
    *,
    now: datetime | None = None,
) -> list[OutboxRow]:
    """For the API configuration service: redact secrets (show ***) before calling."""
    lines = [n.ChangeLine(account.number, c.key, c.old, c.new) for c in changes]
    return _notify_changes(uow, account, lines, only=n.Kind.API_CHANGED, now=now)


# --- balance threshold --------------------------------------------------------------------------


def reset_balance_alert(uow: UnitOfWork, account: AccountRow) -> None:
    uow.session.execute(delete(BalanceAlertRow).where(BalanceAlertRow.account_id == account.id))


def after_balance_change(
    uow: UnitOfWork,
    account: AccountRow,
    *,
    before: Decimal,
    after: Decimal,
    now: datetime | None = None,
) -> OutboxRow | None:
    """Run after the atomic balance update (which serializes writers on the account row), so
    exactly one transaction sees a given crossing."""
    settings = _settings(account)
    threshold: Decimal | None = settings.get("balance_threshold")
    if n.crossed_below(before, after, threshold):
        assert threshold is not None
        at = _now(now)
        alert = uow.session.get(BalanceAlertRow, account.id)
        if alert is None:
            uow.session.add(
                BalanceAlertRow(account_id=account.id, threshold=threshold, last_sent_at=at)
            )
        else:
            alert.threshold, alert.last_sent_at = threshold, at
        message = n.balance_message(
            n.Kind.BALANCE_LOW,
            language=account.language,
            account=account.number,
            balance=after,
            threshold=threshold,
            emails=_emails(settings, account),
        )
        return enqueue(uow, account, message, now=at)
    if after > before and n.lifted_above(after, threshold):
        reset_balance_alert(uow, account)
    return None


def send_due_reminders(uow: UnitOfWork, *, now: datetime) -> int:
    """Enqueue the daily reminder for every account still below its threshold; returns how
    many. Safe to run from several workers: each reminder is claimed by a compare-and-set."""
    count = 0
    alerts = list(uow.session.scalars(select(BalanceAlertRow)))
    for alert in alerts:
        account = uow.session.get_one(AccountRow, alert.account_id)
        settings = _settings(account)
        threshold: Decimal | None = settings.get("balance_threshold")
        if threshold != alert.threshold or alert.last_sent_at is None:
            reset_balance_alert(uow, account)  # threshold changed or disabled: alert is over
            continue
        if not n.reminder_due(
            last_sent_at=alert.last_sent_at, now=now, balance=account.balance, threshold=threshold
        ):
            if threshold is None or account.balance >= threshold:
                reset_balance_alert(uow, account)
            continue
        claimed = uow.session.execute(
            update(BalanceAlertRow)
            .where(
                BalanceAlertRow.account_id == account.id,
                BalanceAlertRow.last_sent_at == alert.last_sent_at,
            )
            .values(last_sent_at=now)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            continue
        assert threshold is not None
        message = n.balance_message(
            n.Kind.BALANCE_REMINDER,
            language=account.language,
            account=account.number,
            balance=account.balance,
            threshold=threshold,
            emails=_emails(settings, account),
        )
        if enqueue(uow, account, message, now=now) is not None:
            count += 1
    return count

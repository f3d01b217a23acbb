"""Notifications: decide (``domain.notifications``), put into the customer's words and language
(``presentation.emails``, the portal's own describer) and enqueue in the outbox, in the caller's
transaction, so an email exists exactly when the change that caused it was committed.

Sending is the outbox worker's job (``services.outbox``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update

from dialgate.adapters.db.models import AccountRow, BalanceAlertRow, OutboxRow
from dialgate.domain import notifications as n
from dialgate.domain import settings as s
from dialgate.presentation import emails, i18n
from dialgate.presentation.words import Words

# ``names`` reads accounts, which imports this module: bound as a module, used at call time.
from dialgate.services import names
from dialgate.services.uow import UnitOfWork


def _settings(account: AccountRow) -> dict[str, Any]:
    return {key: s.from_json(key, value) for key, value in (account.settings or {}).items()}


def _emails(settings: dict[str, Any], account: AccountRow) -> tuple[str, ...]:
    return tuple(settings.get("notification_emails") or (account.email,))


def _words(uow: UnitOfWork, account: AccountRow) -> Words:
    """The reader's words: the account's language and the names it gave its things."""
    language = i18n.language_or_default(account.language)
    return Words(language, names.account_names(uow, account.number))


def _message(kind: n.Kind, to: tuple[str, ...], rendered: emails.Rendered) -> n.Message:
    return n.Message(kind, to, rendered.subject, rendered.text, rendered.html)


def _balance_alert(
    kind: n.Kind,
    account: AccountRow,
    balance: Decimal,
    threshold: Decimal,
    emails_to: Sequence[str],
    at: datetime,
) -> n.Message:
    rendered = emails.balance_email(kind, language=account.language, account=account.number,
                                    balance=balance, threshold=threshold, at=at)
    return _message(kind, n.recipients(kind, emails_to), rendered)


def on_suspension(uow: UnitOfWork, account: AccountRow, kind: n.Kind, reason: str) -> None:
    """Tell the account's owner that the provider suspended or restored the account."""
    rendered = emails.suspension_email(kind, language=account.language, account=account.number,
                                       reason=reason)
    enqueue(uow, account, _message(kind, (account.email,), rendered))


def enqueue(
    uow: UnitOfWork, account: AccountRow, message: n.Message, *, now: datetime | None = None
) -> OutboxRow | None:
    """One outbox row (one email) per recipient, so that no address sees the others and one
    bad address does not hold back the rest. Returns the first row, or None if none."""
    at = now or uow.now()
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
    words: Words | None = None
    parts = {only: tuple(lines)} if only is not None else n.split_changes(lines)
    out = []
    for kind, part in parts.items():
        if not part or not settings.get(n.TOGGLES[kind], True):
            continue
        words = words or _words(uow, account)
        rendered = emails.change_email(kind, words=words, lines=part, at=now or uow.now())
        to = n.recipients(kind, _emails(settings, account), account.email)
        row = enqueue(uow, account, _message(kind, to, rendered), now=now)
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
        at = now or uow.now()
        alert = uow.session.get(BalanceAlertRow, account.id)
        if alert is None:
            uow.session.add(
                BalanceAlertRow(account_id=account.id, threshold=threshold, last_sent_at=at)
            )
        else:
            alert.threshold, alert.last_sent_at = threshold, at
        message = _balance_alert(
            n.Kind.BALANCE_LOW, account, after, threshold, _emails(settings, account), at
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
        message = _balance_alert(
            n.Kind.BALANCE_REMINDER, account, account.balance, threshold,
            _emails(settings, account), now,
        )
        if enqueue(uow, account, message, now=now) is not None:
            count += 1
    return count

"""Notification rules (pure): who is told what, and when. The words (the account's language,
labels, money and dates) are ``presentation.emails``'.

- Balance threshold: an email to every address of ``notification_emails`` when a charge takes the
  balance from at-or-above the threshold to below it; a reminder each day while it stays below;
  a deposit that lifts it back, or a threshold change, ends the alert; no threshold, no email.
- Configuration, e911 and API changes: one email per change set listing what changed (values
  already redacted by the settings layer), to the first address, when its toggle is on, and
  also to the account's own email (the one the provider registered) when the first address is
  another: whoever holds an API key can point the first address anywhere, and the owner must
  still hear of the changes (including that one).
- Each recipient gets a message of its own: addresses never see one another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

REMINDER_EVERY = timedelta(days=1)
E911_KEYS = frozenset({"e911_callerid", "e911_enabled"})


class Kind(StrEnum):
    BALANCE_LOW = "balance_low"
    BALANCE_REMINDER = "balance_reminder"
    CONFIG_CHANGED = "config_changed"
    E911_CHANGED = "e911_changed"
    API_CHANGED = "api_changed"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_RESTORED = "account_restored"


TOGGLES = {
    Kind.CONFIG_CHANGED: "notify_config_changes",
    Kind.E911_CHANGED: "notify_e911_changes",
    Kind.API_CHANGED: "notify_api_changes",
}


@dataclass(frozen=True, slots=True)
class Message:
    kind: Kind
    to: tuple[str, ...]
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class ChangeLine:
    subject: str  # 100000, 100000_office or a DID
    key: str
    old: str
    new: str


# --- decision rules -----------------------------------------------------------------------------


def crossed_below(before: Decimal, after: Decimal, threshold: Decimal | None) -> bool:
    return threshold is not None and before >= threshold > after


def lifted_above(after: Decimal, threshold: Decimal | None) -> bool:
    return threshold is None or after >= threshold


def reminder_due(
    *, last_sent_at: datetime, now: datetime, balance: Decimal, threshold: Decimal | None
) -> bool:
    return threshold is not None and balance < threshold and now - last_sent_at >= REMINDER_EVERY


def recipients(kind: Kind, emails: Sequence[str], account_email: str = "") -> tuple[str, ...]:
    """The balance alerts go to every address; the other notifications to the first and to the
    account's own email."""
    if kind in (Kind.BALANCE_LOW, Kind.BALANCE_REMINDER):
        return tuple(emails)
    return tuple(dict.fromkeys(e for e in (*emails[:1], account_email) if e))


def split_changes(lines: Sequence[ChangeLine]) -> dict[Kind, tuple[ChangeLine, ...]]:
    """A change set, split into its e911 part and the rest of the configuration."""
    e911 = tuple(line for line in lines if line.key in E911_KEYS)
    rest = tuple(line for line in lines if line.key not in E911_KEYS)
    return {k: v for k, v in ((Kind.E911_CHANGED, e911), (Kind.CONFIG_CHANGED, rest)) if v}

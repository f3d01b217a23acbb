"""The notification emails, in the account's language and the customer's words.

Every sentence is a msgid of the portal's catalogs (so the fr/es completeness test covers
emails too); setting labels and values come from ``words.Words``, the portal's own describer,
so an email says "Maximum rate per minute: 0,2500 $US" where the Settings History page does.
Money and dates are Babel's, per locale. A secret never appears: a password change reads
"changed", whatever the line carries.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial

from dialgate.domain import settings as s
from dialgate.domain.notifications import ChangeLine, Kind
from dialgate.presentation import i18n
from dialgate.presentation.i18n import N_
from dialgate.presentation.words import Words

SUBJECTS = {
    Kind.BALANCE_LOW: N_("Your balance is below %(threshold)s"),
    Kind.BALANCE_REMINDER: N_("Reminder: your balance is below %(threshold)s"),
    Kind.CONFIG_CHANGED: N_("Configuration change on account %(account)s"),
    Kind.E911_CHANGED: N_("e911 change on account %(account)s"),
    Kind.API_CHANGED: N_("API configuration change on account %(account)s"),
    Kind.ACCOUNT_SUSPENDED: N_("Account %(account)s is suspended"),
    Kind.ACCOUNT_RESTORED: N_("Account %(account)s is restored"),
}
BODIES = {
    Kind.BALANCE_LOW: N_(
        "On %(date)s the balance of account %(account)s went down to %(balance)s, below your "
        "threshold of %(threshold)s. Add funds to keep calling."
    ),
    Kind.BALANCE_REMINDER: N_(
        "On %(date)s the balance of account %(account)s is still %(balance)s, below your "
        "threshold of %(threshold)s. You will receive this reminder every day until you add "
        "funds or change the threshold."
    ),
    Kind.ACCOUNT_SUSPENDED: N_(
        "Account %(account)s has been suspended: calls and registrations are refused until it "
        "is restored."
    ),
    Kind.ACCOUNT_RESTORED: N_(
        "Account %(account)s has been restored: your devices can register and call again."
    ),
}
CHANGES_INTRO = N_("These settings of account %(account)s changed on %(date)s:")
CHANGE_LINE = N_("%(where)s, %(setting)s: %(old)s → %(new)s")
SECRET_LINE = N_("%(where)s, %(setting)s: changed")
REASON = N_("Reason: %(reason)s")
NOTIFICATION_FOOTER = N_("You receive this email because of your notification settings.")
SUPPORT_FOOTER = N_("Contact support if you have questions about this change.")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def _text(paragraphs: Sequence[str], items: Sequence[str] = ()) -> str:
    """The plain part: paragraphs, then the items as a list before the footer (the last)."""
    parts = list(paragraphs[:-1])
    if items:
        parts.append("\n".join(f"- {i}" for i in items))
    parts.append(paragraphs[-1])
    return "\n\n".join(parts) + "\n"


def _html(language: str, paragraphs: Sequence[str], items: Sequence[str] = ()) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[:-1])
    if items:
        body += "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
    body += f"<p><small>{html.escape(paragraphs[-1])}</small></p>"
    return (
        f'<!DOCTYPE html><html lang="{html.escape(language)}">'
        f'<body style="font-family:sans-serif">{body}</body></html>'
    )


def _render(
    language: str, subject: str, paragraphs: Sequence[str], items: Sequence[str] = ()
) -> Rendered:
    return Rendered(subject, _text(paragraphs, items), _html(language, paragraphs, items))


def balance_email(
    kind: Kind, *, language: str, account: str, balance: Decimal, threshold: Decimal, at: datetime
) -> Rendered:
    """The low-balance alert and its daily reminder (balances with 2 decimals, as the portal)."""
    language = i18n.language_or_default(language)
    values = {
        "account": account,
        "balance": i18n.format_money(balance, language),
        "threshold": i18n.format_money(threshold, language),
        "date": i18n.format_datetime(at, language),
    }
    t = partial(i18n.gettext, language)
    return _render(
        language,
        t(SUBJECTS[kind]) % values,
        [t(BODIES[kind]) % values, t(NOTIFICATION_FOOTER)],
    )


def change_line(words: Words, line: ChangeLine) -> str:
    """One change as the customer reads it: where (main account, sub account, DID), the
    setting's label and its values in words; secrets only say that they changed."""
    values = {"where": words.subject(line.subject), "setting": words.key(line.key, line.subject)}
    if line.key in s.SECRET_KEYS or s.MASK in (line.old, line.new):
        return words._(SECRET_LINE) % values
    values["old"] = words.value(line.key, line.old)
    values["new"] = words.value(line.key, line.new)
    return words._(CHANGE_LINE) % values


def change_email(
    kind: Kind, *, words: Words, lines: Sequence[ChangeLine], at: datetime
) -> Rendered:
    """A configuration, e911 or API change set (values as the settings layer redacted them)."""
    values = {
        "account": words.names.account,
        "date": i18n.format_datetime(at, words.language),
    }
    return _render(
        words.language,
        words._(SUBJECTS[kind]) % values,
        [words._(CHANGES_INTRO) % values, words._(NOTIFICATION_FOOTER)],
        [change_line(words, line) for line in lines],
    )


def suspension_email(kind: Kind, *, language: str, account: str, reason: str) -> Rendered:
    """Suspended or restored by the provider; the operator's reason is quoted as written."""
    language = i18n.language_or_default(language)
    t = partial(i18n.gettext, language)
    values = {"account": account, "reason": reason}
    paragraphs = [t(BODIES[kind]) % values]
    if reason:
        paragraphs.append(t(REASON) % values)
    paragraphs.append(t(SUPPORT_FOOTER))
    return _render(language, t(SUBJECTS[kind]) % values, paragraphs)

"""Notification rules and messages (pure): who is told what, when, in which language.

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

import html
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


# --- messages -----------------------------------------------------------------------------------

_T: dict[str, dict[str, str]] = {
    "en": {
        "balance_low.subject": "Your balance is below {threshold}",
        "balance_low.body": (
            "The balance of account {account} is now {balance}, below your threshold of "
            "{threshold}. Add funds to keep calling."
        ),
        "balance_reminder.subject": "Reminder: your balance is below {threshold}",
        "balance_reminder.body": (
            "The balance of account {account} is still {balance}, below your threshold of "
            "{threshold}. You will receive this reminder every day until you add funds or "
            "change the threshold."
        ),
        "config_changed.subject": "Configuration change on account {account}",
        "e911_changed.subject": "e911 change on account {account}",
        "api_changed.subject": "API configuration change on account {account}",
        "changes.intro": "These settings of account {account} changed:",
        "changes.line": "{subject}: {key}: {old} -> {new}",
        "footer": "You receive this email because of your notification settings.",
    },
    "fr": {
        "balance_low.subject": "Votre solde est inférieur à {threshold}",
        "balance_low.body": (
            "Le solde du compte {account} est maintenant de {balance}, sous votre seuil de "
            "{threshold}. Ajoutez des fonds pour continuer à appeler."
        ),
        "balance_reminder.subject": "Rappel : votre solde est inférieur à {threshold}",
        "balance_reminder.body": (
            "Le solde du compte {account} est toujours de {balance}, sous votre seuil de "
            "{threshold}. Vous recevrez ce rappel chaque jour jusqu'à ce que vous ajoutiez des "
            "fonds ou changiez le seuil."
        ),
        "config_changed.subject": "Modification de la configuration du compte {account}",
        "e911_changed.subject": "Modification e911 du compte {account}",
        "api_changed.subject": "Modification de la configuration API du compte {account}",
        "changes.intro": "Ces paramètres du compte {account} ont changé :",
        "changes.line": "{subject} : {key} : {old} -> {new}",
        "footer": "Vous recevez ce courriel en raison de vos paramètres de notification.",
    },
    "es": {
        "balance_low.subject": "Su saldo es inferior a {threshold}",
        "balance_low.body": (
            "El saldo de la cuenta {account} es ahora {balance}, por debajo de su umbral de "
            "{threshold}. Agregue fondos para seguir llamando."
        ),
        "balance_reminder.subject": "Recordatorio: su saldo es inferior a {threshold}",
        "balance_reminder.body": (
            "El saldo de la cuenta {account} sigue siendo {balance}, por debajo de su umbral de "
            "{threshold}. Recibirá este recordatorio cada día hasta que agregue fondos o cambie "
            "el umbral."
        ),
        "config_changed.subject": "Cambio de configuración en la cuenta {account}",
        "e911_changed.subject": "Cambio de e911 en la cuenta {account}",
        "api_changed.subject": "Cambio de configuración de la API en la cuenta {account}",
        "changes.intro": "Estos ajustes de la cuenta {account} cambiaron:",
        "changes.line": "{subject}: {key}: {old} -> {new}",
        "footer": "Recibe este correo por su configuración de notificaciones.",
    },
}


def _t(language: str, name: str, **values: str) -> str:
    table = _T.get(language, _T["en"])
    return table[name].format(**values)


def money(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.01'))}"


def _html(paragraphs: Sequence[str], items: Sequence[str] = ()) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[:-1])
    if items:
        body += "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
    body += f"<p><small>{html.escape(paragraphs[-1])}</small></p>"
    return f'<!DOCTYPE html><html><body style="font-family:sans-serif">{body}</body></html>'


def balance_message(
    kind: Kind,
    *,
    language: str,
    account: str,
    balance: Decimal,
    threshold: Decimal,
    emails: Sequence[str],
) -> Message:
    values = {"account": account, "balance": money(balance), "threshold": money(threshold)}
    subject = _t(language, f"{kind.value}.subject", **values)
    body = _t(language, f"{kind.value}.body", **values)
    footer = _t(language, "footer")
    return Message(
        kind=kind,
        to=recipients(kind, emails),
        subject=subject,
        text=f"{body}\n\n{footer}\n",
        html=_html([body, footer]),
    )


def change_message(
    kind: Kind,
    *,
    language: str,
    account: str,
    lines: Sequence[ChangeLine],
    emails: Sequence[str],
    account_email: str = "",
) -> Message:
    intro = _t(language, "changes.intro", account=account)
    items = [
        _t(
            language,
            "changes.line",
            subject=line.subject,
            key=line.key,
            old=line.old or "-",
            new=line.new or "-",
        )
        for line in lines
    ]
    footer = _t(language, "footer")
    text = intro + "\n\n" + "\n".join(f"- {i}" for i in items) + f"\n\n{footer}\n"
    return Message(
        kind=kind,
        to=recipients(kind, emails, account_email),
        subject=_t(language, f"{kind.value}.subject", account=account),
        text=text,
        html=_html([intro, footer], items),
    )

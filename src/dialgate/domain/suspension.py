"""What a customer is told when the provider suspends or restores the account (pure): the email
in the account's language, and the reason as the audit log keeps it."""

from __future__ import annotations

import html
from collections.abc import Sequence

from dialgate.domain.notifications import Kind, Message

_T: dict[str, dict[str, str]] = {
    "en": {
        "account_suspended.subject": "Account {account} is suspended",
        "account_suspended.body": (
            "Account {account} has been suspended: calls and registrations are refused until "
            "it is restored."
        ),
        "account_restored.subject": "Account {account} is restored",
        "account_restored.body": (
            "Account {account} has been restored: your devices can register and call again."
        ),
        "reason": "Reason: {reason}",
        "footer": "Contact support if you have questions about this change.",
    },
    "fr": {
        "account_suspended.subject": "Le compte {account} est suspendu",
        "account_suspended.body": (
            "Le compte {account} a été suspendu : les appels et les enregistrements sont "
            "refusés jusqu'à son rétablissement."
        ),
        "account_restored.subject": "Le compte {account} est rétabli",
        "account_restored.body": (
            "Le compte {account} a été rétabli : vos appareils peuvent à nouveau s'enregistrer "
            "et appeler."
        ),
        "reason": "Motif : {reason}",
        "footer": "Contactez le support pour toute question sur ce changement.",
    },
    "es": {
        "account_suspended.subject": "La cuenta {account} está suspendida",
        "account_suspended.body": (
            "La cuenta {account} ha sido suspendida: las llamadas y los registros se rechazan "
            "hasta que se restablezca."
        ),
        "account_restored.subject": "La cuenta {account} está restablecida",
        "account_restored.body": (
            "La cuenta {account} ha sido restablecida: sus dispositivos pueden registrarse y "
            "llamar de nuevo."
        ),
        "reason": "Motivo: {reason}",
        "footer": "Contacte con soporte si tiene preguntas sobre este cambio.",
    },
}
REASON_MARK = "; reason: "


def message(
    kind: Kind, *, language: str, account: str, reason: str, emails: Sequence[str]
) -> Message:
    table = _T.get(language, _T["en"])
    values = {"account": account, "reason": reason}
    paragraphs = [table[f"{kind.value}.body"].format(**values)]
    if reason:
        paragraphs.append(table["reason"].format(**values))
    paragraphs.append(table["footer"])
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return Message(
        kind=kind,
        to=tuple(emails[:1]),
        subject=table[f"{kind.value}.subject"].format(**values),
        text="\n\n".join(paragraphs) + "\n",
        html=f'<!DOCTYPE html><html><body style="font-family:sans-serif">{body}</body></html>',
    )


def reason_of(audit_new_value: str) -> str:
    """The reason in an ``account_enabled`` audit value (``false; reason: unpaid``)."""
    _value, _sep, reason = audit_new_value.partition(REASON_MARK)
    return reason

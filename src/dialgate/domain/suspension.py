"""The reason of a suspension as the audit log keeps it (pure). The email the customer gets is
``presentation.emails.suspension_email``."""

from __future__ import annotations

REASON_MARK = "; reason: "


def reason_of(audit_new_value: str) -> str:
    """The reason in an ``account_enabled`` audit value (``false; reason: unpaid``)."""
    _value, _sep, reason = audit_new_value.partition(REASON_MARK)
    return reason

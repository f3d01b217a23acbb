"""Queries about the email outbox as a whole (what is waiting); sending is ``services.outbox``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialgate.adapters.db.models import OutboxRow


def backlog(session: Session) -> tuple[int, int]:
    """(emails not sent yet, of which already failed at least once)."""
    pending = session.scalar(
        select(func.count(OutboxRow.id)).where(OutboxRow.sent_at.is_(None))) or 0
    failing = session.scalar(select(func.count(OutboxRow.id)).where(
        OutboxRow.sent_at.is_(None), OutboxRow.attempts > 0)) or 0
    return int(pending), int(failing)

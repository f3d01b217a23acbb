"""Queries about call records across accounts (the operator's overview, a batch's call ids).
An account's own history pages are built by ``services.history``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialgate.adapters.db.models_core import CdrRow


def owners_of_call_ids(session: Session, call_ids: Collection[str]) -> dict[str, int]:
    """call id -> the id of the account whose record holds it, for those already recorded."""
    if not call_ids:
        return {}
    rows = session.execute(
        select(CdrRow.call_id, CdrRow.account_id).where(CdrRow.call_id.in_(list(call_ids)))
    )
    return {call_id: account_id for call_id, account_id in rows}


def dispositions_since(session: Session, since: datetime) -> dict[str, int]:
    """How many calls ended at or after ``since``, by disposition (answered, busy, ...)."""
    rows = session.execute(
        select(CdrRow.disposition, func.count(CdrRow.id))
        .where(CdrRow.ended_at >= since).group_by(CdrRow.disposition)
    )
    return {disposition: int(count) for disposition, count in rows}

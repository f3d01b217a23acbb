"""Queries about call records across accounts (the operator's overview, a batch's call ids).
An account's own history pages are built by ``services.history``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select

from dialgate.adapters.db import tables
from dialgate.adapters.db.session import Executes

_cdrs = tables.cdrs.c


def owners_of_call_ids(db: Executes, call_ids: Collection[str]) -> dict[str, int]:
    """call id -> the id of the account whose record holds it, for those already recorded."""
    if not call_ids:
        return {}
    rows = db.execute(
        select(_cdrs.call_id, _cdrs.account_id).where(_cdrs.call_id.in_(list(call_ids)))
    )
    return {call_id: account_id for call_id, account_id in rows}


def dispositions_since(db: Executes, since: datetime) -> dict[str, int]:
    """How many calls ended at or after ``since``, by disposition (answered, busy, ...)."""
    rows = db.execute(
        select(_cdrs.disposition, func.count(_cdrs.id))
        .where(_cdrs.ended_at >= since).group_by(_cdrs.disposition)
    )
    return {disposition: int(count) for disposition, count in rows}

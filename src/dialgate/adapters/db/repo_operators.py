"""Queries about the provider's operators: the operators themselves, their console sessions,
their admin API keys and the operator audit log. Plain reads and writes over a session;
``services.operators`` decides (log-in, lockout, roles)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from dialgate.adapters.db.models import (
    AdminApiKeyRow,
    OperatorAuditRow,
    OperatorRow,
    OperatorSessionRow,
)


def operator_by_email(session: Session, email: str) -> OperatorRow | None:
    """``email`` as stored: trimmed and lower case."""
    return session.scalars(select(OperatorRow).where(OperatorRow.email == email)).first()


def operators(session: Session) -> list[OperatorRow]:
    return list(session.scalars(select(OperatorRow).order_by(OperatorRow.email)))


def claim_totp_step(session: Session, operator_id: int, step: int) -> bool:
    """Record ``step`` as the operator's last accepted TOTP step unless it (or a later one)
    already is. One conditional UPDATE, so two requests racing with the same code cannot
    both win."""
    claimed = session.execute(
        update(OperatorRow)
        .where(OperatorRow.id == operator_id,
               or_(OperatorRow.totp_last_step.is_(None), OperatorRow.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def delete_expired_sessions(session: Session, operator_id: int, now: datetime) -> None:
    session.execute(delete(OperatorSessionRow).where(
        OperatorSessionRow.operator_id == operator_id, OperatorSessionRow.expires_at <= now))


def delete_session(session: Session, id_hash: str) -> None:
    session.execute(delete(OperatorSessionRow).where(OperatorSessionRow.id_hash == id_hash))


def admin_key_by_prefix(session: Session, prefix: str) -> AdminApiKeyRow | None:
    return session.scalars(select(AdminApiKeyRow).where(AdminApiKeyRow.prefix == prefix)).first()


def audit_rows(session: Session, *, limit: int, target: str | None) -> list[OperatorAuditRow]:
    """The operator audit log, newest first, optionally about one target."""
    query = select(OperatorAuditRow).order_by(OperatorAuditRow.at.desc(),
                                              OperatorAuditRow.id.desc()).limit(limit)
    if target:
        query = query.where(OperatorAuditRow.target == target)
    return list(session.scalars(query))

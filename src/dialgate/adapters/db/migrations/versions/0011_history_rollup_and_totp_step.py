"""Daily roll-up of call records (cdr_days), filled from the records already there; call
decisions per minute, worker and reason (decision_minutes); the last accepted TOTP step of each
operator (operators.totp_last_step)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cdr_days",
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("subject", sa.String(32), primary_key=True),
        sa.Column("direction", sa.String(8), primary_key=True),
        sa.Column("disposition", sa.String(16), primary_key=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.Column("billed_s", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
    )
    # Backfill in one statement: the UTC day of started_at, as services.history computes it
    # (SQLite stores UTC text, so date() is the UTC day).
    if op.get_bind().dialect.name == "postgresql":
        day = "CAST(timezone('UTC', started_at) AS DATE)"
    else:
        day = "date(started_at)"
    op.execute(sa.text(
        "INSERT INTO cdr_days (account_id, day, subject, direction, disposition, calls, "
        "seconds, billed_s, cost_micros) "
        f"SELECT account_id, {day}, caller, direction, disposition, count(*), "
        "sum(duration_s), sum(billed_s), sum(cost_micros) FROM cdrs "
        f"GROUP BY account_id, {day}, caller, direction, disposition"
    ))
    op.create_table(
        "decision_minutes",
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("worker", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(48), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
    op.drop_table("decision_minutes")
    op.drop_table("cdr_days")

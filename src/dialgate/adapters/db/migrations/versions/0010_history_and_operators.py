"""Keyset indexes for call history and statements; operators, their sessions, admin API keys
and the operator audit log

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Migrations keep their own copy of the types: they must not change when the models do.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def UTCDateTime() -> sa.DateTime:  # noqa: N802 - reads like the model's type
    return sa.DateTime(timezone=True)

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Pages are read newest first by (time, id): with id in the index a page reads only the
    # rows it shows on PostgreSQL too (SQLite appends the rowid to every index anyway). The new
    # indexes cover what the old (account_id, time) ones did, so those go.
    op.create_index(
        "ix_cdrs_account_started_id", "cdrs", ["account_id", "started_at", "id"], unique=False
    )
    op.drop_index("ix_cdrs_account_started", table_name="cdrs")
    op.create_index(
        "ix_transactions_account_at_id", "transactions", ["account_id", "at", "id"], unique=False
    )
    op.drop_index("ix_transactions_account_at", table_name="transactions")
    op.create_table(
        "operators",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("operator_id", BigId, sa.ForeignKey("operators.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("mfa_done", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_operator_sessions_operator_id", "operator_sessions", ["operator_id"])
    op.create_table(
        "admin_api_keys",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("operator_id", BigId, sa.ForeignKey("operators.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(24), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_admin_api_keys_operator_id", "admin_api_keys", ["operator_id"])
    op.create_table(
        "operator_audit",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("operator", sa.String(254), nullable=False),
        sa.Column("via", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_operator_audit_at", "operator_audit", ["at"])


def downgrade() -> None:
    op.drop_table("operator_audit")
    op.drop_table("admin_api_keys")
    op.drop_table("operator_sessions")
    op.drop_table("operators")
    op.create_index(
        "ix_transactions_account_at", "transactions", ["account_id", "at"], unique=False
    )
    op.drop_index("ix_transactions_account_at_id", table_name="transactions")
    op.create_index("ix_cdrs_account_started", "cdrs", ["account_id", "started_at"], unique=False)
    op.drop_index("ix_cdrs_account_started_id", table_name="cdrs")

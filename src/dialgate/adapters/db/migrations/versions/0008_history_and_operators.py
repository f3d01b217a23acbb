"""Keyset indexes for call history and statements

Revision ID: 0008
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0004"
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


def downgrade() -> None:
    op.create_index(
        "ix_transactions_account_at", "transactions", ["account_id", "at"], unique=False
    )
    op.drop_index("ix_transactions_account_at_id", table_name="transactions")
    op.create_index("ix_cdrs_account_started", "cdrs", ["account_id", "started_at"], unique=False)
    op.drop_index("ix_cdrs_account_started_id", table_name="cdrs")

"""location: Kamailio's registrations (usrloc schema 9), kept in the shared database

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The same table as Kamailio's own usrloc-create.sql (schema version 9), so `usrloc` in
    # db_mode 1 or 3 can keep registrations across restarts and share them between nodes.
    op.create_table(
        "location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ruid", sa.String(length=64), server_default="", nullable=False),
        sa.Column("username", sa.String(length=64), server_default="", nullable=False),
        sa.Column("domain", sa.String(length=64), nullable=True),
        sa.Column("contact", sa.String(length=512), server_default="", nullable=False),
        sa.Column("received", sa.String(length=128), nullable=True),
        sa.Column("path", sa.String(length=512), nullable=True),
        sa.Column(
            "expires", sa.DateTime(), server_default=sa.text("'2030-05-28 21:32:15'"),
            nullable=False,
        ),
        sa.Column("q", sa.Float(), server_default=sa.text("1.0"), nullable=False),
        sa.Column(
            "callid", sa.String(length=255), server_default="Default-Call-ID", nullable=False
        ),
        sa.Column("cseq", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "last_modified", sa.DateTime(), server_default=sa.text("'2000-01-01 00:00:01'"),
            nullable=False,
        ),
        sa.Column("flags", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cflags", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("user_agent", sa.String(length=255), server_default="", nullable=False),
        sa.Column("socket", sa.String(length=64), nullable=True),
        sa.Column("methods", sa.Integer(), nullable=True),
        sa.Column("instance", sa.String(length=255), nullable=True),
        sa.Column("reg_id", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("server_id", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("connection_id", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("keepalive", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("partition", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ruid", name="location_ruid_idx"),
    )
    op.create_index(
        "location_account_contact_idx", "location", ["username", "domain", "contact"]
    )
    op.create_index("location_expires_idx", "location", ["expires"])
    op.create_index("location_connection_idx", "location", ["server_id", "connection_id"])
    version = sa.table(
        "version", sa.column("table_name", sa.String), sa.column("table_version", sa.Integer)
    )
    op.bulk_insert(version, [{"table_name": "location", "table_version": 9}])


def downgrade() -> None:
    op.execute("DELETE FROM version WHERE table_name = 'location'")
    op.drop_index("location_connection_idx", table_name="location")
    op.drop_index("location_expires_idx", table_name="location")
    op.drop_index("location_account_contact_idx", table_name="location")
    op.drop_table("location")

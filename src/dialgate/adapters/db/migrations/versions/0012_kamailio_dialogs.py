"""dialog, dialog_vars, cdr, cdrsending: Kamailio's calls in progress and undelivered records

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _queue_table(name: str) -> None:
    # An mqueue table (the layout the mqueue module reads and writes): id, key, val.
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), server_default="", nullable=False),
        sa.Column("val", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def upgrade() -> None:
    # The same tables as Kamailio's own dialog-create.sql (dialog schema 7, dialog_vars 1), so a
    # node run with `kamailio-config --dialogs database` keeps its calls in progress, and what
    # their records are made of, across a restart.
    op.create_table(
        "dialog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hash_entry", sa.Integer(), nullable=False),
        sa.Column("hash_id", sa.Integer(), nullable=False),
        sa.Column("callid", sa.String(length=255), nullable=False),
        sa.Column("from_uri", sa.String(length=255), nullable=False),
        sa.Column("from_tag", sa.String(length=128), nullable=False),
        sa.Column("to_uri", sa.String(length=255), nullable=False),
        sa.Column("to_tag", sa.String(length=128), nullable=False),
        sa.Column("caller_cseq", sa.String(length=20), nullable=False),
        sa.Column("callee_cseq", sa.String(length=20), nullable=False),
        sa.Column("caller_route_set", sa.String(length=512), nullable=True),
        sa.Column("callee_route_set", sa.String(length=512), nullable=True),
        sa.Column("caller_contact", sa.String(length=255), nullable=False),
        sa.Column("callee_contact", sa.String(length=255), nullable=False),
        sa.Column("caller_sock", sa.String(length=64), nullable=False),
        sa.Column("callee_sock", sa.String(length=64), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Integer(), nullable=False),
        sa.Column("timeout", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("sflags", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("iflags", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("toroute_name", sa.String(length=32), nullable=True),
        sa.Column("req_uri", sa.String(length=255), nullable=False),
        sa.Column("xdata", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("dialog_hash_idx", "dialog", ["hash_entry", "hash_id"])
    op.create_table(
        "dialog_vars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hash_entry", sa.Integer(), nullable=False),
        sa.Column("hash_id", sa.Integer(), nullable=False),
        sa.Column("dialog_key", sa.String(length=128), nullable=False),
        sa.Column("dialog_value", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("dialog_vars_hash_idx", "dialog_vars", ["hash_entry", "hash_id"])
    # The record queue and the batch in flight, saved when Kamailio stops and reloaded when it
    # starts (mqueue dbmode=1): a restart loses no record it had not delivered yet.
    _queue_table("cdr")
    _queue_table("cdrsending")
    version = sa.table(
        "version", sa.column("table_name", sa.String), sa.column("table_version", sa.Integer)
    )
    op.bulk_insert(
        version,
        [{"table_name": "dialog", "table_version": 7},
         {"table_name": "dialog_vars", "table_version": 1}],
    )


def downgrade() -> None:
    op.execute("DELETE FROM version WHERE table_name IN ('dialog', 'dialog_vars')")
    op.drop_table("cdrsending")
    op.drop_table("cdr")
    op.drop_index("dialog_vars_hash_idx", table_name="dialog_vars")
    op.drop_table("dialog_vars")
    op.drop_index("dialog_hash_idx", table_name="dialog")
    op.drop_table("dialog")

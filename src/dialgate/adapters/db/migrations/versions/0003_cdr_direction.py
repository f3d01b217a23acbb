"""cdrs.direction and cdrs.caller_number: inbound DID calls get call records too

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every record so far was an outbound call: the server default makes them so. An inbound
    # record keeps the DID in `dialed` and the account it belongs to in `caller`, like the
    # outbound ones, so only the remote party's number needs a column of its own.
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "direction",
                sa.String(length=8),
                server_default=sa.text("'outbound'"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("caller_number", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Inbound records cannot be told apart once the column is gone, and they were never
    # charged: drop them rather than let them pass for outbound calls.
    op.execute(sa.text("DELETE FROM cdrs WHERE direction = 'inbound'"))
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.drop_column("caller_number")
        batch_op.drop_column("direction")

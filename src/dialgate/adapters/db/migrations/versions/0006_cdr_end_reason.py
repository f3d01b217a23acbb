"""cdrs.end_reason: why an answered call ended (hangup, max_duration, rtp_timeout)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Older records did not say why they ended: null, not a guess.
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("end_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.drop_column("end_reason")

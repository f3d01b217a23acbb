"""policy_changes.kind: a change of an account's balance alone (a charge, a deposit) is told
apart from a change of its call policy

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every entry written so far is read as a policy change (a full rebuild), as it was.
    with op.batch_alter_table("policy_changes") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), server_default="policy", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("policy_changes") as batch:
        batch.drop_column("kind")

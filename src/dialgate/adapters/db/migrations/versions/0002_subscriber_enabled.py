"""subscriber.enabled: Kamailio refuses REGISTER from a disabled account

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The server default gives the existing rows 1. The auth_db version row stays 7: Kamailio
    # allows extra columns.
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("enabled", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
    # An account already disabled (by hand: no use case could do it) keeps its SIP identities
    # disabled too, so the column agrees with accounts.enabled from the start.
    subscriber = sa.table("subscriber", sa.column("username", sa.String), sa.column("enabled"))
    accounts = sa.table(
        "accounts",
        sa.column("id"),
        sa.column("number", sa.String),
        sa.column("enabled", sa.Boolean),
    )
    subaccounts = sa.table("subaccounts", sa.column("account_id"), sa.column("name", sa.String))
    disabled = accounts.c.enabled == sa.false()
    op.execute(
        subscriber.update()
        .where(
            sa.or_(
                subscriber.c.username.in_(sa.select(accounts.c.number).where(disabled)),
                subscriber.c.username.in_(
                    sa.select(subaccounts.c.name)
                    .join(accounts, accounts.c.id == subaccounts.c.account_id)
                    .where(disabled)
                ),
            )
        )
        .values(enabled=0)
    )


def downgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("enabled")

"""subaccounts: ids are never reused (SQLite AUTOINCREMENT)

The VoIP.ms API names sub accounts by id; SQLite hands a deleted highest id to the next row
unless the table is AUTOINCREMENT. PostgreSQL's identity sequences never reuse ids already.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "subaccounts",
        recreate="always",
        table_kwargs={"sqlite_autoincrement": autoincrement},
    ):
        pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)

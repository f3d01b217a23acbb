"""money at rest as whole micro-units: every money column becomes a BIGINT named <name>_micros

Revision ID: 0008
Revises: 0007

SQLite has no decimal type: its NUMERIC columns held floats, so sums drifted (1e-11 after a few
thousand calls). Every amount Dialgate writes has at most six decimals, so it is an exact integer
number of micro-units. PostgreSQL converts its exact NUMERIC values with a cast; SQLite rounds each
float to the nearest micro-unit, which is the value that was written (a float is off by far less
than half a micro-unit below a billion dollars). A value too large for 64 bits (the float
overflow of the old unbounded inputs) stops the upgrade with the row to fix, rather than being
silently changed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (table, column, its old NUMERIC precision, nullable)
COLUMNS = (
    ("accounts", "balance", 18, False),
    ("rates", "rate", 12, False),
    ("transactions", "amount", 18, False),
    ("cdrs", "rate_per_minute", 12, False),
    ("cdrs", "flat_fee", 12, False),
    ("cdrs", "cost", 18, False),
    ("balance_alerts", "threshold", 18, True),
)
# Below 2**63 micro-units with room for the float's own error.
LIMIT = 9_000_000_000_000
KEYS = {"balance_alerts": "account_id"}


def _tables() -> dict[str, list[tuple[str, int, bool]]]:
    tables: dict[str, list[tuple[str, int, bool]]] = {}
    for table, column, precision, nullable in COLUMNS:
        tables.setdefault(table, []).append((column, precision, nullable))
    return tables


def _refuse_out_of_range() -> None:
    bind = op.get_bind()
    for table, column, _precision, _nullable in COLUMNS:
        key = KEYS.get(table, "id")
        row = bind.execute(
            sa.text(f"SELECT {key}, {column} FROM {table} WHERE ABS({column}) >= :limit LIMIT 1"),
            {"limit": LIMIT},
        ).first()
        if row is not None:
            raise RuntimeError(
                f"{table}.{column} = {row[1]} (row {key} {row[0]}) is beyond what money can "
                f"hold ({LIMIT:,} dollars): correct it, then upgrade again"
            )


def upgrade() -> None:
    _refuse_out_of_range()
    if op.get_bind().dialect.name == "postgresql":
        for table, column, _precision, _nullable in COLUMNS:
            # NUMERIC(p, 6) times 10**6 is an integer: the cast is exact.
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE BIGINT "
                f"USING ({column} * 1000000)::bigint"
            )
            op.execute(f"ALTER TABLE {table} RENAME COLUMN {column} TO {column}_micros")
        return
    for table, columns in _tables().items():
        for column, _precision, _nullable in columns:
            op.execute(
                f"UPDATE {table} SET {column} = CAST(ROUND({column} * 1000000) AS INTEGER) "
                f"WHERE {column} IS NOT NULL"
            )
        # The batch copies the (now integral) values with CAST(... AS BIGINT): exact.
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, precision, nullable in columns:
                batch_op.alter_column(
                    column,
                    new_column_name=f"{column}_micros",
                    type_=sa.BigInteger(),
                    existing_type=sa.Numeric(precision=precision, scale=6),
                    existing_nullable=nullable,
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, precision, _nullable in COLUMNS:
            op.execute(f"ALTER TABLE {table} RENAME COLUMN {column}_micros TO {column}")
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE NUMERIC({precision}, 6) "
                f"USING {column}::numeric / 1000000"
            )
        return
    for table, columns in _tables().items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, precision, nullable in columns:
                batch_op.alter_column(
                    f"{column}_micros",
                    new_column_name=column,
                    type_=sa.Numeric(precision=precision, scale=6),
                    existing_type=sa.BigInteger(),
                    existing_nullable=nullable,
                )
        for column, _precision, _nullable in columns:
            op.execute(
                f"UPDATE {table} SET {column} = {column} / 1000000.0 WHERE {column} IS NOT NULL"
            )

"""rate deck versions: each import is a compiled, checksummed version; one is live per route

Revision ID: 0007
Revises: 0006

The rows of the old ``rates`` table become version 1 of their route, so an upgraded system
rates calls exactly as before. The ``rates`` table itself is no longer read.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    versions = op.create_table(
        "rate_deck_versions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("route", "version"),
    )
    data = op.create_table(
        "rate_deck_data",
        sa.Column("version_id", BigId, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["rate_deck_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id"),
    )
    decks = op.create_table(
        "rate_decks",
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("live_version_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(["live_version_id"], ["rate_deck_versions.id"]),
        sa.PrimaryKeyConstraint("route"),
    )
    events = op.create_table(
        "rate_deck_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _carry_over_the_rates_table(versions, data, decks, events)


def _carry_over_the_rates_table(
    versions: sa.Table, data: sa.Table, decks: sa.Table, events: sa.Table
) -> None:
    # The compiler is the application's own: a deck compiled here is the deck the code reads.
    from dialgate.domain.deck import RateDeck
    from dialgate.domain.rating import Rate

    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT route, prefix, destination, rate, increment FROM rates ORDER BY id")
    ).all()
    by_route: dict[str, list[Rate]] = {}
    for route, prefix, destination, rate, increment in rows:
        # NUMERIC(12, 6) read back with six decimals, as the old loader did.
        per_minute = Decimal(str(rate)).quantize(Decimal("0.000001"))
        by_route.setdefault(route, []).append(Rate(prefix, destination, per_minute, increment))
    now = datetime.now(UTC)
    for route, rates in sorted(by_route.items()):
        blob = RateDeck.build(route, rates).to_bytes()
        version_id = bind.execute(
            versions.insert().returning(versions.c.id),
            {"route": route, "version": 1, "row_count": len(rates),
             "checksum": hashlib.sha256(blob).hexdigest(), "actor": "migration 0007",
             "source": "rates table", "created_at": now},
        ).scalar_one()
        bind.execute(data.insert(), {"version_id": version_id, "data": blob})
        bind.execute(decks.insert(), {"route": route, "live_version_id": version_id})
        bind.execute(events.insert(), {"route": route, "at": now, "actor": "migration 0007",
                                       "action": "import", "version": 1, "previous": None})


def downgrade() -> None:
    op.drop_table("rate_deck_events")
    op.drop_table("rate_decks")
    op.drop_table("rate_deck_data")
    op.drop_table("rate_deck_versions")

"""Revision 0007 on SQLite and PostgreSQL: the rows of the old ``rates`` table become version 1
of their route's deck, live, so an upgraded system rates calls exactly as before."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from dialgate.adapters.db import migrate
from dialgate.adapters.db.session import make_engine
from dialgate.services import rates
from dialgate.services.uow import Database
from tests.integration.test_migrations import empty_url as _empty_url

empty_url = _empty_url  # the same fixture: an empty database on each backend


@pytest.fixture
def database_at_0004(empty_url: str) -> Iterator[str]:
    migrate.upgrade(empty_url, "0004")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            for route, prefix, name, rate, increment in [
                ("value", "44", "United Kingdom", "0.0095", 60),
                ("value", "447", "United Kingdom - Mobile", "0.03", 6),
                ("premium", "44", "United Kingdom", "0.012", 1),
            ]:
                conn.execute(
                    # The rate as a literal: sqlite3 cannot bind a Decimal.
                    text("INSERT INTO rates (route, prefix, destination, rate, increment) "
                         f"VALUES (:r, :p, :d, {Decimal(rate)}, :i)"),
                    {"r": route, "p": prefix, "d": name, "i": increment},
                )
    finally:
        engine.dispose()
    yield empty_url


def test_the_old_rates_become_the_live_version_1_of_each_route(
    database_at_0004: str, tmp_path: Path
) -> None:
    migrate.upgrade(database_at_0004)
    db = Database(database_at_0004)
    try:
        with db.uow(write=False) as uow:
            value = rates.versions(uow, "value")
            premium = rates.versions(uow, "premium")
            mobile = rates.lookup(uow, "value", "447911123456")
            uk = rates.lookup(uow, "premium", "442079460123")
    finally:
        db.dispose()
    assert [(v.version, v.rows, v.live, v.actor) for v in value] == [
        (1, 2, True, "migration 0007")
    ]
    assert [(v.version, v.rows, v.live) for v in premium] == [(1, 1, True)]
    assert mobile is not None and (mobile.prefix, str(mobile.per_minute), mobile.increment_s) == (
        "447", "0.030000", 6
    )
    assert uk is not None and (uk.destination, uk.per_minute, uk.increment_s) == (
        "United Kingdom", Decimal("0.012"), 1
    )

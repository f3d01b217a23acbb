"""The Alembic migrations on SQLite and PostgreSQL: a database made by an older revision, with
rows in it, is upgraded in place (0002: subscribers enabled as their accounts; 0003: call
records outbound); the head schema is the one the models describe."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from dialgate.adapters.db import migrate
from dialgate.adapters.db.models import Base
from dialgate.adapters.db.session import make_engine

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no revision applied), once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server = request.getfixturevalue("pg_server")
    name = f"dialgate_migrate_{os.getpid()}_{tmp_path.name[-12:].replace('-', '_')}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fill_at_0001(url: str) -> None:
    """Accounts and subscriber rows as revision 0001 stores them (plain SQL: the models are
    the head schema). Account 300000 was disabled by hand, as operators had to."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for id_, number, enabled in ((1, "100000", True), (2, "300000", False)):
            conn.execute(
                text(
                    "INSERT INTO accounts (id, number, email, enabled, language, "
                    "portal_password_hash, settings, balance, version, failed_logins, created_at) "
                    "VALUES (:id, :number, :email, :enabled, 'en', 'x', '{}', 0, 1, 0, :now)"
                ),
                {
                    "id": id_,
                    "number": number,
                    "email": f"{number}@example.com",
                    "enabled": enabled,
                    "now": NOW,
                },
            )
        for id_, account_id, username in ((1, 1, "office"), (2, 2, "desk")):
            number = "100000" if account_id == 1 else "300000"
            conn.execute(
                text(
                    "INSERT INTO subaccounts (id, account_id, username, name, settings, version, "
                    "created_at) VALUES (:id, :account_id, :username, :name, '{}', 1, :now)"
                ),
                {
                    "id": id_,
                    "account_id": account_id,
                    "username": username,
                    "name": f"{number}_{username}",
                    "now": NOW,
                },
            )
        for id_, username in enumerate(
            ("100000", "100000_office", "300000", "300000_desk"), start=1
        ):
            conn.execute(
                text(
                    "INSERT INTO subscriber (id, username, domain, password, ha1, ha1b, "
                    "max_expiry, encrypted_sip, nat) "
                    "VALUES (:id, :username, 'sip.example', '', 'h1', 'h2', 600, 0, 'yes')"
                ),
                {"id": id_, "username": username},
            )
    engine.dispose()


def test_upgrade_from_0001_keeps_subscribers_and_enables_them_as_their_accounts(
    empty_url: str,
) -> None:
    migrate.upgrade(empty_url, "0001")
    _fill_at_0001(empty_url)
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT username, enabled, max_expiry, ha1 FROM subscriber ORDER BY username")
            ).all()
            version = conn.execute(
                text("SELECT table_version FROM version WHERE table_name = 'subscriber'")
            ).scalar_one()
            # New rows that do not name the column (Kamailio tools, hand-made rows) get 1.
            conn.execute(
                text(
                    "INSERT INTO subscriber (id, username, domain, password, ha1, ha1b, "
                    "max_expiry, encrypted_sip, nat) "
                    "VALUES (9, 'new', 'sip.example', '', '', '', 3600, 0, 'yes')"
                )
            )
            new = conn.execute(text("SELECT enabled FROM subscriber WHERE id = 9")).scalar_one()
            conn.rollback()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("100000", 1, 600, "h1"),
        ("100000_office", 1, 600, "h1"),
        ("300000", 0, 600, "h1"),
        ("300000_desk", 0, 600, "h1"),
    ]
    assert version == 7  # auth_db's schema version: extra columns do not change it
    assert new == 1


def test_head_schema_is_what_the_models_describe_and_0002_downgrades(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        command.downgrade(migrate.alembic_config(empty_url), "0001")
        columns = {c["name"] for c in inspect(engine).get_columns("subscriber")}
        assert "enabled" not in columns and "nat" in columns
    finally:
        engine.dispose()


def _insert_cdr(conn: Connection, call_id: str, extra: dict[str, str] | None = None) -> None:
    """A call record as revision 0002 stores it (plus ``extra`` columns of later revisions)."""
    columns = {
        "call_id": ":call_id",
        "account_id": "1",
        "caller": "'100000'",
        "dialed": "'5145550199'",
        "started_at": ":now",
        "answered_at": ":now",
        "ended_at": ":now",
        "disposition": "'answered'",
        "route": "'value'",
        "rate_per_minute": "0.01",
        "increment_s": "60",
        "flat_fee": "0",
        "duration_s": "61",
        "billed_s": "120",
        "cost": "0.02",
        **(extra or {}),
    }
    conn.execute(
        text(f"INSERT INTO cdrs ({', '.join(columns)}) VALUES ({', '.join(columns.values())})"),
        {"call_id": call_id, "now": NOW},
    )


def test_upgrade_from_0002_makes_every_existing_call_record_outbound(empty_url: str) -> None:
    migrate.upgrade(empty_url, "0002")
    _fill_at_0001(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            _insert_cdr(conn, "old-1")
            _insert_cdr(conn, "old-2")
        migrate.upgrade(empty_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT call_id, direction, caller_number, cost FROM cdrs ORDER BY call_id")
            ).all()
            # A row written without the column (an old worker during a rolling upgrade) is
            # outbound too.
            _insert_cdr(conn, "during-upgrade")
            late = conn.execute(
                text("SELECT direction FROM cdrs WHERE call_id = 'during-upgrade'")
            ).scalar_one()
            conn.rollback()
    finally:
        engine.dispose()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("old-1", "outbound", None),
        ("old-2", "outbound", None),
    ]
    assert late == "outbound"


def test_0003_downgrades_dropping_the_inbound_records_it_cannot_represent(
    empty_url: str,
) -> None:
    migrate.upgrade(empty_url)
    _fill_at_0001(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            _insert_cdr(conn, "out-1")
            _insert_cdr(
                conn,
                "in-1",
                {"direction": "'inbound'", "caller_number": "'4385550123'", "cost": "0"},
            )
        command.downgrade(migrate.alembic_config(empty_url), "0002")
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT call_id FROM cdrs")).scalars().all()
        columns = {c["name"] for c in inspect(engine).get_columns("cdrs")}
    finally:
        engine.dispose()
    assert kept == ["out-1"]
    assert {"direction", "caller_number"}.isdisjoint(columns) and "dialed" in columns


# The revision 0005 (forwardings) follows 0004.
BEFORE_FORWARDINGS = "0004"


def _insert_did(conn: Connection, id_: int, account_id: int, number: str, **routes: str) -> None:
    values = {"routing": "none:", "failover_busy": "none:", "failover_unreachable": "none:",
              "failover_noanswer": "none:", **routes}
    conn.execute(
        text(
            "INSERT INTO dids (id, account_id, number, description, routing, failover_busy, "
            "failover_unreachable, failover_noanswer, pop, plan, cnam_lookup, e911_enabled, "
            "dial_time, created_at) VALUES (:id, :account_id, :number, '', :routing, "
            ":failover_busy, :failover_unreachable, :failover_noanswer, 'montreal1', "
            "'per_minute', false, false, 60, :now)"
        ),
        {"id": id_, "account_id": account_id, "number": number, "now": NOW, **values},
    )


def test_upgrade_makes_legacy_forward_targets_forwardings_and_points_dids_at_them(
    empty_url: str,
) -> None:
    migrate.upgrade(empty_url, BEFORE_FORWARDINGS)
    _fill_at_0001(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            # Both accounts had their own "fwd:1"; account 1 also an IVR and a second forward.
            for id_, account_id, kind, ref, name, data in (
                (1, 1, "fwd", "1", "Mobile", '{"number": "5145550199"}'),
                (2, 1, "fwd", "2", "Home", '{"number": "4385550100"}'),
                (3, 2, "fwd", "1", "", '{"number": "6135550100"}'),
                (4, 1, "ivr", "1", "Menu", "{}"),
            ):
                conn.execute(
                    text("INSERT INTO routing_targets (id, account_id, kind, ref, name, data) "
                         "VALUES (:id, :a, :kind, :ref, :name, :data)"),
                    {"id": id_, "a": account_id, "kind": kind, "ref": ref, "name": name,
                     "data": data},
                )
            _insert_did(conn, 1, 1, "5145550100", routing="fwd:2", failover_busy="fwd:1")
            _insert_did(conn, 2, 2, "6135550101", failover_noanswer="fwd:1")
            conn.execute(text("UPDATE accounts SET settings = :s WHERE id = 1"),
                         {"s": '{"did_failover_busy": "fwd:1", "dialing_mode": "nanp"}'})
        migrate.upgrade(empty_url)
        with engine.connect() as conn:
            entries = {
                (r.account_id, r.phone_number): r.id
                for r in conn.execute(text("SELECT id, account_id, phone_number FROM forwardings"))
            }
            names = dict(
                conn.execute(text("SELECT phone_number, description FROM forwardings")).all()
            )
            dids = {r.number: tuple(r[1:]) for r in conn.execute(text(
                "SELECT number, routing, failover_busy, failover_noanswer FROM dids"))}
            settings = conn.execute(
                text("SELECT settings FROM accounts WHERE id = 1")
            ).scalar_one()
            left = conn.execute(text("SELECT kind, ref FROM routing_targets")).all()
        mobile, home = entries[(1, "5145550199")], entries[(1, "4385550100")]
        other = entries[(2, "6135550100")]
        assert names["5145550199"] == "Mobile" and len({mobile, home, other}) == 3
        assert dids["5145550100"] == (f"fwd:{home}", f"fwd:{mobile}", "none:")
        assert dids["6135550101"] == ("none:", "none:", f"fwd:{other}")
        stored = settings if isinstance(settings, dict) else json.loads(settings)
        assert stored == {"did_failover_busy": f"fwd:{mobile}", "dialing_mode": "nanp"}
        assert [tuple(r) for r in left] == [("ivr", "1")]
        # Back down: routing targets again, whose refs are the ids the DIDs now name.
        command.downgrade(migrate.alembic_config(empty_url), BEFORE_FORWARDINGS)
        with engine.connect() as conn:
            back = {tuple(r) for r in conn.execute(
                text("SELECT account_id, kind, ref FROM routing_targets WHERE kind = 'fwd'"))}
        assert back == {(1, "fwd", str(mobile)), (1, "fwd", str(home)), (2, "fwd", str(other))}
    finally:
        engine.dispose()

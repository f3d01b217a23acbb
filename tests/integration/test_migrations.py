"""The Alembic migrations on SQLite and PostgreSQL: a database made by an older revision, with
rows in it, is upgraded in place (0002: subscribers enabled as their accounts; 0003: call
records outbound; 0005: forwarding entries; 0008: money in whole micro-units, exactly); the
head schema is the one the models describe."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
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
from dialgate.services import billing
from dialgate.services.uow import Database

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
        migrate.upgrade(empty_url, "0004")  # the money columns as 0003 and 0004 name them
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
    migrate.upgrade(empty_url, "0004")  # money columns as 0003 and 0004 name them
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


# The revision 0005 (forwardings) follows 0004; 0008 (money in micro-units) follows 0007.
BEFORE_FORWARDINGS = "0004"
BEFORE_MONEY = "0007"


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


# Money as 0004 stored it. On SQLite the balance is what float arithmetic left after the ledger's
# rows were added one by one (0.1 + 0.2 = 0.30000000000000004), as the old code did.
LEDGER = {
    1: ["0.1", "0.2", "-0.000001", "123456789.123456"],
    2: ["-12.345678", "0.333333"],
}
MONEY_AT_0004 = {
    # (table, column): {row key: the amount 0004 held}
    ("rates", "rate"): {1: "0.0106", 2: "0.3048", 3: "999999.999999"},
    ("cdrs", "rate_per_minute"): {"call-1": "0.010000", "call-2": "0.019999"},
    ("cdrs", "flat_fee"): {"call-1": "0", "call-2": "0.99"},
    ("cdrs", "cost"): {"call-1": "0.020000", "call-2": "1.029998"},
    ("balance_alerts", "threshold"): {1: "5.00", 2: None},
}


def _float_sum(amounts: list[str]) -> float:
    total = 0.0
    for amount in amounts:
        total += float(amount)
    return total


def _fill_money_at_0004(url: str, *, sqlite: bool) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for account_id, amounts in LEDGER.items():
            balance: object = (
                _float_sum(amounts) if sqlite else sum(Decimal(a) for a in amounts)
            )
            conn.execute(
                text("UPDATE accounts SET balance = :balance WHERE id = :id"),
                {"balance": balance, "id": account_id},
            )
            for n, amount in enumerate(amounts):
                conn.execute(
                    text(
                        "INSERT INTO transactions (account_id, at, kind, amount, description) "
                        "VALUES (:account_id, :at, 'deposit', :amount, '')"
                    ),
                    {
                        "account_id": account_id,
                        "at": NOW.replace(minute=n + 1),
                        "amount": float(amount) if sqlite else Decimal(amount),
                    },
                )
        for id_, rate in MONEY_AT_0004[("rates", "rate")].items():
            conn.execute(
                text(
                    "INSERT INTO rates (id, route, prefix, destination, rate, increment) "
                    "VALUES (:id, 'value', :prefix, 'Somewhere', :rate, 60)"
                ),
                {"id": id_, "prefix": f"4{id_}", "rate": float(rate) if sqlite else Decimal(rate)},
            )
        for call_id in ("call-1", "call-2"):
            _insert_cdr(
                conn,
                call_id,
                {
                    column: repr(float(MONEY_AT_0004[("cdrs", column)][call_id]))
                    if sqlite else MONEY_AT_0004[("cdrs", column)][call_id]
                    for column in ("rate_per_minute", "flat_fee", "cost")
                },
            )
        for account_id, threshold in MONEY_AT_0004[("balance_alerts", "threshold")].items():
            conn.execute(
                text(
                    "INSERT INTO balance_alerts (account_id, threshold, last_sent_at) "
                    "VALUES (:account_id, :threshold, NULL)"
                ),
                {"account_id": account_id, "threshold": threshold},
            )
    engine.dispose()


def _micros(amount: str | None) -> int | None:
    return None if amount is None else int(Decimal(amount).scaleb(6))


def test_0008_converts_every_amount_to_exact_micro_units_and_back(empty_url: str) -> None:
    sqlite = empty_url.startswith("sqlite")
    migrate.upgrade(empty_url, BEFORE_MONEY)
    _fill_at_0001(empty_url)
    _fill_money_at_0004(empty_url, sqlite=sqlite)
    if sqlite:  # the drift that made the change necessary is really in the old database
        engine = make_engine(empty_url)
        with engine.connect() as conn:
            old = conn.execute(text("SELECT balance FROM accounts WHERE id = 1")).scalar_one()
        engine.dispose()
        assert Decimal(old) != sum(Decimal(a) for a in LEDGER[1])

    migrate.upgrade(empty_url)

    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            balances = dict(conn.execute(text("SELECT id, balance_micros FROM accounts")).all())
            ledger = conn.execute(
                text("SELECT account_id, amount_micros FROM transactions ORDER BY id")
            ).all()
            stored = {
                ("rates", "rate"): dict(
                    conn.execute(text("SELECT id, rate_micros FROM rates")).all()
                ),
                **{
                    ("cdrs", column): dict(
                        conn.execute(text(f"SELECT call_id, {column}_micros FROM cdrs")).all()
                    )
                    for column in ("rate_per_minute", "flat_fee", "cost")
                },
                ("balance_alerts", "threshold"): dict(
                    conn.execute(
                        text("SELECT account_id, threshold_micros FROM balance_alerts")
                    ).all()
                ),
            }
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    # Integers, exactly the amounts written: no float, no rounding error left.
    assert balances == {
        account_id: sum(_micros(a) or 0 for a in amounts)
        for account_id, amounts in LEDGER.items()
    }
    assert all(type(v) is int for v in balances.values())
    assert ledger == [
        (account_id, _micros(a)) for account_id, amounts in LEDGER.items() for a in amounts
    ]
    assert stored == {
        key: {row: _micros(amount) for row, amount in rows.items()}
        for key, rows in MONEY_AT_0004.items()
    }
    assert diff == []

    # The application reads them back as the same Decimals, and the ledger sums to the balance.
    db = Database(empty_url)
    try:
        with db.uow(write=False) as uow:
            first = billing.current_balance(uow, "100000")
            history = billing.transaction_history(uow, "100000", NOW.date(), NOW.date())
    finally:
        db.dispose()
    assert first == Decimal("123456789.423455")
    assert sum(t.amount for t in history) == first
    assert [str(t.amount) for t in history] == [
        "0.100000", "0.200000", "-0.000001", "123456789.123456"
    ]

    command.downgrade(migrate.alembic_config(empty_url), BEFORE_MONEY)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            back = dict(conn.execute(text("SELECT id, balance FROM accounts")).all())
            rates = dict(conn.execute(text("SELECT id, rate FROM rates")).all())
        columns = {c["name"] for c in inspect(engine).get_columns("cdrs")}
    finally:
        engine.dispose()
    assert {"rate_per_minute", "flat_fee", "cost"} <= columns
    assert not {c for c in columns if c.endswith("_micros")}
    # The old NUMERIC columns again: exact on PostgreSQL, the nearest float on SQLite.
    assert {k: Decimal(str(v)).quantize(Decimal("0.000001")) for k, v in back.items()} == {
        account_id: sum(Decimal(a) for a in amounts) for account_id, amounts in LEDGER.items()
    }
    assert {k: Decimal(str(v)).quantize(Decimal("0.000001")) for k, v in rates.items()} == {
        k: Decimal(v) for k, v in MONEY_AT_0004[("rates", "rate")].items()
    }


def test_0008_stops_on_an_amount_beyond_64_bits_and_names_the_row(tmp_path: Path) -> None:
    """The old unbounded inputs could leave a float like -1e20 in a balance: the upgrade stops
    and says which row, rather than storing something else."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, BEFORE_MONEY)
    _fill_at_0001(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET balance = -1e20 WHERE id = 2"))
    engine.dispose()
    with pytest.raises(RuntimeError, match=r"accounts\.balance = -1e\+20 \(row id 2\)"):
        migrate.upgrade(url)
    assert migrate_revision(url) == BEFORE_MONEY


def migrate_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()

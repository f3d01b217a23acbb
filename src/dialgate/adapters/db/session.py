"""Engines and sessions for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from sqlalchemy import Connection, Engine, Executable, Result, Row, create_engine, event
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


# A result, and a row, of any number of columns of any types (what a Core statement gives).
AnyResult: TypeAlias = Result[*tuple[Any, ...]]
AnyRow: TypeAlias = Row[*tuple[Any, ...]]


class Executes(Protocol):
    """What runs a Core statement: a ``Connection``, an ORM ``Session`` or a unit of work. The
    call path's queries take one, so the same query serves a light command (a bare connection)
    and a use case that also holds ORM objects (its session flushes them first)."""

    def execute(self, statement: Executable, /) -> AnyResult: ...


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or none)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


DEFAULT_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        # First: even switching to WAL may have to wait for another connection's lock.
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # WAL lets Kamailio (a reader of the subscriber table) and the worker run beside the
        # server.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return pragmas


def make_engine(url: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """``busy_timeout_ms``: how long a SQLite connection waits for another writer's lock."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        # pysqlite defers BEGIN until the first write, so two read-then-write transactions can
        # both read and then one fails with "database is locked". We emit BEGIN ourselves, and
        # BEGIN IMMEDIATE (take the write lock first) for engines marked ``dialgate_write``.

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            write = conn.get_execution_options().get("dialgate_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_session(connection: Connection) -> Session:
    """An ORM session on ``connection`` that owns its transaction: its commit commits the
    connection's, its close rolls back what was not committed. The ORM is imported here, on the
    first use of a session, not by every process that reads the database."""
    from sqlalchemy.orm import Session

    return Session(bind=connection, expire_on_commit=False, join_transaction_mode="control_fully")

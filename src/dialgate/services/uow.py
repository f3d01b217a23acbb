"""The unit of work: one database transaction per use case, rolled back unless committed.

The unit of work also carries what a use case needs from the world besides the database, so
services never read the configuration or the system clock themselves: the deployment's SIP
``realm`` (for subscriber digests) and the ``clock``. Bootstrap sets them from the configuration;
tests give fakes (``Database(url, clock=fixed)``).

A unit of work is one database connection and its transaction. Core statements run on it
directly (``uow.execute``); the ORM ``Session`` is made on first use of ``uow.session`` and bound
to that same connection, so both see one transaction. The call path's reads use Core only, so a
process that only decides, rates or reads a balance never imports the ORM (docs/architecture.md,
"CLI start-up").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Self, TypeVar

from sqlalchemy import Connection, Engine, Executable

from dialgate.adapters.db.session import (
    DEFAULT_BUSY_TIMEOUT_MS,
    AnyResult,
    make_engine,
    make_session,
)
from dialgate.config import DEFAULT_SIP_REALM

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Clock = Callable[[], datetime]
P = ParamSpec("P")
R = TypeVar("R")


def utc_now() -> datetime:
    """The system clock, aware and in UTC (the default ``Clock``)."""
    return datetime.now(UTC)


class Database:
    """The engine and session factories of one database (what bootstrap wires into services)."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        realm: str = DEFAULT_SIP_REALM,
        clock: Clock = utc_now,
    ) -> None:
        self.url = url
        self.realm = realm
        self.clock = clock
        self.engine: Engine = make_engine(url, busy_timeout_ms=busy_timeout_ms)
        # On SQLite, write transactions take the write lock up front (BEGIN IMMEDIATE).
        self._write_engine = self.engine.execution_options(dialgate_write=True)
        self.after_commit_hooks: list[Callable[[set[str]], None]] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self, self._write_engine if write else self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """``with db.uow() as uow: ...; uow.commit()``: anything not committed is rolled back.

    ``touched`` collects the accounts whose call policy the transaction changed; after a commit
    the database's hooks hear about them (e.g. to drop compiled snapshots in this process).
    """

    def __init__(self, db: Database, engine: Engine) -> None:
        self.db = db
        self._engine = engine
        self._session: Session | None = None
        self.touched: set[str] = set()
        self.realm = db.realm

    def now(self) -> datetime:
        """The time by the database's clock (a fake one in tests)."""
        return self.db.clock()

    def __enter__(self) -> Self:
        self.connection: Connection = self._engine.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed. The session is closed without expiring
        # what it loaded, so what a use case returns stays readable after the block.
        try:
            if self._session is not None:
                self._session.close()
        finally:
            self.connection.close()

    @property
    def session(self) -> Session:
        """The ORM session of this unit of work, on its connection and in its transaction."""
        if self._session is None:
            self._session = make_session(self.connection)
        return self._session

    def execute(
        self,
        statement: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> AnyResult:
        """Run a Core statement in this unit of work (a list of parameter sets: once for each).
        Through the session when there is one, so that objects it holds are flushed first and
        the statement sees them."""
        if self._session is not None:
            return self._session.execute(statement, params)
        return self.connection.execute(statement, params)

    def flushed(self) -> Connection:
        """The connection, with what the session holds written to it first: for a query that
        needs the driver's own connection (``repo_decks``)."""
        if self._session is not None:
            self._session.flush()
        return self.connection

    def scalar(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row (None: no row)."""
        return self.execute(statement, params).scalar()

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()  # flushes, and commits the connection's transaction
        else:
            self.connection.commit()
        if self.touched:
            for hook in self.db.after_commit_hooks:
                hook(set(self.touched))
            self.touched.clear()

    @property
    def dialect(self) -> str:
        return self.db.dialect


def use_case(
    fn: Callable[Concatenate[UnitOfWork, P], R],
) -> Callable[Concatenate[Database | UnitOfWork, P], R]:
    """A use case that owns its transaction.

    Given a ``Database`` (what entrypoints pass), it opens a write unit of work, runs, commits
    and returns the result: the caller never commits. Given a ``UnitOfWork`` (another use case
    composing it, a seed, a test that checks state before committing), it joins that transaction
    and leaves the commit to whoever opened it. Errors roll back either way.
    """

    @functools.wraps(fn)
    def run(target: Database | UnitOfWork, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if isinstance(target, UnitOfWork):
            return fn(target, *args, **kwargs)
        with target.uow() as uow:
            result = fn(uow, *args, **kwargs)
            uow.commit()
        return result

    return run


def query(
    fn: Callable[Concatenate[UnitOfWork, P], R],
) -> Callable[Concatenate[Database | UnitOfWork, P], R]:
    """A read: given a ``Database`` it runs in a read-only unit of work (no write lock)."""

    @functools.wraps(fn)
    def run(target: Database | UnitOfWork, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if isinstance(target, UnitOfWork):
            return fn(target, *args, **kwargs)
        with target.uow(write=False) as uow:
            return fn(uow, *args, **kwargs)

    return run

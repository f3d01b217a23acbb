"""The unit of work: one database transaction per use case, rolled back unless committed.

The unit of work also carries what a use case needs from the world besides the database, so
services never read the configuration or the system clock themselves: the deployment's SIP
``realm`` (for subscriber digests) and the ``clock``. Bootstrap sets them from the configuration;
tests give fakes (``Database(url, clock=fixed)``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Concatenate, ParamSpec, Self, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dialgate.adapters.db.session import (
    DEFAULT_BUSY_TIMEOUT_MS,
    make_engine,
    make_session_factory,
)
from dialgate.config import DEFAULT_SIP_REALM

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
        self._read = make_session_factory(self.engine)
        # On SQLite, write transactions take the write lock up front (BEGIN IMMEDIATE).
        self._write = make_session_factory(self.engine.execution_options(dialgate_write=True))
        self.after_commit_hooks: list[Callable[[set[str]], None]] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self, self._write if write else self._read)

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """``with db.uow() as uow: ...; uow.commit()``: anything not committed is rolled back.

    ``touched`` collects the accounts whose call policy the transaction changed; after a commit
    the database's hooks hear about them (e.g. to drop compiled snapshots in this process).
    """

    def __init__(self, db: Database, factory: sessionmaker[Session]) -> None:
        self.db = db
        self._factory = factory
        self.touched: set[str] = set()
        self.realm = db.realm

    def now(self) -> datetime:
        """The time by the database's clock (a fake one in tests)."""
        return self.db.clock()

    def __enter__(self) -> Self:
        self.session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed without expiring loaded objects, so
        # what a use case returns stays readable after the block.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
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

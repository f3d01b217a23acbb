"""Call decisions by reason over the last minutes, for the console's live overview, without a
database write per decision.

Every decision is already counted in memory by ``services.authorize.decide_counted`` (one dict
increment into ``metrics.decisions``, cumulative per reason and destination class). A
``DecisionLog`` per worker process takes the difference since its previous flush, per reason,
and adds it to the worker's row of the current minute in ``decision_minutes``: from a
background thread every ``interval`` seconds (60 by default) and once more at shutdown. The hot
path pays nothing more than before. A flush's counts are filed under the minute the flush ran,
so with a 60 s interval a decision may be counted up to a minute late; ``recent`` sums every
worker's rows, so the overview is the same whichever worker answers it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from dialgate.adapters import metrics
from dialgate.adapters.db.models import DecisionMinuteRow
from dialgate.services.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

WINDOW_MINUTES = 15
FLUSH_INTERVAL = 60.0


def worker_name() -> str:
    """This process, as the rows name it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def add_counts(uow: UnitOfWork, worker: str, minute: datetime, counts: dict[str, int]) -> None:
    """Add ``counts`` (reason -> decisions) to the worker's rows of ``minute``."""
    counts = {reason: n for reason, n in counts.items() if n > 0}
    if not counts:
        return
    table = DecisionMinuteRow.__table__
    dialect = postgresql if uow.dialect == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["minute", "worker", "reason"],
        set_={table.c.count: table.c.count + stmt.excluded.count},
    )
    uow.session.execute(stmt, [
        {"minute": minute, "worker": worker, "reason": reason[:48], "count": n}
        for reason, n in sorted(counts.items())
    ])


def recent(uow: UnitOfWork, *, now: datetime | None = None,
           minutes: int = WINDOW_MINUTES) -> dict[str, int]:
    """Decisions per reason in the last ``minutes`` minutes (the current one included), summed
    over every worker; the most frequent first."""
    since = minute_of(now or uow.now()) - timedelta(minutes=minutes - 1)
    rows = uow.session.execute(
        select(DecisionMinuteRow.reason, func.sum(DecisionMinuteRow.count))
        .where(DecisionMinuteRow.minute >= since)
        .group_by(DecisionMinuteRow.reason)
    ).all()
    return dict(sorted(((r, int(n)) for r, n in rows), key=lambda item: (-item[1], item[0])))


def prune(uow: UnitOfWork, *, now: datetime | None = None, keep_hours: int = 24) -> None:
    """Drop rows older than ``keep_hours`` (the table only serves the last minutes)."""
    cutoff = minute_of(now or uow.now()) - timedelta(hours=keep_hours)
    uow.session.execute(delete(DecisionMinuteRow).where(DecisionMinuteRow.minute < cutoff))


class DecisionLog:
    """One worker's flusher. Created when the app starts: decisions counted before (by an
    earlier app in the same process) are not this worker's to report."""

    def __init__(self, db: Database, *, worker: str | None = None,
                 interval: float = FLUSH_INTERVAL) -> None:
        self.db = db
        self.worker = worker or worker_name()
        self.interval = interval
        self._lock = threading.Lock()
        self._tally = metrics.decisions
        self._sent = self._per_reason()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _per_reason(self) -> dict[str, int]:
        tally = metrics.decisions
        if tally is None:
            return {}
        out: dict[str, int] = {}
        for reason, by_class in dict(tally.counts).items():  # C-level copies, no lock taken
            out[reason] = sum(dict(by_class).values())
        return out

    def flush(self, *, now: datetime | None = None) -> dict[str, int]:
        """Write what was counted since the last flush; returns it (reason -> decisions)."""
        with self._lock:
            if metrics.decisions is not self._tally:  # metrics were switched off or on
                self._tally, self._sent = metrics.decisions, {}
            current = self._per_reason()
            delta = {r: n - self._sent.get(r, 0) for r, n in current.items()}
            delta = {r: n for r, n in delta.items() if n > 0}
            if delta:
                with self.db.uow() as uow:
                    add_counts(uow, self.worker, minute_of(now or uow.now()), delta)
                    prune(uow, now=now)
                    uow.commit()
            self._sent = current  # only once written: a failed flush is retried next time
            return delta

    def start(self) -> None:
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.flush()
                except SQLAlchemyError:  # the database is away: the counts wait for the next
                    log.warning("decision counts not flushed", exc_info=True)

        self._thread = threading.Thread(target=loop, name="decision-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and flush what is left (shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            self.flush()
        except SQLAlchemyError:
            log.warning("decision counts lost at shutdown", exc_info=True)

"""Prometheus metrics (``prometheus-client``), one definition per metric, and the cheap way the
hot path counts.

Several uvicorn workers report one view through the library's multiprocess mode: when
``PROMETHEUS_MULTIPROC_DIR`` is set *before this module is imported* (``dialgate serve`` does it),
every process writes its values to memory-mapped files there and a scrape adds them up
(``render``). Without it (tests in one process, the CLI) the values live in this process.

The per-call path (decisions, HTTP requests) does not touch the library: a multiprocess
``Counter.inc`` takes a lock and writes the mmap, and a histogram observation does that twice,
together about half of what the decision itself costs. Instead each call adds to a plain
in-process tally (a decision: one dict update) and a background thread
moves the totals into the library's pre-bound children once a second (``FLUSH_INTERVAL``); a
scrape flushes its own process first. Everything else here (snapshot builds, call records,
ledger rows, SMTP, logins) happens at most a few hundred times a second and uses the library
directly.

``disable()`` turns the per-call tallies off (``DIALGATE_METRICS_ENABLED=false``), which is how
the benchmarks measure what the instrumentation costs.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

# The library opens its files in this directory as soon as a metric is defined (below):
# it must exist first, even when nothing ran `dialgate serve` (a systemd unit's tmpfs path).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import REGISTRY as _PROCESS_REGISTRY
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0  # seconds between moves of the per-call tallies into the library
ALLOWED_REASON = "ok"  # the reason of every allowed decision (domain.policy)
DECISION_BUCKETS = (
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.005, 0.025, 0.1, 0.5, float("inf"),
)

DECISIONS = Counter(
    "dialgate_decisions",
    "Call decisions, by outcome, reason and destination class.",
    ["allowed", "reason", "class"],
)
DECISION_SECONDS = Histogram(
    "dialgate_decision_seconds",
    "Time to answer a switch's authorize request: validation, snapshot lookup (or build), "
    "decision and answer.",
    buckets=DECISION_BUCKETS,
)
SNAPSHOT_BUILD_SECONDS = Histogram(
    "dialgate_snapshot_build_seconds",
    "Policy snapshot builds (count) and how long each took (SQL and compilation).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
FEED_LAG = Gauge(
    "dialgate_policy_feed_lag_seconds",
    "Seconds since this process last read the policy change feed (worst live process).",
    multiprocess_mode="livemax",
)
FEED_ERRORS = Counter(
    "dialgate_policy_feed_errors", "Policy change feed reads that failed (database errors)."
)
CDR_BATCHES = Counter("dialgate_cdr_batches", "Call-record requests from switches (one per batch).")
CDR_RECORDS = Counter(
    "dialgate_cdr_records",
    "Call records received, by outcome (recorded, duplicate, rejected).",
    ["outcome"],
)
LEDGER_WRITES = Counter(
    "dialgate_ledger_writes", "Ledger rows written (charges, deposits, ...), by kind.", ["kind"]
)
SMTP_SENT = Counter("dialgate_smtp_sent", "Notification emails the SMTP server accepted.")
SMTP_FAILURES = Counter(
    "dialgate_smtp_failures", "Notification emails the SMTP server did not accept (retried later)."
)
WORKER_ERRORS = Counter(
    "dialgate_worker_errors", "Outbox worker passes that failed (database errors); it retries."
)
LOGIN_FAILURES = Counter("dialgate_login_failures", "Portal logins refused (wrong credentials).")
LOGIN_LOCKOUTS = Counter(
    "dialgate_login_lockouts", "Portal accounts locked after too many failed logins."
)
HTTP_REQUESTS = Counter(
    "dialgate_http_requests",
    "HTTP requests, by route template, method and status code.",
    ["route", "method", "status"],
)


def _class_counts() -> defaultdict[str, int]:
    return defaultdict(int)


class _DecisionTally:
    """Per-call decision counts and switch answer times, kept in plain Python until flushed.

    The hot path (``services.authorize.decide_counted``) adds to ``counts`` itself, without a
    lock, through the module global ``decision_counts``: ``counts[reason][klass] += 1``, two
    levels of ``defaultdict`` keyed by plain strings, whose hashes Python keeps, and C-level
    subscripts only. A ``(reason, klass)`` tuple key cost a tuple built and hashed twice per
    decision and ``counts.get(key, 0) + 1`` a method call: measured (fastest of many runs, so
    little disturbed by other work) 165-178 ns per decision then, 119 ns now, against about
    4.7 us for the decision. The counts are cumulative and the flush sends the difference
    since the last flush, so a flush never loses what a call adds meanwhile.
    The switch path runs on the event loop's one thread, so its counts are exact; two threads
    deciding at the same instant (the portal's and the REST API's simulations run in a thread
    pool) could, very rarely, lose one increment.

    Times are taken around the switch's whole answer (``timed``, in the HTTP layer, where a
    clock read is nothing next to the request), not around ``decide`` alone, whose few
    microseconds two clock reads would visibly slow down.
    """

    __slots__ = ("_buckets", "_children", "_flush_lock", "_flushed", "_lock", "_sum", "counts")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # One flush at a time: the background flusher and a scrape can flush together, and
        # two flushes comparing against the same ``_flushed`` would send a difference twice,
        # or a negative one (which the library refuses with ValueError).
        self._flush_lock = threading.Lock()
        self.counts: defaultdict[str, defaultdict[str, int]] = defaultdict(_class_counts)
        self._flushed: dict[tuple[str, str], int] = {}
        self._buckets = [0] * len(DECISION_BUCKETS)
        self._sum = 0.0
        self._children: dict[tuple[str, str], Any] = {}  # pre-bound label children

    def timed(self, seconds: float) -> None:
        index = bisect_left(DECISION_BUCKETS, seconds)
        with self._lock:
            self._buckets[index] += 1
            self._sum += seconds

    def flush(self) -> None:
        with self._flush_lock:
            self._flush()

    def _flush(self) -> None:
        # C-level copies, each consistent under the GIL; a reason added after the outer copy,
        # or a count added after its inner copy, is in the next flush (the counts only grow).
        current = {
            (reason, klass): count
            for reason, by_class in list(self.counts.items())
            for klass, count in dict(by_class).items()
        }
        for key, count in current.items():
            delta = count - self._flushed.get(key, 0)
            if not delta:
                continue
            child = self._children.get(key)
            if child is None:
                reason, klass = key
                child = self._children[key] = DECISIONS.labels(
                    "true" if reason == ALLOWED_REASON else "false", reason, klass
                )
            child.inc(delta)
        self._flushed = current
        with self._lock:
            buckets, self._buckets = self._buckets, [0] * len(DECISION_BUCKETS)
            total, self._sum = self._sum, 0.0
        if total or any(buckets):
            # The library has no "add n observations"; its buckets are per-bucket values
            # (made cumulative when collected), so adding to each is the same as observing.
            for value, count in zip(DECISION_SECONDS._buckets, buckets, strict=True):
                if count:
                    value.inc(count)
            DECISION_SECONDS._sum.inc(total)


class _HttpTally:
    """Per-request counts by (route, method, status), kept in plain Python until flushed."""

    __slots__ = ("_children", "_counts", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], int] = {}
        self._children: dict[tuple[str, str, int], Any] = {}

    def record(self, route: str, method: str, status: int) -> None:
        key = (route, method, status)
        with self._lock:
            counts = self._counts
            counts[key] = counts.get(key, 0) + 1

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, {}
        for key, count in counts.items():
            child = self._children.get(key)
            if child is None:
                route, method, status = key
                child = self._children[key] = HTTP_REQUESTS.labels(route, method, str(status))
            child.inc(count)


# None while disabled: the hot path tests one module global and does nothing else.
_first_tally = _DecisionTally()
decisions: _DecisionTally | None = _first_tally
# ``decisions.counts`` itself (None while disabled), what ``decide_counted`` adds to.
decision_counts: defaultdict[str, defaultdict[str, int]] | None = _first_tally.counts
http: _HttpTally | None = _HttpTally()
_flusher: threading.Thread | None = None
_flusher_lock = threading.Lock()


def enabled() -> bool:
    return decisions is not None


def disable() -> None:
    """Stop counting per-call events (the comparison runs of the benchmarks)."""
    global decisions, decision_counts, http
    flush()
    decisions = decision_counts = http = None


def enable() -> None:
    global decisions, decision_counts, http
    if decisions is None:
        decisions = _DecisionTally()
        decision_counts = decisions.counts
    if http is None:
        http = _HttpTally()


def flush() -> None:
    """Move this process's per-call tallies into the library (and so into the mmap files)."""
    for tally in (decisions, http):
        if tally is not None:
            tally.flush()


def flush_every(interval: float, stop: threading.Event,
                flush: Callable[[], None] = flush) -> None:
    """Flush every ``interval`` seconds until ``stop`` is set. A failed flush (a full disk
    under the multiprocess directory) is logged and retried: the thread must outlive it, or
    this process's counts would silently stop reaching /metrics."""
    while not stop.wait(interval):
        try:
            flush()
        except Exception:
            log.exception("metrics flush failed; retrying in %s s", interval)


def start_flusher(interval: float = FLUSH_INTERVAL) -> None:
    """Flush from a daemon thread every ``interval`` seconds (once per process)."""
    global _flusher
    with _flusher_lock:
        if _flusher is not None and _flusher.is_alive():
            return

        _flusher = threading.Thread(target=flush_every, args=(interval, threading.Event()),
                                    name="metrics-flush", daemon=True)
        _flusher.start()


atexit.register(lambda: process_exiting())  # a short-lived process (worker --once) keeps its counts


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_exiting() -> None:
    """Flush, and in multiprocess mode drop this process's live gauges (feed lag)."""
    flush()
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class _QueryCollector(Collector):
    """Metrics read from the database at scrape time (shared state, not a process's)."""

    def __init__(self, query: Callable[[], Iterable[GaugeMetricFamily]]) -> None:
        self._query = query

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self._query()


def outbox_families(depth: int | None, oldest: datetime | None) -> list[GaugeMetricFamily]:
    """``dialgate_outbox_depth`` and ``dialgate_outbox_oldest_age_seconds`` (0 when empty), or
    ``dialgate_database_up 0`` when the database could not be read (``depth`` None)."""
    up = GaugeMetricFamily("dialgate_database_up", "1 if the scrape could read the database.")
    up.add_metric([], 0 if depth is None else 1)
    if depth is None:
        return [up]
    depth_family = GaugeMetricFamily("dialgate_outbox_depth", "Notification emails not sent yet.")
    depth_family.add_metric([], depth)
    age = GaugeMetricFamily(
        "dialgate_outbox_oldest_age_seconds", "Age of the oldest email not sent yet (0: none)."
    )
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age.add_metric([], 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds())
    return [up, depth_family, age]


def render(database_families: Callable[[], Iterable[GaugeMetricFamily]]) -> bytes:
    """The text exposition of every process (multiprocess mode) or of this one, plus the
    database-derived gauges."""
    flush()
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(_PROCESS_REGISTRY)
    shared = CollectorRegistry()
    shared.register(_QueryCollector(database_families))
    return body + generate_latest(shared)

"""Per-call tallies: what the hot path counts reaches the Prometheus metrics on flush, exactly
once, and nothing is counted while metrics are disabled."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from dialgate.adapters import metrics
from dialgate.domain.policy import AuthorizeRequest
from dialgate.services.authorize import decide_counted
from tests.unit.policy_support import snapshot as make_snapshot


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(autouse=True)
def _enabled() -> Iterator[None]:
    metrics.enable()
    yield
    metrics.enable()


def decisions(reason: str, klass: str) -> float:
    allowed = "true" if reason == "ok" else "false"
    return value("dialgate_decisions_total", allowed=allowed, reason=reason, **{"class": klass})


def test_decisions_are_counted_by_reason_and_class_on_flush() -> None:
    snapshot = make_snapshot()
    metrics.flush()
    ok, blocked = decisions("ok", "canada"), decisions("blocked_number", "directory_assistance")
    allowed = AuthorizeRequest.checked("100000", "5145550199")
    denied = AuthorizeRequest.checked("100000", "5145551212")
    for _ in range(3):
        assert decide_counted(snapshot, allowed).allow
    assert not decide_counted(snapshot, denied).allow
    assert decisions("ok", "canada") == ok  # not before a flush
    metrics.flush()
    metrics.flush()  # a second flush adds nothing
    assert decisions("ok", "canada") == ok + 3
    assert decisions("blocked_number", "directory_assistance") == blocked + 1


def test_nothing_is_counted_while_disabled() -> None:
    snapshot = make_snapshot()
    metrics.flush()
    before = decisions("ok", "canada")
    metrics.disable()
    decide_counted(snapshot, AuthorizeRequest.checked("100000", "5145550199"))
    metrics.enable()
    metrics.flush()
    assert decisions("ok", "canada") == before


def test_counts_made_during_flushes_are_not_lost() -> None:
    snapshot = make_snapshot()
    metrics.flush()
    before = decisions("ok", "canada")
    request = AuthorizeRequest.checked("100000", "5145550199")
    stop = threading.Event()

    def flushing() -> None:
        while not stop.is_set():
            metrics.flush()

    flusher = threading.Thread(target=flushing)
    flusher.start()
    try:
        for _ in range(2000):
            decide_counted(snapshot, request)
    finally:
        stop.set()
        flusher.join()
    metrics.flush()
    assert decisions("ok", "canada") == before + 2000


def test_two_flushes_at_once_count_each_decision_once() -> None:
    """A scrape flushes its own process while the background flusher may be flushing too: the
    two must not both send (or take back) the same counts."""
    snapshot = make_snapshot()
    metrics.flush()
    before = decisions("ok", "canada")
    request = AuthorizeRequest.checked("100000", "5145550199")
    stop = threading.Event()
    errors: list[BaseException] = []

    def flushing() -> None:
        try:
            while not stop.is_set():
                metrics.flush()
        except BaseException as exc:  # reported below, with the count
            errors.append(exc)

    flushers = [threading.Thread(target=flushing) for _ in range(2)]
    for thread in flushers:
        thread.start()
    try:
        for _ in range(20_000):
            decide_counted(snapshot, request)
    finally:
        stop.set()
        for thread in flushers:
            thread.join()
    metrics.flush()
    assert errors == []
    assert decisions("ok", "canada") == before + 20_000


def test_switch_answer_times_fill_the_histogram() -> None:
    tally = metrics.decisions
    assert tally is not None
    metrics.flush()
    count = value("dialgate_decision_seconds_count")
    fast = value("dialgate_decision_seconds_bucket", le="5e-05")
    tally.timed(0.00003)
    tally.timed(0.002)
    metrics.flush()
    assert value("dialgate_decision_seconds_count") == count + 2
    assert value("dialgate_decision_seconds_bucket", le="5e-05") == fast + 1


def test_the_background_flusher_outlives_a_failed_flush(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    calls: list[int] = []

    def flaky_flush() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("No space left on device")
        if len(calls) == 3:
            stop.set()

    with caplog.at_level("ERROR", logger="dialgate.adapters.metrics"):
        metrics.flush_every(0.001, stop, flaky_flush)
    assert len(calls) == 3  # it went on after the failure
    assert "metrics flush failed" in caplog.text
    assert "No space left on device" in caplog.text

"""Injected time for the services that take a clock: tests move it, nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Monotonic seconds (``PolicyCache(clock=...)``): starts at 0, moved by ``now += s``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class WallClock:
    """Wall-clock time (the outbox, notifications); starts a little ahead of the real clock so
    that what the services enqueue with the real time is already due."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)

"""Injected time for the services that take a clock: tests move it, nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class MonotonicClock:
    """Monotonic seconds (``PolicyCache(clock=...)``): starts at 0, moved by ``now += s``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class WallClock:
    """Wall-clock time that moves only when told (``Database(url, clock=...)``, the outbox,
    notifications). Without ``start`` it starts a little ahead of the real clock, so what the
    services enqueue with the real time is already due."""

    def __init__(self, start: datetime | None = None) -> None:
        self.at = start or datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta | None = None, **kw: float) -> None:
        """Move by ``delta`` or by ``timedelta(**kw)`` (``advance(days=1)``)."""
        self.at += delta if delta is not None else timedelta(**kw)

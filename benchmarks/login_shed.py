"""What a throttled portal log-in costs the web role, with and without ``portal/shed.py``.

``python benchmarks/login_shed.py [--requests 5000]``

In-process, on the whole ASGI app (no HTTP parsing, no network): a source whose failed log-in
budget is spent posts to ``/portal/login``; the figures are CPU microseconds per refused request,
first through the shed layer, then through the route (the same app built without the layer).
Run on a quiet machine if possible; on a shared one, compare the two lines of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI

SOURCE = "198.51.100.7"
BODY = b"login=100000&password=Wrong999x&csrf_token=abc"


def throttled_app(*, shed: bool) -> FastAPI:
    from dialgate.entrypoints.portal import routes_auth
    from dialgate.entrypoints.portal.shed import ShedThrottledLogins
    from dialgate.entrypoints.web import create_app

    app = create_app()
    if not shed:  # before the app's first call, which builds the middleware stack
        app.user_middleware = [m for m in app.user_middleware if m.cls is not ShedThrottledLogins]
    for _ in range(routes_auth.FAILURES_PER_SOURCE.amount):
        app.state.throttle.hit(routes_auth.FAILURES_PER_SOURCE, routes_auth.SOURCE_FAILURES, SOURCE)
    return app


def scope() -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/portal/login", "raw_path": b"/portal/login",
        "root_path": "", "query_string": b"", "client": (SOURCE, 40000),
        "server": ("bench", 80), "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(BODY)).encode()),
            (b"cookie", b"dg_lang=fr; dg_login_csrf=abc"),
        ],
    }


def per_request_us(app: FastAPI, n: int) -> float:
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    async def run(count: int) -> None:
        for _ in range(count):
            await app(scope(), receive, send)

    asyncio.run(run(100))  # warm-up: templates, first-call paths
    start = time.process_time()
    asyncio.run(run(n))
    assert statuses == {429}, statuses
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dialgate-shed-"))
    os.environ.setdefault("DIALGATE_DATABASE_URL", f"sqlite:///{workdir / 'unused.db'}")
    os.environ.setdefault("DIALGATE_ENVIRONMENT", "test")
    os.environ.setdefault("DIALGATE_SECRET_KEY", "bench-secret-key-0123456789abcdef")
    print(f"load average {os.getloadavg()[0]:.1f} (on a shared machine the figures are noisy)")
    for label, shed in (("shed layer", True), ("through the route", False)):
        app = throttled_app(shed=shed)
        runs = [per_request_us(app, args.requests) for _ in range(3)]
        print(f"{label:18s} median {statistics.median(runs):7.0f} us CPU per refused log-in "
              f"(runs: {', '.join(f'{r:.0f}' for r in runs)})")


if __name__ == "__main__":
    main()

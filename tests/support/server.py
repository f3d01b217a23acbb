"""Run the real Dialgate web app (``create_app`` under uvicorn) in a subprocess for tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def start_server(
    db_url: str,
    port: int,
    log: Path,
    *,
    workers: int = 1,
    extra: tuple[str, ...] = (),
    env_extra: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start uvicorn on 127.0.0.1:``port`` and wait until /healthz answers (30 s at most)."""
    env = {
        **os.environ,
        "DIALGATE_DATABASE_URL": db_url,
        "DIALGATE_ENVIRONMENT": "test",
        "DIALGATE_SECRET_KEY": os.environ.get(
            "DIALGATE_SECRET_KEY", "test-secret-key-0123456789abcdef"
        ),
        **(env_extra or {}),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "dialgate.entrypoints.web:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-access-log",
                "--no-proxy-headers",  # the app trusts only DIALGATE_TRUSTED_PROXIES
                "--log-level",
                "warning",
                *extra,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("dialgate exited:\n" + log.read_text()[-3000:])
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                return proc
        time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError("dialgate not ready:\n" + log.read_text()[-3000:])


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL the whole process group (uvicorn workers included)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def running_server(db_url: str, port: int, log: Path) -> Iterator[str]:
    """The server's base URL while the block runs."""
    proc = start_server(db_url, port, log)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)

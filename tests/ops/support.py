"""What the operations tests share: ``dialgate serve`` as a real process, a seeded database,
and scraping /metrics with prometheus-client's own parser."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from dialgate.adapters.db import migrate
from dialgate.services import apikeys, demo, pops
from dialgate.services.uow import Database
from tests.support.pg import PGBIN, _as_postgres, free_port

METRICS_TOKEN = "metrics-token-Zq81xK3v"
SECRET_KEY = "ops-secret-key-Jt55wQ0pLm3n"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed(db_url: str) -> str:
    """The demo data and a switch token (returned) in a migrated database."""
    db = Database(db_url)
    try:
        with db.uow() as uow:
            demo.load_demo(uow)
            _info, token = apikeys.create_switch_token(uow, name="ops-test")
            uow.commit()
    finally:
        db.dispose()
    return token


def base_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALGATE_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        DIALGATE_DATABASE_URL=db_url,
        DIALGATE_ENVIRONMENT="test",
        DIALGATE_SECRET_KEY=SECRET_KEY,
        DIALGATE_METRICS_TOKEN=METRICS_TOKEN,
    )
    env.update(extra)
    return env


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def serve(env: Mapping[str, str], log: Path, *args: str) -> Iterator[Served]:
    """``dialgate serve`` (the real command) on a free port, until /readyz says ready."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dialgate", "serve", "--port", str(port), *args],
            env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url, proc, log), 60, "dialgate serve ready")
        yield Served(url, proc, log)
    finally:
        stop(proc)


def _ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        raise RuntimeError("dialgate serve exited:\n" + log.read_text()[-3000:])
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url + "/readyz", timeout=1).status_code == 200
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean shutdown: what the log test reads), then SIGKILL what is left."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_until(condition: object, seconds: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {what}")


def parse_metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample as ``(name, labels) -> value``."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(
    values: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample's value (0 when absent: a counter nobody incremented yet)."""
    return values.get((name, frozenset(labels.items())), 0.0)


def total(values: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    return sum(v for (n, _labels), v in values.items() if n == name)


def wrong_login(url: str, login: str, password: str) -> int:
    """A portal login with a wrong password, as a browser does it (CSRF cookie + form)."""
    with httpx.Client(base_url=url) as client:
        token = CSRF.search(client.get("/portal/login").text)
        assert token is not None
        response = client.post("/portal/login", data={
            "login": login, "password": password, "csrf_token": token.group(1)})
    return response.status_code


class OwnCluster:
    """A PostgreSQL cluster this test alone uses, so it can stop and start it."""

    def __init__(self, base: Path, data: Path, port: int) -> None:
        self.base, self.data, self.port = base, data, port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")
        _as_postgres([str(PGBIN / "pg_ctl"), "-D", str(self.data), "-l",
                      str(self.base / "server.log"), "-w", "-t", "30", "-o", opts, "start"])

    def stop(self) -> None:
        _as_postgres([str(PGBIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])


@contextlib.contextmanager
def own_cluster() -> Iterator[OwnCluster]:
    """A fresh, started cluster with the schema and the demo data in its ``postgres`` database."""
    base = Path(tempfile.mkdtemp(prefix="dialgate-ops-pg-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    cluster = OwnCluster(base, base / "data", free_port())
    try:
        _as_postgres([str(PGBIN / "initdb"), "-D", str(cluster.data), "-U", "postgres",
                      "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])
        cluster.start()
        migrate.upgrade(cluster.url)
        db = Database(cluster.url)
        with db.uow() as uow:
            pops.sync_pops(uow)
            uow.commit()
        db.dispose()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _as_postgres([str(PGBIN / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate",
                          "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)

"""``dialgate serve`` as deployed: roles in separate processes, forwarded headers believed only
from DIALGATE_TRUSTED_PROXIES (uvicorn's own default trusts loopback), the body limit on a real
socket."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dialgate.adapters import priority
from dialgate.services import accounts, apikeys
from dialgate.services.uow import Database
from tests.support.pg import free_port
from tests.support.server import stop_server

URL = "/api/v1/rest.php"
EMAIL = "owner@example.com"
API_PASSWORD = "ApiPass123"


@contextlib.contextmanager
def serve(db_url: str, log: Path, *args: str, **env: str) -> Iterator[str]:
    with serve_process(db_url, log, *args, **env) as (url, _proc):
        yield url


@contextlib.contextmanager
def serve_process(
    db_url: str, log: Path, *args: str, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    environment = {
        **os.environ,
        "DIALGATE_DATABASE_URL": db_url,
        "DIALGATE_ENVIRONMENT": "test",
        "DIALGATE_SECRET_KEY": "test-secret-key-0123456789abcdef",
        **env,
    }
    if "DIALGATE_TRUSTED_PROXIES" not in env:
        environment.pop("DIALGATE_TRUSTED_PROXIES", None)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dialgate", "serve", "--port", str(port), *args],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        yield url, proc
    finally:
        stop_server(proc)


@pytest.fixture
def owner_db(sqlite_db: Database) -> Database:
    with sqlite_db.uow() as uow:
        accounts.create_account(uow, number="100000", email=EMAIL, password="Portal123x")
        apikeys.enable_voipms_api(
            uow, "100000", password=API_PASSWORD, allowed_ips=["127.0.0.1", "10.0.0.0/8"]
        )
        uow.commit()
    return sqlite_db


def get_ip(url: str, **headers: str) -> dict[str, str]:
    params = {"api_username": EMAIL, "api_password": API_PASSWORD, "method": "getIP"}
    body: dict[str, str] = httpx.get(url + URL, params=params, headers=headers, timeout=5).json()
    return body


def test_forwarded_for_from_loopback_is_not_believed_by_default(
    owner_db: Database, tmp_path: Path
) -> None:
    with serve(owner_db.url, tmp_path / "web.log", "--role", "web") as url:
        assert get_ip(url, **{"X-Forwarded-For": "10.9.9.9"}) == {
            "status": "success",
            "ip": "127.0.0.1",
        }
    with serve(
        owner_db.url, tmp_path / "proxied.log", DIALGATE_TRUSTED_PROXIES="127.0.0.1"
    ) as url:
        assert get_ip(url, **{"X-Forwarded-For": "10.9.9.9"})["ip"] == "10.9.9.9"


def test_roles_serve_their_own_endpoints(owner_db: Database, tmp_path: Path) -> None:
    with serve(owner_db.url, tmp_path / "switch.log", "--role", "switch") as url:
        assert httpx.post(url + "/switch/v1/authorize", json={}).status_code == 401
        assert httpx.get(url + "/portal/login").status_code == 404
        assert httpx.get(url + URL).status_code == 404
    # A server keeps running: the cyclic collector that short commands go without is on.
    assert '"gc":true' in (tmp_path / "switch.log").read_text()
    with serve(owner_db.url, tmp_path / "web.log", "--role", "web") as url:
        assert httpx.post(url + "/switch/v1/authorize", json={}).status_code == 404
        assert httpx.get(url + "/portal/login").status_code == 200


def test_the_records_role_takes_call_records_and_never_connects_to_evapi(
    owner_db: Database, tmp_path: Path
) -> None:
    """Kamailio's --records-url: the switch endpoints, but no evapi link, so Kamailio's
    unicast never sends a decision to the process that records calls."""
    with socket.socket() as evapi:
        evapi.bind(("127.0.0.1", 0))
        evapi.listen(8)
        evapi.settimeout(20)
        target = f"127.0.0.1:{evapi.getsockname()[1]}"
        with serve(owner_db.url, tmp_path / "records.log", "--role", "records",
                   DIALGATE_SWITCH_EVAPI=target) as url:
            # Its evapi clients would have started with the app, before /healthz answered.
            assert httpx.post(url + "/switch/v1/cdrs", json=[]).status_code == 401
            assert httpx.get(url + "/portal/login").status_code == 404
            with serve(owner_db.url, tmp_path / "switch.log", "--role", "switch",
                       DIALGATE_SWITCH_EVAPI=target):
                link, _addr = evapi.accept()  # the switch role's link, kept open
                with link:
                    evapi.settimeout(0)
                    with pytest.raises(BlockingIOError):
                        evapi.accept()  # and no other: the records role never dialled


def test_a_chunked_flood_is_cut_off_at_the_body_limit(owner_db: Database, tmp_path: Path) -> None:
    with serve(owner_db.url, tmp_path / "web.log", "--role", "web") as url:
        port = int(url.rsplit(":", 1)[1])
        chunk = b"x" * 65536
        sent = 0
        answer = b""
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                b"POST /api/v1/rest.php HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            deadline = time.monotonic() + 20
            while sent < 200 * 1024 * 1024 and time.monotonic() < deadline:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # the server answered (or closed) before the body ended
                try:
                    sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                except (TimeoutError, ConnectionError):
                    break  # the server stopped reading
                sent += len(chunk)
            with contextlib.suppress(OSError):
                answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < 10 * 1024 * 1024  # refused after ~1 MB, not after 200 MB


# --- CPU priority (adapters/priority.py): the web role yields to the switch role ------------


def thread_nices(pid: int) -> list[int]:
    """The niceness of every thread of ``pid`` and of its child processes (uvicorn's workers)."""
    nices = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            nices.append(os.getpriority(os.PRIO_PROCESS, int(tid)))
        with contextlib.suppress(FileNotFoundError):
            for child in Path(f"/proc/{pid}/task/{tid}/children").read_text().split():
                nices += thread_nices(int(child))
    return nices


def autogroup_nice(pid: int) -> int:
    """The server's session scheduling group's nice (it leads a session of its own, so it has
    a group even when the test runner is in init's root group)."""
    nice = priority.group_nice(Path(f"/proc/{pid}/autogroup"))
    assert nice is not None
    return nice


def wrong_api_password(url: str) -> None:
    """One argon2 check in the server's hash pool (127.0.0.1 is on the allow-list)."""
    params = {"api_username": EMAIL, "api_password": "Wrong999x", "method": "getIP"}
    body = httpx.get(url + URL, params=params, timeout=10).json()
    assert body == {"status": "invalid_credentials"}


def test_the_web_role_yields_the_cpu_and_argon2_yields_to_everything(
    owner_db: Database, tmp_path: Path
) -> None:
    runner = os.getpriority(os.PRIO_PROCESS, 0)
    # A small nice: on a busy machine a web role at 10 can be starved for longer than uvicorn's
    # supervisor waits for a worker's answer, which then kills and restarts it (uvicorn 0.55).
    with serve_process(
        owner_db.url, tmp_path / "web.log", "--role", "web", "--workers", "2",
        DIALGATE_WEB_NICE="1",
    ) as (url, proc):
        before = thread_nices(proc.pid)
        assert len(before) > 2  # the manager's threads and both workers' were found
        assert set(before) == {max(runner, 1)}  # DIALGATE_WEB_NICE, inherited
        # The server leads its session (as under systemd): its scheduling group is lowered too,
        # or autogroup would share the CPU equally with the switch's whatever the nice.
        assert autogroup_nice(proc.pid) == 1
        wrong_api_password(url)
        after = thread_nices(proc.pid)
        assert after.count(19) == 1  # the one argon2 thread started, at DIALGATE_HASH_NICE
        assert set(after) == {max(runner, 1), 19}


def test_the_switch_role_keeps_its_priority_and_nice_is_configurable(
    owner_db: Database, tmp_path: Path
) -> None:
    runner = os.getpriority(os.PRIO_PROCESS, 0)
    with serve_process(owner_db.url, tmp_path / "switch.log", "--role", "switch") as (_u, proc):
        assert set(thread_nices(proc.pid)) == {runner}
        assert autogroup_nice(proc.pid) == 0
    # The web role is left at par by default (DIALGATE_WEB_NICE=0); only argon2 yields.
    with serve_process(owner_db.url, tmp_path / "web0.log", "--role", "web") as (url, proc):
        wrong_api_password(url)
        assert set(thread_nices(proc.pid)) == {runner, max(runner, 19)}
        assert autogroup_nice(proc.pid) == 0
    with serve_process(
        owner_db.url, tmp_path / "web.log", "--role", "web", DIALGATE_WEB_NICE="4",
        DIALGATE_HASH_NICE="7",
    ) as (url, proc):
        wrong_api_password(url)
        assert set(thread_nices(proc.pid)) == {max(runner, 4), max(runner, 7)}
        assert autogroup_nice(proc.pid) == 4
    with serve_process(owner_db.url, tmp_path / "all.log", "--nice", "3") as (_u, proc):
        assert set(thread_nices(proc.pid)) == {max(runner, 3)}  # --nice: any role


def test_a_nice_out_of_range_is_refused_naming_the_setting(tmp_path: Path) -> None:
    for args, env, named in (
        (["--nice", "25"], {}, "--nice"),
        ([], {"DIALGATE_WEB_NICE": "-5"}, "web_nice"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "dialgate", "serve", "--role", "web", "--port",
             str(free_port()), *args],
            env={**os.environ, "DIALGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                 "DIALGATE_ENVIRONMENT": "test",
                 "DIALGATE_SECRET_KEY": "test-secret-key-0123456789abcdef", **env},
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert named in done.stderr.lower() or named in done.stdout.lower(), done.stderr
        assert "Traceback" not in done.stderr


def test_a_negative_nice_raises_the_switch_and_needs_the_privilege(
    owner_db: Database, tmp_path: Path
) -> None:
    """Below 0 needs CAP_SYS_NICE (systemd's Nice=-5 in dialgate-switch.service has it)."""
    root = os.geteuid() == 0
    if root:
        args = ("--role", "switch", "--nice", "-3")
        with serve_process(owner_db.url, tmp_path / "s.log", *args) as (_url, proc):
            assert set(thread_nices(proc.pid)) == {-3}
            assert autogroup_nice(proc.pid) == -3
    # Without the privilege (root without CAP_SYS_NICE, util-linux's setpriv): one clear line,
    # exit 2.
    drop = ["setpriv", "--bounding-set=-sys_nice"] if root else []
    done = subprocess.run(
        [*drop, sys.executable, "-m", "dialgate", "serve", "--role", "switch", "--nice", "-3",
         "--port", str(free_port())],
        env={**os.environ, "DIALGATE_DATABASE_URL": "sqlite:////nonexistent/x.db",
             "DIALGATE_ENVIRONMENT": "test",
             "DIALGATE_SECRET_KEY": "test-secret-key-0123456789abcdef"},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and "CAP_SYS_NICE" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr

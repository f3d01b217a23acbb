"""A throwaway PostgreSQL 15 cluster on 127.0.0.1 for the test session.

It is started with initdb + pg_ctl as the ``postgres`` user (we run as root in CI), on a free
port below the ephemeral range, with fsync off. Tests never skip when it cannot start: they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PGBIN = Path(os.environ.get("DIALGATE_PGBIN", "/usr/lib/postgresql/15/bin"))


def free_port(low: int = 20000, high: int = 32000) -> int:
    """A free TCP port below the ephemeral range (TIME_WAIT sockets there can block a bind)."""
    import random

    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def _as_postgres(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Yield a server URL ``postgresql://postgres@127.0.0.1:PORT``; stop and delete on exit."""
    if url := os.environ.get("DIALGATE_TEST_PG_URL"):
        yield url
        return
    if not (PGBIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL server binaries not found in {PGBIN}")
    # Not pytest's tmp_path: /tmp/pytest-of-root is mode 0700 and postgres cannot enter it.
    base = Path(tempfile.mkdtemp(prefix="dialgate-pg-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    port = free_port()
    try:
        _as_postgres(
            [
                str(PGBIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        opts = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _as_postgres(
            [
                str(PGBIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(base / "server.log"),
                "-w",
                "-t",
                "30",
                "-o",
                opts,
                "start",
            ]
        )
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            _as_postgres([str(PGBIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)

"""What the SIP benchmarks share (``sip_load.py``, ``fault_drill.py``): free ports, a Kamailio
readiness probe, and stopping a process with everything it started.

Imported as ``benchmarks._sip`` (tests) or ``_sip`` (a benchmark run as a script).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

REALM = "sip.dialgate.test"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (SIP listens on both)."""
    while True:
        port = random.randint(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def answers_options(port: int, timeout: float = 0.2) -> bool:
    """True when the SIP server on ``port`` answers an OPTIONS with 200."""
    msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;"
           "branch=z9hG4bKprobe\r\nFrom: <sip:p@x>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
           "Call-ID: probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(msg.replace("127.0.0.1:9", f"127.0.0.1:{s.getsockname()[1]}").encode(),
                 ("127.0.0.1", port))
        try:
            return s.recv(4096).startswith(b"SIP/2.0 200")
        except TimeoutError:
            return False


def wait_sip(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 15) -> None:
    """Wait until the Kamailio ``proc`` answers on ``port``; raise with its log if it exits
    or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("kamailio exited:\n" + log.read_text(errors="replace")[-3000:])
        if answers_options(port):
            return
    raise RuntimeError("kamailio not ready:\n" + log.read_text(errors="replace")[-3000:])


def stop_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop ``proc`` (started with ``start_new_session=True``) and its whole process group:
    ``sig`` first, SIGKILL for whatever is left after 5 s (children that outlive their parent
    would keep the ports)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


stop = stop_group

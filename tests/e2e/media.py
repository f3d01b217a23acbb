"""Real media for the SIP tests: an rtpengine process and RTP peers that count packets.

``RtpengineProcess`` runs Debian's rtpengine in the foreground on 127.0.0.1 with a config
rendered by ``render_rtpengine_config`` (random ng port and port range). ``RtpPeer`` is one
media endpoint of a test phone or carrier: a UDP socket that sends 20 ms PCMU packets on
demand and counts what it receives, and from where.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dialgate.adapters.rtpengine_ng import NgClient, RtpengineError
from dialgate.entrypoints.switch.rtpengine import render_rtpengine_config

from .sip.sipclient import free_port

RTPENGINE = shutil.which("rtpengine") or "/usr/bin/rtpengine"


@dataclass
class RtpengineProcess:
    workdir: Path
    ng_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> str:
        return f"udp:127.0.0.1:{self.ng_port}"

    @property
    def log(self) -> Path:
        return self.workdir / "rtpengine.log"

    def start(self) -> RtpengineProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "rtpengine.conf"
        if not conf.exists():
            low = random.randrange(33000, 59000, 200)
            conf.write_text(render_rtpengine_config(
                interfaces=["127.0.0.1"], listen_ng=f"127.0.0.1:{self.ng_port}",
                port_min=low, port_max=low + 199, log_level=6))
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [RTPENGINE, f"--config-file={conf}", "--foreground", "--log-stderr",
                 f"--pidfile={self.workdir / 'rtpengine.pid'}"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with NgClient(self.socket, timeout=0.2) as ng:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError("rtpengine exited:\n" + self.log.read_text()[-3000:])
                try:
                    if ng.request("ping").get("result") == "pong":
                        return
                except RtpengineError:
                    time.sleep(0.05)
        raise RuntimeError("rtpengine not answering ping:\n" + self.log.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(3)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def query(self, call_id: str) -> dict[str, object]:
        with NgClient(self.socket) as ng:
            return ng.request("query", call_id=call_id)

    def calls(self) -> list[str]:
        with NgClient(self.socket) as ng:
            return list(ng.request("list").get("calls", []))


def rtp_packet(seq: int, ssrc: int, payload_type: int = 0) -> bytes:
    """One 20 ms PCMU packet (160 bytes of silence)."""
    return struct.pack("!BBHII", 0x80, payload_type, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF,
                       ssrc) + b"\xff" * 160


class RtpPeer:
    """A media endpoint on 127.0.0.1: sends on demand, counts every packet it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.received = 0
        self.sources: set[tuple[str, int]] = set()
        self.last_received_at: float | None = None
        self._ssrc = random.getrandbits(32)
        self._seq = 0
        self._closed = False
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._sender: threading.Thread | None = None
        self._stop_sending = threading.Event()
        self.sent = 0
        self.last_sent_at: float | None = None

    def _read(self) -> None:
        while not self._closed:
            try:
                _data, src = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.received += 1
                self.sources.add(src)
                self.last_received_at = time.monotonic()

    def send(self, dest: tuple[str, int], count: int = 1) -> None:
        for _ in range(count):
            self.sock.sendto(rtp_packet(self._seq, self._ssrc), dest)
            self._seq += 1
            self.sent += 1
            self.last_sent_at = time.monotonic()

    def stream(self, dest: tuple[str, int], seconds: float) -> None:
        """Send a packet every 20 ms for ``seconds`` in the background."""
        self._stop_sending.clear()

        def run() -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end and not self._stop_sending.is_set():
                self.send(dest)
                time.sleep(0.02)

        self._sender = threading.Thread(target=run, daemon=True)
        self._sender.start()

    def wait_stream(self, timeout: float = 30) -> None:
        if self._sender is not None:
            self._sender.join(timeout)

    def wait_received(self, count: int, timeout: float = 5.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.received >= count:
                return self.received
            time.sleep(0.02)
        raise AssertionError(f"received {self.received} RTP packets, expected {count}")

    def close(self) -> None:
        self._stop_sending.set()
        self._closed = True
        self.sock.close()
        self._reader.join(1)


def sdp_media(body: str) -> tuple[str, int]:
    """The connection address and audio port of an SDP body."""
    address = port = None
    for line in body.splitlines():
        if line.startswith("c=IN IP4 "):
            address = line.split()[2]
        elif line.startswith("m=audio "):
            port = int(line.split()[1])
    assert address is not None and port is not None, body
    return address, port

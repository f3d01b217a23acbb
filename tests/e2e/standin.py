"""A stand-in for Dialgate's switch API (``/switch/v1/authorize``, ``/inbound``, ``/cdrs``).

It exists so the Kamailio side can be built and tested before the real endpoints exist; the
real Dialgate app replaces it through the ``switch_backend`` fixture. Tests program it by
assigning ``authorize`` / ``inbound`` callables; every request is recorded with its headers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Json = dict[str, Any]


def allow(**overrides: Any) -> Json:
    decision: Json = {
        "allow": True, "action": "call", "sip_code": 200, "reason": "ok", "message": "",
        "destination": {"e164": "15145551234", "class": "canada", "country": "CA"},
        "route": "value", "carrier": None, "rate_per_minute": "0.0100", "increment_s": 60,
        "flat_fee": "0", "max_duration_s": 3600, "caller_id": "15145550000",
        "caller_id_guaranteed": False, "sip": {"allowed_codecs": ["all"], "nat": "yes",
                                               "dtmf_mode": "auto"},
    }
    decision.update(overrides)
    return decision


def deny(sip_code: int, reason: str, message: str) -> Json:
    return {"allow": False, "action": "reject", "sip_code": sip_code, "reason": reason,
            "message": message}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Json
    at: float


@dataclass
class StandInSwitch:
    token: str
    authorize: Callable[[Json], Json] = field(default=lambda req: allow())
    inbound: Callable[[Json], Json] = field(default=lambda req: {"kind": "none"})
    delay_s: float = 0.0
    cdrs_failures: int = 0  # answer the next N call-record batches 503
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[Any] = set()
        self.port = 0

    def start(self, port: int) -> str:
        standin = self
        self.port = port

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: Kamailio reuses its connection
            disable_nagle_algorithm = True  # else keep-alive replies wait on delayed ACK

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, {"detail": "bad json"})
                    return
                standin.requests.append(
                    Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                             time.monotonic()))
                if not standin._authorized(self.headers.get("Authorization", "")):
                    self._send(401, {"detail": "bad switch token"})
                    return
                if standin.delay_s:
                    time.sleep(standin.delay_s)
                if self.path == "/switch/v1/authorize":
                    self._send(200, standin.authorize(body))
                elif self.path == "/switch/v1/inbound":
                    self._send(200, standin.inbound(body))
                elif self.path == "/switch/v1/cdrs" and standin.cdrs_failures > 0:
                    standin.cdrs_failures -= 1
                    self._send(503, {"detail": "try again"})
                elif self.path == "/switch/v1/cdrs":
                    self._send(200, {"recorded": len(body), "duplicates": 0, "rejected": []})
                else:
                    self._send(404, {"detail": "not found"})

            def _send(self, code: int, obj: Json) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        connections = self._connections

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 drops SYNs under load

            def process_request(self, request: Any, client_address: Any) -> None:
                connections.add(request)
                super().process_request(request, client_address)

            def shutdown_request(self, request: Any) -> None:
                connections.discard(request)
                super().shutdown_request(request)

        self._server = Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.socket.close()
            # Keep-alive connections outlive shutdown(); a stopped backend must drop them.
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._server.server_close()
            self._server = None

    def _authorized(self, header: str) -> bool:
        if header == f"Bearer {self.token}":
            return True
        if header.startswith("Basic "):
            _user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return password == self.token
        return False

    def of(self, path: str) -> list[Json]:
        return [r.body for r in self.requests if r.path == path]

    def wait_for(self, path: str, predicate: Callable[[Json], bool] = lambda b: True,
                 timeout: float = 5.0) -> Json:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body in self.of(path):
                if predicate(body):
                    return body
            time.sleep(0.02)
        raise TimeoutError(f"no matching request on {path}: {self.of(path)}")

"""Kamailio's JSON-RPC over its Unix datagram socket (module ``jsonrpcs``, transport 4).

The media watcher lists dialogs (``dlg.list``), leaves a mark in an htable (``htable.sets``)
and ends dialogs (``dlg.end_dlg``) through it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any


class KamailioRpcError(Exception):
    pass


class KamailioRpc:
    def __init__(self, socket_path: str, *, timeout: float = 2.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._dir = tempfile.mkdtemp(prefix="dialgate-rpc-")
        self._local = str(Path(self._dir) / "client.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self._local)
        self._sock.settimeout(timeout)
        self._next_id = 0

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self._local)
            os.rmdir(self._dir)

    def call(self, method: str, *params: Any) -> Any:
        self._next_id += 1
        request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": self._next_id}
        try:
            self._sock.sendto(json.dumps(request).encode(), self.socket_path)
            while True:
                answer = json.loads(self._sock.recv(1 << 20))
                if answer.get("id") == self._next_id:
                    break
        except (OSError, ValueError) as exc:
            raise KamailioRpcError(f"{method}: {exc}") from exc
        if "error" in answer:
            raise KamailioRpcError(f"{method}: {answer['error']}")
        return answer.get("result")

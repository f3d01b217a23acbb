"""Kamailio's JSON-RPC over datagrams (module ``jsonrpcs``, ``dgram_socket``): one request per
datagram, the answer comes back to the sender's address.

Kamailio listens on a Unix datagram socket (a path, the default of ``kamailio-config``) or on UDP
(``udp:HOST:PORT``, ``kamailio-config --rpc``, for a Dialgate on another host). The media
watcher lists dialogs (``dlg.list``), leaves marks in htables (``htable.sets``) and ends
dialogs (``dlg.end_dlg``); suspending an account ends its calls and drops its in-memory
registrations (``ul.rm``). A server that does not answer within ``timeout`` raises
``KamailioRpcError``; the caller decides whether that stops what it was doing.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

_ids = itertools.count(1)


class KamailioRpcError(Exception):
    pass


def _udp_address(address: str) -> tuple[str, int]:
    _scheme, _, rest = address.partition(":")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise KamailioRpcError(f"not a udp:HOST:PORT address: {address!r}")
    return host.strip("[]"), int(port)


class KamailioRpc:
    """A client of one Kamailio's JSON-RPC datagram socket: ``udp:HOST:PORT``, or the path of a
    Unix socket (``unix:`` prefix optional)."""

    def __init__(self, address: str, *, timeout: float = 2.0) -> None:
        self.address = address
        self._dir: str | None = None
        self._peer: Any
        if address.startswith("udp:"):
            host, port = _udp_address(address)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
            self._peer = (host, port)
        else:
            # A Unix datagram client needs an address of its own for the answer to come back to.
            self._dir = tempfile.mkdtemp(prefix="dialgate-rpc-")
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.bind(str(Path(self._dir) / "client.sock"))
            self._peer = address.removeprefix("unix:")
        self._sock.settimeout(timeout)

    def close(self) -> None:
        self._sock.close()
        if self._dir is not None:
            with contextlib.suppress(OSError):
                os.unlink(Path(self._dir) / "client.sock")
                os.rmdir(self._dir)

    def __enter__(self) -> KamailioRpc:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; its ``result`` (an ``error`` answer raises)."""
        ident = next(_ids)
        request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": ident}
        try:
            self._sock.sendto(json.dumps(request).encode(), self._peer)
            while True:  # a late answer to an earlier, timed-out call is skipped
                answer = json.loads(self._sock.recv(1 << 20))
                if answer.get("id") == ident:
                    break
        except (OSError, ValueError) as exc:
            raise KamailioRpcError(f"{self.address}: {method}: {exc}") from exc
        if "error" in answer:
            raise KamailioRpcError(f"{self.address}: {method}: {answer['error']}")
        return answer.get("result")


def call(address: str, method: str, *params: Any, timeout: float = 2.0) -> Any:
    """One call on a short-lived client (for rare operations such as a suspension)."""
    with KamailioRpc(address, timeout=timeout) as rpc:
        return rpc.call(method, *params)


def _dialog_account(dialog: dict[str, Any]) -> str | None:
    """The Dialgate account a dialog belongs to: the ``account`` dialog variable the config
    sets when it admits a call."""
    for var in dialog.get("variables") or []:
        if isinstance(var, dict) and "account" in var:
            return str(var["account"])
    return None


def end_calls(address: str, accounts: set[str], *, timeout: float = 2.0) -> int:
    """End every dialog of these accounts (main and sub account names); how many were ended."""
    with KamailioRpc(address, timeout=timeout) as rpc:
        dialogs = rpc.call("dlg.list") or []
        ended = 0
        for dialog in dialogs:
            if not isinstance(dialog, dict) or _dialog_account(dialog) not in accounts:
                continue
            rpc.call("dlg.end_dlg", dialog["h_entry"], dialog["h_id"])
            ended += 1
    return ended

"""Kamailio's JSON-RPC over datagrams (module ``jsonrpcs``, ``dgram_socket``): one request per
datagram, the answer comes back to the sender's address. Used to end the calls in progress of a
suspended account (``dlg.list`` then ``dlg.end_dlg``) and to drop its in-memory registrations
(``ul.rm``).

Addresses are ``udp:HOST:PORT``. A server that does not answer within ``timeout`` raises
``KamailioRpcError`` (the caller decides whether that stops what it was doing).
"""

from __future__ import annotations

import itertools
import json
import socket
from typing import Any

_ids = itertools.count(1)


class KamailioRpcError(Exception):
    pass


def _address(address: str) -> tuple[str, int]:
    scheme, _, rest = address.partition(":")
    host, _, port = rest.rpartition(":")
    if scheme != "udp" or not host or not port.isdigit():
        raise KamailioRpcError(f"not a udp:HOST:PORT address: {address!r}")
    return host.strip("[]"), int(port)


def call(address: str, method: str, *params: Any, timeout: float = 2.0) -> Any:
    """One JSON-RPC call; its ``result`` (an ``error`` answer raises)."""
    host, port = _address(address)
    request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": next(_ids)}
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(json.dumps(request).encode(), (host, port))
            data, _ = sock.recvfrom(1 << 20)
        except OSError as exc:
            raise KamailioRpcError(f"{address}: {method}: {exc}") from exc
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise KamailioRpcError(f"{address}: {method}: not JSON") from exc
    if "error" in answer:
        raise KamailioRpcError(f"{address}: {method}: {answer['error']}")
    return answer.get("result")


def _dialog_account(dialog: dict[str, Any]) -> str | None:
    """The Dialgate account a dialog belongs to: the ``account`` dialog variable the config
    sets when it admits a call."""
    for var in dialog.get("variables") or []:
        if isinstance(var, dict) and "account" in var:
            return str(var["account"])
    return None


def end_calls(address: str, accounts: set[str], *, timeout: float = 2.0) -> int:
    """End every dialog of these accounts (main and sub account names); how many were ended."""
    dialogs = call(address, "dlg.list", timeout=timeout) or []
    ended = 0
    for dialog in dialogs:
        if not isinstance(dialog, dict) or _dialog_account(dialog) not in accounts:
            continue
        call(address, "dlg.end_dlg", dialog["h_entry"], dialog["h_id"], timeout=timeout)
        ended += 1
    return ended

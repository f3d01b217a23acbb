"""Structured logs: one JSON object per line on stderr, from the standard library's logging.

Every line has ``ts``, ``level``, ``logger``, ``event`` (the message) and, inside an HTTP request,
``request_id`` (the ``X-Request-ID`` header, or one made up per request and sent back). Call
lines add ``call_id`` and ``account`` through ``extra=``. Values under names that hold secrets
(passwords, tokens, keys) are replaced by ``***`` whatever logged them, and credentials in URLs
(``scheme://user:password@host``) are masked in every message, so a secret cannot reach the
log by accident.

``configure`` is idempotent and also takes over uvicorn's loggers, so a server's whole output
is JSON lines (``DIALGATE_LOG_FORMAT=text`` gives plain lines for a terminal). A server holds
its info and debug lines for up to ``DIALGATE_LOG_FLUSH_MS`` and writes them together (as
nginx's ``access_log ... flush=``): a refused call logs a line, and one write per line was a
tenth of the switch path's CPU in Dialgate. Warnings and errors are written at once, after
every line held before them, so the order is kept.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dialgate_request_id", default=None
)

SECRET_NAMES = re.compile(r"pass|secret|token|authorization|api_key|apikey|cookie|ha1", re.I)
_URL_CREDENTIALS = re.compile(r"(\w+://[^:/@\s]+:)[^@\s]+@")
# Attributes every LogRecord has; anything else came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "color_message"
}
_HANDLER_NAME = "dialgate-json"
# The JSON handler ``configure`` installed on the root logger (``log_fields`` writes to it).
_installed: JsonLineHandler | None = None


# A line costs the switch path (a refused call logs one) more than the decision itself did:
# the formatter is kept cheap (issue #18): a key's verdict is remembered, and the URL pattern
# is searched only in text that can hold a URL.
_secret_keys: dict[str, bool] = {}
_MAX_KEYS = 1024  # extra= keys are names in the code, a few dozen; the bound is a safeguard
_ts_second: tuple[int, str] = (-1, "")


def mask(text: str) -> str:
    """``text`` with the password of any URL replaced by ``***``."""
    # The pattern needs "scheme://": a substring test skips the regex for nearly every value.
    return _URL_CREDENTIALS.sub(r"\1***@", text) if "://" in text else text


def _is_secret(key: str) -> bool:
    secret = _secret_keys.get(key)
    if secret is None:
        secret = SECRET_NAMES.search(key) is not None
        if len(_secret_keys) < _MAX_KEYS:
            _secret_keys[key] = secret
    return secret


def _value(key: str, value: Any) -> Any:
    if _is_secret(key):
        return "***"
    kind = type(value)
    if kind is str:
        return mask(value)
    if kind is int or kind is bool or kind is float or value is None:
        return value
    if isinstance(value, str | int | float | bool):  # subclasses (enums, ...)
        return mask(value) if isinstance(value, str) else value
    return mask(str(value))


def _timestamp(created: float) -> str:
    """``created`` as ISO 8601 UTC to the millisecond; the date and time to the second are
    formatted once per second (most of a line's formatting time otherwise)."""
    global _ts_second
    # Rounded to the microsecond first, as datetime.fromtimestamp does.
    second = int(created)
    micros = round((created - second) * 1e6)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    cached, prefix = _ts_second
    if cached != second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _ts_second = (second, prefix)
    return f"{prefix}.{micros // 1000:03d}+00:00"


def _head(created: float, levelname: str, logger: str, event: str) -> dict[str, Any]:
    """The fields every line starts with (both ``JsonFormatter`` and ``log_fields``)."""
    line: dict[str, Any] = {
        "ts": _timestamp(created),
        "level": levelname.lower(),
        "logger": logger,
        "event": mask(event),
    }
    rid = request_id.get()
    if rid is not None:
        line["request_id"] = rid
    return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = _head(record.created, record.levelname, record.name, record.getMessage())
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = _value(key, value)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, _tb = record.exc_info
            line["error"] = exc_type.__name__
            line["traceback"] = mask("".join(traceback.format_tb(record.exc_info[2])))
            if exc is not None:
                # A database error's own text quotes the statement's parameters (which may be
                # a hash or a token): only the driver's message is kept.
                origin = getattr(exc, "orig", None)
                line["error_detail"] = mask(str(origin if origin is not None else exc))[:500]
        return orjson.dumps(line).decode()


class JsonLineHandler(logging.StreamHandler[TextIO]):
    """A stream handler that can hold lines: with ``hold_s`` > 0, info and debug lines are
    kept in memory and written in one write, at the latest ``hold_s`` after the first of them,
    and at once before a warning or an error, when ``HOLD_BYTES`` are held, and when the handler
    is flushed or closed (``logging.shutdown`` does both at exit). A process killed outright
    loses at most ``hold_s`` of info lines; nothing at warning or above is ever held.

    The held lines are written by a daemon thread that sleeps until a first line is held, so an
    idle process never wakes for its log."""

    HOLD_BYTES = 64 * 1024

    def __init__(self, stream: TextIO, *, hold_s: float = 0.0) -> None:
        super().__init__(stream)
        self.hold_s = hold_s
        self._held: list[str] = []
        self._held_bytes = 0
        self._first_held = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._pid = os.getpid()
        self._writer: threading.Thread | None = None
        if hold_s > 0:
            self._writer = threading.Thread(target=self._write_held, name="dialgate-log",
                                            daemon=True)
            self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        # Called with the handler's lock held (Handler.handle), as is every write below.
        try:
            self._put(self.format(record) + self.terminator, record.levelno)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def emit_line(self, line: str, levelno: int) -> None:
        """Write or hold one line formatted already (``log_fields``), as ``emit`` would."""
        self.acquire()
        try:
            self._put(line + self.terminator, levelno)
        except RecursionError:
            raise
        except Exception:
            # What ``emit`` does with a line it cannot write; the record is made only now.
            self.handleError(logging.makeLogRecord({"msg": line, "levelno": levelno}))
        finally:
            self.release()

    def _put(self, line: str, levelno: int) -> None:
        if self._pid != os.getpid():
            self._forked()
        if self._writer is None or levelno >= logging.WARNING or self._closed:
            self._write(line)
            return
        if not self._held:
            self._first_held.set()
        self._held.append(line)
        self._held_bytes += len(line)
        if self._held_bytes >= self.HOLD_BYTES:
            self._write("")

    def _forked(self) -> None:
        """In a child forked from the process that made the handler: the writer thread did not
        come along, and the held lines are the parent's to write. Lines are written at once."""
        self._pid = os.getpid()
        self._writer = None
        self._held.clear()
        self._held_bytes = 0

    def _write(self, line: str) -> None:
        """Write what is held, then ``line``, in one write; flush the stream."""
        if self._held:
            line = "".join(self._held) + line
            self._held.clear()
            self._held_bytes = 0
        if line:
            self.stream.write(line)
        if hasattr(self.stream, "flush"):
            self.stream.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write("")
        finally:
            self.release()

    def _write_held(self) -> None:
        while True:
            self._first_held.wait()
            # Lines held during this wait go out with the first one.
            self._stop.wait(self.hold_s)
            self.acquire()
            try:
                if self._closed:
                    return
                self._first_held.clear()
                self._write("")
            except (OSError, ValueError):
                # The stream is gone (closed, a broken pipe): as logging does for a line that
                # cannot be written, the process goes on; these lines are lost.
                self._held.clear()
                self._held_bytes = 0
            finally:
                self.release()

    def close(self) -> None:
        self.acquire()
        try:
            self._closed = True
            # A stream closed under the handler (a test's capture) has nothing to take them.
            with contextlib.suppress(OSError, ValueError):
                self._write("")
        finally:
            self.release()
        self._stop.set()  # the writer thread ends
        self._first_held.set()
        super().close()


def log_fields(logger: logging.Logger, level: int, event: str, fields: dict[str, Any]) -> None:
    """``logger.log(level, event, extra=fields)`` for a line logged per call (the switch's
    refused calls): the same line, but written straight to the handler ``configure``
    installed when nothing else would see the record (no other handler, no filter on the way).
    The LogRecord and the generic dispatch were half of such a line's cost, and a line a
    quarter of a refused call's (issue #18). In any other set-up (a test's capture, text
    lines, a handler added by hand) the line goes through ``logger.log``."""
    if not logger.isEnabledFor(level):
        return
    handler = _direct_handler(logger, level)
    if handler is None:
        logger.log(level, event, extra=fields)
        return
    line = _head(time.time(), logging.getLevelName(level), logger.name, event)
    for key, value in fields.items():
        if key not in _RECORD_FIELDS and not key.startswith("_"):  # as ``JsonFormatter``
            line[key] = _value(key, value)
    handler.emit_line(orjson.dumps(line).decode(), level)


def _direct_handler(logger: logging.Logger, level: int) -> JsonLineHandler | None:
    """The installed JSON handler if it is the only place a record of ``logger`` would go."""
    handler = _installed
    root = logging.root
    if (handler is None or len(root.handlers) != 1 or root.handlers[0] is not handler
            or handler.filters or root.filters or level < handler.level):
        return None
    node: logging.Logger | None = logger
    while node is not None and node is not root:
        if node.handlers or node.filters or not node.propagate:
            return None
        node = node.parent
    return handler


def configure(level: str = "info", fmt: str = "json", *, flush_ms: int = 0) -> None:
    """Send every log line (ours, uvicorn's, SQLAlchemy's warnings) to stderr as JSON;
    ``flush_ms`` > 0 holds info and debug lines up to that long (``JsonLineHandler``)."""
    handler = JsonLineHandler(sys.stderr, hold_s=flush_ms / 1000)
    handler.set_name(_HANDLER_NAME)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    global _installed
    _installed = handler if fmt == "json" else None
    # No line shows the thread, the process or its name, and looking them up was a quarter of
    # a line's cost (a refused call on the switch path logs one: 12 us a line instead of 14-18).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # Nor the file, line and function that logged it: finding the caller's frame was another
    # tenth (the logging HOWTO's list of optimisations: ``logging._srcfile = None``).
    logging._srcfile = None
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # One line per HTTP request from uvicorn would double the log volume of the switch path;
    # requests are counted in the metrics, and errors are logged by the app.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)

"""Structured logs: one JSON object per line on stderr, from the standard library's logging.

Every line has ``ts``, ``level``, ``logger``, ``event`` (the message) and, inside an HTTP request,
``request_id`` (the ``X-Request-ID`` header, or one made up per request and sent back). Call
lines add ``call_id`` and ``account`` through ``extra=``. Values under names that hold secrets
(passwords, tokens, keys) are replaced by ``***`` whatever logged them, and credentials in URLs
(``scheme://user:password@host``) are masked in every message, so a secret cannot reach the
log by accident.

``configure`` is idempotent and also takes over uvicorn's loggers, so a server's whole output
is JSON lines (``DIALGATE_LOG_FORMAT=text`` gives plain lines for a terminal).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": mask(record.getMessage()),
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
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


def configure(level: str = "info", fmt: str = "json") -> None:
    """Send every log line (ours, uvicorn's, SQLAlchemy's warnings) to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != _HANDLER_NAME]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # No line shows the thread, the process or its name, and looking them up was a quarter of
    # a line's cost (a refused call on the switch path logs one: 12 us a line instead of 14-18).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # One line per HTTP request from uvicorn would double the log volume of the switch path;
    # requests are counted in the metrics, and errors are logged by the app.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)

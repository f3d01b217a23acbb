"""The JSON log format: one object per line, the request id, and secrets masked."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dialgate import logs


@pytest.fixture
def emitted() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("dialgate.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_the_request_id(
    emitted: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = emitted
    token = logs.request_id.set("req-42")
    try:
        logger.info("authorize", extra={"call_id": "abc@pbx", "account": "100000",
                                        "allow": True, "rate": 0.01})
    finally:
        logs.request_id.reset(token)
    logger.warning("outside a request\nwith a newline")
    first, second = lines(stream)
    assert first["event"] == "authorize" and first["level"] == "info"
    assert first["logger"] == "dialgate.test-logs"
    assert first["request_id"] == "req-42"
    assert (first["call_id"], first["account"], first["allow"], first["rate"]) == (
        "abc@pbx", "100000", True, 0.01)
    assert "request_id" not in second
    assert second["event"] == "outside a request\nwith a newline"  # still one line of JSON
    assert len(stream.getvalue().splitlines()) == 2


def test_secrets_are_masked(emitted: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = emitted
    logger.info("connecting to postgresql://dialgate:Hunter2-pw@db/dialgate", extra={
        "password": "Pa55-word", "switch_token": "tok-123456", "Authorization": "Bearer x1",
        "api_key": "k-987", "detail": "url smtp://mailer:smtp-Secret@relay:587"})
    (line,) = lines(stream)
    text = stream.getvalue()
    for secret in ("Hunter2-pw", "Pa55-word", "tok-123456", "Bearer x1", "k-987", "smtp-Secret"):
        assert secret not in text
    assert line["password"] == line["switch_token"] == line["Authorization"] == "***"
    assert line["event"] == "connecting to postgresql://dialgate:***@db/dialgate"
    assert line["detail"] == "url smtp://mailer:***@relay:587"


def test_a_database_error_keeps_the_driver_message_not_the_parameters(
    emitted: tuple[logging.Logger, io.StringIO],
) -> None:
    from sqlalchemy.exc import IntegrityError

    logger, stream = emitted

    class DriverError(Exception):
        pass

    error = IntegrityError("INSERT INTO t VALUES (%(h)s)", {"h": "argon2-hash-SECRET"},
                           DriverError("duplicate key"))
    try:
        raise error
    except IntegrityError:
        logger.exception("write failed")
    (line,) = lines(stream)
    assert line["error"] == "IntegrityError"
    assert line["error_detail"] == "duplicate key"
    assert "argon2-hash-SECRET" not in stream.getvalue()
    assert "traceback" in line


def test_configure_sends_uvicorn_through_the_json_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure("info", "json")
        logs.configure("info", "json")  # idempotent: one handler, one line per event
        logging.getLogger("uvicorn.error").info("Started server process [1]")
        logging.getLogger("uvicorn.access").info("GET / 200")  # below its level: dropped
        err = capsys.readouterr().err.splitlines()
        assert [json.loads(line)["event"] for line in err] == ["Started server process [1]"]
    finally:
        root.handlers, _ = saved[0], root.setLevel(saved[1])


def test_the_cached_timestamp_is_the_iso_format_of_the_record_time() -> None:
    # The formatter formats the date once per second (issue #18); the result must be what
    # datetime's own ISO format gives, across second, minute, day and year boundaries.
    from datetime import UTC, datetime

    times = [0.0, 0.0005, 0.999, 59.9995, 86399.25, 1_767_225_599.9991, 1_767_225_600.0,
             1_764_748_800.123, 1_764_748_800.5004, 1_764_748_801.001]
    times += [1_764_748_800 + i * 0.0137 for i in range(200)]
    for created in times:
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert logs._timestamp(created) == expected, created


def test_the_quick_mask_is_the_regex_mask() -> None:
    # mask() skips its regex when the text has no "://": same result on every kind of text.
    texts = ["", "plain", "a:b@c", "http://host/path", "x://u:p@h", "smtp://u:p@h and ftp://a:b@c",
             "://u:p@h", "scheme:/u:p@h", "postgresql+psycopg://dg:pw@db:5432/x", "ws://@",
             "caf\u00e9://\u00fc:\u00e9@h"]
    for text in texts:
        assert logs.mask(text) == logs._URL_CREDENTIALS.sub(r"\1***@", text), text


def test_a_value_of_a_str_subclass_is_masked_and_a_secret_key_is_always_hidden(
    emitted: tuple[logging.Logger, io.StringIO],
) -> None:
    from enum import StrEnum

    class Url(StrEnum):
        DB = "postgresql://u:Secret-9@db/x"

    logger, stream = emitted
    for _ in range(2):  # the second line reads the remembered verdict of each key
        logger.info("x", extra={"target": Url.DB, "smtp_password": "Pw-1", "count": 3,
                                "ratio": 0.5, "ok": True, "none": None, "obj": ["a://b:c@d"]})
    for line in lines(stream):
        assert line["target"] == "postgresql://u:***@db/x"
        assert line["smtp_password"] == "***"
        assert (line["count"], line["ratio"], line["ok"], line["none"]) == (3, 0.5, True, None)
        assert line["obj"] == "['a://b:***@d']"
    assert "Secret-9" not in stream.getvalue() and "Pw-1" not in stream.getvalue()


class Writes(io.StringIO):
    """A stream that remembers each write (one write is one system call on a real stream)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@pytest.fixture
def held() -> Iterator[Callable[[float], tuple[logging.Logger, Writes, logs.JsonLineHandler]]]:
    made: list[tuple[logging.Logger, logs.JsonLineHandler]] = []

    def make(hold_s: float) -> tuple[logging.Logger, Writes, logs.JsonLineHandler]:
        stream = Writes()
        handler = logs.JsonLineHandler(stream, hold_s=hold_s)
        handler.setFormatter(logs.JsonFormatter())
        logger = logging.getLogger(f"dialgate.test-held-{len(made)}")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        made.append((logger, handler))
        return logger, stream, handler

    yield make
    for logger, handler in made:
        logger.removeHandler(handler)
        handler.close()


def events(stream: io.StringIO) -> list[str]:
    return [line["event"] for line in lines(stream)]


def test_held_lines_go_out_in_one_write_before_a_warning_in_their_order(held: Any) -> None:
    logger, stream, _handler = held(60.0)  # the hold never runs out during the test
    for n in range(50):
        logger.info(f"call {n}")
    logger.debug("allowed")
    assert stream.writes == []
    logger.warning("smtp send failed")
    assert len(stream.writes) == 1
    assert events(stream) == [f"call {n}" for n in range(50)] + ["allowed", "smtp send failed"]
    logger.error("at once")
    assert len(stream.writes) == 2 and events(stream)[-1] == "at once"


def test_a_held_line_is_written_when_the_hold_runs_out_without_any_other_line(
    held: Any,
) -> None:
    logger, stream, _handler = held(0.05)
    logger.info("refused")
    deadline = time.monotonic() + 10
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert events(stream) == ["refused"]
    logger.info("the next batch")  # the writer waits for the next first line again
    deadline = time.monotonic() + 10
    while len(stream.writes) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert events(stream) == ["refused", "the next batch"]


def test_flush_and_close_write_what_is_held_and_a_closed_handler_holds_nothing(
    held: Any,
) -> None:
    logger, stream, handler = held(60.0)
    logger.info("one")
    handler.flush()
    assert events(stream) == ["one"]
    logger.info("two")
    handler.close()
    assert events(stream) == ["one", "two"]
    assert handler._writer is not None
    handler._writer.join(timeout=10)
    assert not handler._writer.is_alive()
    logger.info("three")
    assert events(stream) == ["one", "two", "three"]


def test_a_full_hold_is_written_without_waiting(held: Any) -> None:
    logger, stream, _handler = held(60.0)
    sent = 0
    while not stream.writes and sent < 1000:
        logger.info("x" * 1000)
        sent += 1
    (write,) = stream.writes
    line = len(write) // sent
    assert logs.JsonLineHandler.HOLD_BYTES <= len(write) < logs.JsonLineHandler.HOLD_BYTES + line
    assert len(lines(stream)) == sent


def test_without_a_hold_every_line_is_its_own_write(held: Any) -> None:
    logger, stream, handler = held(0.0)
    logger.info("one")
    logger.debug("two")
    assert stream.writes == [stream.getvalue().splitlines(keepends=True)[0],
                             stream.getvalue().splitlines(keepends=True)[1]]
    assert handler._writer is None


def test_configure_replaces_and_closes_its_own_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Writes()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        logs.configure("info", flush_ms=60_000)
        (first,) = [h for h in root.handlers if isinstance(h, logs.JsonLineHandler)]
        logging.getLogger("dialgate.test-configure").info("held by the first handler")
        assert stream.writes == []
        logs.configure("info", flush_ms=0)
        (second,) = [h for h in root.handlers if isinstance(h, logs.JsonLineHandler)]
        assert second is not first and second._writer is None
        assert events(stream) == ["held by the first handler"]  # written when it was closed
        assert first._writer is not None
        first._writer.join(timeout=10)
        assert not first._writer.is_alive()
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


def test_in_a_forked_child_lines_are_written_at_once_and_the_parents_held_lines_dropped(
    held: Any,
) -> None:
    logger, stream, handler = held(60.0)
    logger.info("the parent's, held")
    handler._pid = -1  # as a child forked from the process that made the handler sees it
    logger.info("the child's")
    assert events(stream) == ["the child's"]
    assert handler._writer is None


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Writes, list[logging.LogRecord]]]:
    """``logs.configure`` as a server runs it, and every LogRecord made counted. A test calls
    ``alone()`` first: pytest adds its capture handlers to the root when the test starts."""
    stream = Writes()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    factory = logging.getLogRecordFactory()
    made: list[logging.LogRecord] = []

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made.append(factory(*args, **kwargs))
        return made[-1]

    logging.setLogRecordFactory(counting)
    try:
        logs.configure("info", flush_ms=60_000)
        yield stream, made
    finally:
        logging.setLogRecordFactory(factory)
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        root.handlers = before
        root.setLevel(level)


def alone() -> None:
    """The handler ``configure`` installed becomes the root's only one."""
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if isinstance(h, logs.JsonLineHandler)]


CALL_FIELDS = {"call_id": "a1@pbx", "account": "100000", "allow": False,
               "reason": "international_disabled", "sip_code": 403,
               "detail": "sip://user:hunter2@pbx", "switch_token": "s3cret"}


def test_log_fields_writes_the_line_logging_writes_without_a_log_record(installed: Any) -> None:
    stream, made = installed
    alone()
    logger = logging.getLogger("dialgate.test-fields")
    logs.log_fields(logger, logging.INFO, "authorize", CALL_FIELDS)
    assert made == []  # written straight to the handler
    logger.info("authorize", extra=CALL_FIELDS)
    assert len(made) == 1
    logging.getLogger().handlers[0].flush()
    direct, logged = lines(stream)
    assert direct.pop("ts") <= logged.pop("ts")
    assert list(direct.items()) == list(logged.items())  # same fields, same order
    assert direct["detail"] == "sip://user:***@pbx" and direct["switch_token"] == "***"


def test_log_fields_holds_info_lines_and_writes_a_warning_at_once(installed: Any) -> None:
    stream, made = installed
    alone()
    logger = logging.getLogger("dialgate.test-fields")
    logs.log_fields(logger, logging.INFO, "refused call", CALL_FIELDS)
    logs.log_fields(logger, logging.DEBUG, "below the level", CALL_FIELDS)
    assert stream.writes == []
    logs.log_fields(logger, logging.WARNING, "warned", CALL_FIELDS)
    assert stream.writes != [] and events(stream) == ["refused call", "warned"]
    assert made == []


def test_log_fields_goes_through_logging_when_anything_else_would_see_the_record(
    installed: Any,
) -> None:
    stream, made = installed
    alone()
    logger = logging.getLogger("dialgate.test-fields")
    # Another handler on the root (a test's capture): the record is made and both see it.
    capture = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(capture)
    logs.log_fields(logger, logging.INFO, "captured", CALL_FIELDS)
    logging.getLogger().removeHandler(capture)
    assert len(made) == 1 and made[0].__dict__["reason"] == "international_disabled"
    assert capture.stream.getvalue() == "captured\n"
    # A filter on the logger decides, as it would for logger.log.
    logger.addFilter(lambda record: record.getMessage() != "filtered out")
    try:
        logs.log_fields(logger, logging.INFO, "filtered out", CALL_FIELDS)
        logs.log_fields(logger, logging.INFO, "let through", CALL_FIELDS)
    finally:
        logger.filters.clear()
    assert len(made) == 3
    logging.getLogger().handlers[0].flush()
    assert events(stream) == ["captured", "let through"]

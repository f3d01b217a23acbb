"""The JSON log format: one object per line, the request id, and secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
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

"""TOTP codes of the operator console on SQLite and PostgreSQL: each time step's code is
accepted once; the same code, or an older step's, is refused by name (``totp_reused``) and
changes nothing but the failure count; the next step's code is accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from dialgate.services import operators
from dialgate.services.uow import Database

PASSWORD = "Operator-pass-123"
T = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)  # 10 s into a 30 s step


def _password_step(db: Database, at: datetime) -> str:
    with db.uow() as uow:
        token, session = operators.login(uow, "root@provider.test", PASSWORD, now=at)
        uow.commit()
    assert not session.complete
    return token


def _code_step(db: Database, token: str, code: str, at: datetime) -> None:
    with db.uow() as uow:
        operators.verify_totp(uow, token, code, now=at)
        uow.commit()


def _state(db: Database) -> tuple[int | None, int]:
    with db.uow(write=False) as uow:
        row = operators.find(uow, "root@provider.test")
        assert row is not None
        return row.totp_last_step, row.failed_logins


def test_each_code_logs_in_once(db: Database) -> None:
    with db.uow() as uow:
        _row, secret = operators.create_operator(uow, "root@provider.test", "admin", PASSWORD)
        uow.commit()
    assert secret is not None
    totp = pyotp.TOTP(secret)
    code = totp.at(T)
    _code_step(db, _password_step(db, T), code, T)
    accepted = _state(db)
    assert accepted == (totp.timecode(T), 0)

    for replay, at in ((code, T + timedelta(seconds=5)),  # same step
                       (code, T + timedelta(seconds=25)),  # still good by the clock window
                       (totp.at(T - timedelta(seconds=30)), T)):  # an older step
        token = _password_step(db, at)
        with db.uow() as uow:
            with pytest.raises(operators.CodeReused) as refused:
                operators.verify_totp(uow, token, replay, now=at)
            uow.commit()  # what the console does: the failure count is kept
        assert refused.value.code == "totp_reused"
        assert "already used" in str(refused.value)
        assert _state(db)[0] == accepted[0]  # the accepted step did not move

    assert _state(db)[1] == 3
    later = T + timedelta(seconds=30)
    _code_step(db, _password_step(db, later), totp.at(later), later)
    assert _state(db) == (totp.timecode(later), 0)

"""``notify_api_changes``: turning the VoIP.ms API on or off, or changing its allowed IPs or its
password, enqueues one email in the same transaction, with the password shown only as ***."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from dialgate.adapters import passwords
from dialgate.adapters.db.models import OutboxRow
from dialgate.domain.errors import ValidationFailed
from dialgate.services import apikeys
from dialgate.services.uow import Database
from tests.support import accounts as support_accounts

SECRET = "ApiSecret123"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def setup_account(db: Database, **settings: str) -> None:
    # The first notification address is the account's own: one recipient per notice.
    support_accounts.setup_account(
        db,
        email="first@example.com",
        balance=None,
        subs=(),
        settings={"notification_emails": "first@example.com", **settings},
    )


def api_emails(db: Database) -> list[OutboxRow]:
    with db.uow(write=False) as uow:
        return list(
            uow.session.scalars(
                select(OutboxRow).where(OutboxRow.kind == "api_changed").order_by(OutboxRow.id)
            )
        )


def enable(db: Database, password: str = SECRET, *ips: str) -> None:
    with db.uow() as uow:
        apikeys.enable_voipms_api(uow, "100000", password=password, allowed_ips=ips)
        uow.commit()


def disable(db: Database) -> None:
    with db.uow() as uow:
        apikeys.disable_voipms_api(uow, "100000")
        uow.commit()


def test_enabling_the_api_emails_what_changed_with_the_password_redacted(db: Database) -> None:
    setup_account(db)
    enable(db, SECRET, "203.0.113.7")
    (row,) = api_emails(db)
    assert row.recipients == {"to": ["first@example.com"]}
    for body in (row.body_text, row.body_html):
        # The portal's labels, never the keys; the password only "changed".
        assert "VoIP.ms API: disabled → enabled" in body
        assert "API allowed IP addresses: (none) → 203.0.113.7" in body
        assert "API password: changed" in body
        for leak in (SECRET, "***", "voipms_api", "api_allowed_ips", "api_password"):
            assert leak not in body, leak


def test_each_later_change_is_emailed_and_a_no_op_is_not(db: Database) -> None:
    setup_account(db)
    enable(db, SECRET, "203.0.113.7")
    enable(db, SECRET, "203.0.113.7")  # same password, same IPs: nothing changed
    assert len(api_emails(db)) == 1
    enable(db, SECRET, "203.0.113.7", "198.51.100.0/24")
    ips = api_emails(db)[-1].body_text
    assert "198.51.100.0/24" in ips and "API password" not in ips and "VoIP.ms API" not in ips
    enable(db, "Another123", "203.0.113.7", "198.51.100.0/24")
    password = api_emails(db)[-1].body_text
    assert "API password: changed" in password and "Another123" not in password
    disable(db)
    disable(db)  # already off: nothing changed
    rows = api_emails(db)
    assert len(rows) == 4 and "disabled" in rows[-1].body_text


def test_nothing_is_emailed_when_the_toggle_is_off(db: Database) -> None:
    setup_account(db, notify_api_changes="no")
    enable(db, SECRET, "203.0.113.7")
    enable(db, SECRET)
    disable(db)
    assert api_emails(db) == []


def test_a_refused_change_emails_nothing(db: Database) -> None:
    setup_account(db)
    with pytest.raises(ValidationFailed):
        enable(db, SECRET, "not-an-ip")
    assert api_emails(db) == []


def test_the_cli_commands_notify_too(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        setup_account(db)
        env = {**os.environ, "DIALGATE_DATABASE_URL": sqlite_url}
        for args in (
            ("api", "enable", "100000", "--password", SECRET, "--allow-ip", "203.0.113.7"),
            ("api", "disable", "100000"),
        ):
            out = subprocess.run(
                [sys.executable, "-m", "dialgate", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert out.returncode == 0, out.stderr
        rows = api_emails(db)
        assert len(rows) == 2 and all(SECRET not in r.body_text for r in rows)
    finally:
        db.dispose()

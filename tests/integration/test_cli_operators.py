"""``dialgate operator ...`` in process (Typer's runner) against a real database."""

from __future__ import annotations

import json

import pyotp
from sqlalchemy import select

from dialgate.adapters.db.models import OperatorRow
from dialgate.services import operators
from dialgate.services.uow import Database
from tests.support.cli import run


def test_operator_create_list_and_keys(sqlite_url: str) -> None:
    made = run(sqlite_url, "operator", "create", "Ops@Provider.test", "--role", "admin",
                    "--password", "Operator-pass-123")
    assert made.returncode == 0, made.stderr
    secret, uri = made.stdout.strip().splitlines()[-2:]
    assert uri.startswith("otpauth://totp/Dialgate:ops%40provider.test?secret=" + secret)
    db = Database(sqlite_url)
    try:
        with db.uow(write=False) as uow:
            row = uow.session.scalars(select(OperatorRow)).one()
            assert (row.email, row.role, row.totp_secret) == ("ops@provider.test", "admin", secret)
            assert "Operator-pass-123" not in row.password_hash
        assert pyotp.TOTP(secret).now().isdigit()
        support = run(sqlite_url, "operator", "create", "desk@provider.test", "--role",
                           "support", "--password", "Operator-pass-123")
        assert support.returncode == 0 and "TOTP" not in support.stdout
        listed = json.loads(run(sqlite_url, "operator", "list", "--json").stdout)
        assert [(o["email"], o["role"]) for o in listed] == [
            ("desk@provider.test", "support"), ("ops@provider.test", "admin")]
        key = run(sqlite_url, "operator", "key", "create", "ops@provider.test")
        token = key.stdout.strip().splitlines()[-1]
        assert token.startswith("dgadm_")
        with db.uow(write=False) as uow:
            assert operators.authenticate_admin_key(uow, token).email == "ops@provider.test"
    finally:
        db.dispose()


def test_bad_operator_input_names_the_field_and_changes_nothing(sqlite_url: str) -> None:
    bad = run(sqlite_url, "operator", "create", "not-an-email", "--role", "boss",
                   "--password", "short")
    assert bad.returncode == 2
    for field in ("email", "role", "password"):
        assert field in bad.stderr
    assert json.loads(run(sqlite_url, "operator", "list", "--json").stdout) == []

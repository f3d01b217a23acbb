"""Configuration: DIALGATE_* variables, and no default secret outside development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dialgate.config import DEV_SECRET_KEY, Settings


def test_defaults_use_the_embedded_sqlite_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIALGATE_DATABASE_URL", raising=False)
    monkeypatch.setenv("DIALGATE_ENVIRONMENT", "development")
    monkeypatch.delenv("DIALGATE_SECRET_KEY", raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///var/dialgate.db"
    assert settings.secret_key == DEV_SECRET_KEY


@pytest.mark.parametrize("environment", ["production", "test"])
def test_default_secret_key_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("DIALGATE_ENVIRONMENT", environment)
    monkeypatch.delenv("DIALGATE_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="DIALGATE_SECRET_KEY"):
        Settings()


def test_environment_variables_configure_database_and_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALGATE_ENVIRONMENT", "production")
    monkeypatch.setenv("DIALGATE_SECRET_KEY", "a-long-private-production-secret")
    monkeypatch.setenv("DIALGATE_DATABASE_URL", "postgresql://dg@db.internal/dialgate")
    monkeypatch.setenv("DIALGATE_SMTP_PORT", "2525")
    settings = Settings()
    assert settings.database_url == "postgresql://dg@db.internal/dialgate"
    assert settings.smtp_port == 2525


def test_short_secret_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALGATE_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="at least 16"):
        Settings()


def test_serve_offers_exactly_the_roles_the_settings_accept() -> None:
    """`serve --role` (a Typer choice, kept out of the settings so `--help` stays light) and
    ``DIALGATE_ROLE`` name the same roles: a role added to one must be added to the other."""
    from typing import get_args

    from dialgate.entrypoints.cli.db import Role

    assert {role.value for role in Role} == set(get_args(Settings.model_fields["role"].annotation))

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


def test_variable_names_are_matched_without_regard_to_case_and_unknown_ones_ignored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("dialgate_smtp_port", "2526")
    monkeypatch.setenv("DIALGATE_NO_SUCH_SETTING", "whatever")
    monkeypatch.setenv("OTHER_SMTP_HOST", "not-ours.example")
    settings = Settings()
    assert settings.smtp_port == 2526
    assert settings.smtp_host == "127.0.0.1"
    assert not hasattr(settings, "no_such_setting")


def test_keyword_arguments_take_precedence_over_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALGATE_SMTP_PORT", "2525")
    monkeypatch.setenv("DIALGATE_SMTP_HOST", "mail.internal")
    settings = Settings(smtp_port=26)
    assert settings.smtp_port == 26
    assert settings.smtp_host == "mail.internal"


def test_a_variable_of_the_wrong_type_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALGATE_SMTP_PORT", "twenty-five")
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert raised.value.errors()[0]["loc"] == ("smtp_port",)


def test_booleans_read_as_deployments_write_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for text, expected in [("true", True), ("1", True), ("yes", True), ("false", False),
                           ("0", False), ("off", False)]:
        monkeypatch.setenv("DIALGATE_SMTP_STARTTLS", text)
        assert Settings().smtp_starttls is expected, text


def test_the_log_hold_is_checked_against_its_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALGATE_LOG_FLUSH_MS", "250")
    assert Settings().log_flush_ms == 250
    monkeypatch.setenv("DIALGATE_LOG_FLUSH_MS", "-1")
    with pytest.raises(ValidationError) as raised:
        Settings()
    error = raised.value.errors()[0]
    assert error["loc"] == ("log_flush_ms",) and error["type"] == "greater_than_equal"

"""Accounts, sub accounts and settings persisted on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from dialgate.adapters import passwords
from dialgate.adapters.db.models import AccountRow, SubscriberRow
from dialgate.config import get_settings
from dialgate.domain.errors import Conflict, NotFound, ValidationFailed
from dialgate.services import accounts, audit, lookups, mailboxes
from dialgate.services.uow import Database

PASSWORD = "Portal1234"


def make_account(db: Database, number: str = "100000", email: str = "owner@example.com") -> None:
    with db.uow() as uow:
        accounts.create_account(
            uow, number=number, email=email, password=PASSWORD, balance=Decimal("10")
        )
        mailboxes.add_mailbox(uow, number, "1001")
        uow.commit()


def settings_of(db: Database, subject: str) -> dict[str, object]:
    with db.uow(write=False) as uow:
        return accounts.show_settings(uow, subject).values


def subscriber(db: Database, username: str) -> SubscriberRow | None:
    with db.uow(write=False) as uow:
        return uow.session.scalars(
            select(SubscriberRow).where(SubscriberRow.username == username)
        ).first()


def test_new_account_has_the_seed_defaults_and_sip_password_equal_to_portal(db: Database) -> None:
    make_account(db)
    values = settings_of(db, "100000")
    assert values["allow_international"] is False
    assert values["notification_emails"] == ("owner@example.com",)
    assert values["did_routing"] == "account:100000"
    row = subscriber(db, "100000")
    assert row is not None
    realm = get_settings().sip_realm
    assert row.ha1 == passwords.sip_ha1("100000", realm, PASSWORD)
    assert row.password == ""  # never the clear-text password
    with db.uow(write=False) as uow:
        account = lookups.get_account(uow, "100000")
        assert passwords.verify_password(account.portal_password_hash, PASSWORD)
        assert account.portal_password_hash.startswith("$argon2id$")
        assert account.balance == Decimal("10")


def test_valid_update_is_persisted_and_audited(db: Database) -> None:
    make_account(db)
    with db.uow() as uow:
        accounts.update_settings(
            uow, "100000", {"canada_route": "premium", "max_expiry": "600"}, actor="tester"
        )
        uow.commit()
    values = settings_of(db, "100000")
    assert (values["canada_route"], values["max_expiry"]) == ("premium", 600)
    sub = subscriber(db, "100000")
    assert sub is not None and sub.max_expiry == 600
    with db.uow(write=False) as uow:
        history = audit.settings_history(uow, "100000")
    latest = {(e.key, e.old, e.new, e.actor) for e in history[:2]}
    assert latest == {
        ("canada_route", "value", "premium", "tester"),
        ("max_expiry", "3600", "600", "tester"),
    }


def test_rejected_update_changes_nothing(db: Database) -> None:
    make_account(db)
    before = settings_of(db, "100000")
    with db.uow(write=False) as uow:
        history_before = len(audit.settings_history(uow, "100000"))
    with db.uow() as uow, pytest.raises(ValidationFailed) as info:
        accounts.update_settings(
            uow, "100000", {"canada_route": "premium", "rtp_timeout": "900"}, actor="t"
        )
    assert info.value.errors[0].field == "rtp_timeout"
    assert settings_of(db, "100000") == before
    with db.uow(write=False) as uow:
        assert len(audit.settings_history(uow, "100000")) == history_before


def test_password_change_updates_digests_and_audit_shows_only_stars(db: Database) -> None:
    make_account(db)
    with db.uow() as uow:
        accounts.update_settings(
            uow,
            "100000",
            {"sip_password": "NewSip9999", "portal_password": "NewPortal77"},
            actor="t",
        )
        uow.commit()
    row = subscriber(db, "100000")
    assert row is not None
    assert row.ha1 == passwords.sip_ha1("100000", get_settings().sip_realm, "NewSip9999")
    with db.uow(write=False) as uow:
        account = lookups.get_account(uow, "100000")
        assert passwords.verify_password(account.portal_password_hash, "NewPortal77")
        history = audit.settings_history(uow, "100000")
    secrets = [e for e in history if e.key in {"sip_password", "portal_password"}]
    assert {(e.old, e.new) for e in secrets} == {("***", "***")}
    assert all("NewSip9999" not in e.new + e.old for e in history)


def test_sub_account_inherits_and_overrides(db: Database) -> None:
    make_account(db)
    with db.uow() as uow:
        accounts.create_subaccount(
            uow, "100000", "office", password="Office1234", changes={"nat": "no"}, actor="t"
        )
        uow.commit()
    with db.uow() as uow:
        accounts.update_settings(
            uow, "100000", {"dtmf_mode": "info", "nat": "route", "max_expiry": "900"}, actor="t"
        )
        uow.commit()
    with db.uow(write=False) as uow:
        view = accounts.show_settings(uow, "100000_office")
    assert view.values["dtmf_mode"] == "info" and view.sources["dtmf_mode"] == "main"
    assert view.values["nat"] == "no" and view.sources["nat"] == "override"
    assert view.values["allow_international"] is False
    assert view.sources["allow_international"] == "sub"
    # The main account's change reached the sub account's SIP attributes too.
    sub = subscriber(db, "100000_office")
    assert sub is not None and (sub.max_expiry, sub.nat) == (900, "no")
    with db.uow() as uow:
        accounts.update_settings(uow, "100000_office", {"nat": ""}, actor="t")
        uow.commit()
    with db.uow(write=False) as uow:
        view = accounts.show_settings(uow, "100000_office")
    assert (view.values["nat"], view.sources["nat"]) == ("route", "main")


def test_sub_account_username_rules(db: Database) -> None:
    make_account(db)
    with db.uow() as uow, pytest.raises(ValidationFailed) as info:
        accounts.create_subaccount(uow, "100000", "bad name!", password="Office1234", actor="t")
    assert info.value.errors[0].code == "invalid_username"
    with db.uow() as uow:
        accounts.create_subaccount(uow, "100000", "office", password="Office1234", actor="t")
        uow.commit()
    with db.uow() as uow, pytest.raises(Conflict) as conflict:
        accounts.create_subaccount(uow, "100000", "office", password="Office1234", actor="t")
    assert conflict.value.code == "used_username"


def test_sub_account_of_another_account_is_not_found(db: Database) -> None:
    make_account(db)
    make_account(db, "200000", "other@example.com")
    with db.uow() as uow:
        accounts.create_subaccount(uow, "200000", "desk", password="Desk12345", actor="t")
        uow.commit()
    with db.uow(write=False) as uow, pytest.raises(NotFound):
        accounts.show_settings(uow, "100000_desk")


def test_routing_target_must_exist_on_the_same_account(db: Database) -> None:
    make_account(db)
    make_account(db, "200000", "other@example.com")
    with db.uow() as uow:
        accounts.create_subaccount(uow, "200000", "desk", password="Desk12345", actor="t")
        uow.commit()
    with db.uow() as uow, pytest.raises(ValidationFailed) as info:
        accounts.update_settings(uow, "100000", {"did_routing": "account:200000_desk"}, actor="t")
    assert info.value.errors[0].code == "unknown_target"


def test_sub_account_deletion_is_refused_while_default_routing_points_at_it(db: Database) -> None:
    make_account(db)
    with db.uow() as uow:
        accounts.create_subaccount(uow, "100000", "office", password="Office1234", actor="t")
        uow.commit()
    with db.uow() as uow:
        accounts.update_settings(uow, "100000", {"did_routing": "account:100000_office"}, actor="t")
        uow.commit()
    with db.uow() as uow, pytest.raises(Conflict) as info:
        accounts.delete_subaccount(uow, "100000_office", actor="t")
    assert info.value.code == "account_with_dids"
    with db.uow() as uow:
        accounts.update_settings(uow, "100000", {"did_routing": ""}, actor="t")
        accounts.delete_subaccount(uow, "100000_office", actor="t")
        uow.commit()
    assert subscriber(db, "100000_office") is None


def test_account_creation_validates_everything(db: Database) -> None:
    with db.uow() as uow, pytest.raises(ValidationFailed) as info:
        accounts.create_account(uow, number="12", email="nope", password="weak")
    assert {e.field for e in info.value.errors} == {"number", "email", "password"}
    make_account(db)
    with db.uow() as uow, pytest.raises(Conflict):
        accounts.create_account(uow, number="100000", email="x@example.com", password=PASSWORD)


def test_every_settings_change_bumps_the_policy_version(db: Database) -> None:
    make_account(db)
    with db.uow(write=False) as uow:
        before = uow.session.scalars(select(AccountRow.version)).one()
    with db.uow() as uow:
        accounts.update_settings(uow, "100000", {"allow_international": "yes"}, actor="t")
        uow.commit()
    with db.uow(write=False) as uow:
        assert uow.session.scalars(select(AccountRow.version)).one() == before + 1

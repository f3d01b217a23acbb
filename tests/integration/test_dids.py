"""DIDs and inbound routing persisted on SQLite and PostgreSQL, and the CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from dialgate.adapters.db.models import AccountRow, AuditRow, OutboxRow
from dialgate.domain.errors import Conflict, NotFound, ValidationFailed
from dialgate.services import accounts, dids, forwardings, inbound, mailboxes
from dialgate.services.uow import Database
from tests.support.cli import dialgate


def setup_account(db: Database, number: str = "100000", email: str = "owner@example.com") -> str:
    """The account with a mailbox, an IVR, a sub account and a forwarding (whose ref is
    returned)."""
    with db.uow() as uow:
        accounts.create_account(
            uow, number=number, email=email, password="Portal1234", balance=Decimal("10")
        )
        mailboxes.add_mailbox(uow, number, "1001")
        mobile = forwardings.add_forwarding(uow, number, {"phone_number": "5145550199"}, actor="t")
        mailboxes.add_routing_target(uow, number, "ivr", "1", name="Menu")
        uow.session.flush()
        accounts.create_subaccount(
            uow,
            number,
            "office",
            password="Office1234",
            changes={"inbound_protocol": "iax2", "device_type": "pbx"},
            actor="test",
        )
        accounts.update_settings(
            uow,
            number,
            {"did_failover_busy": "vm:1001", "did_pop": "toronto1", "did_cnam_lookup": "yes"},
            actor="test",
        )
        uow.commit()
    return mobile.ref


def test_new_did_takes_the_default_did_routing(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow:
        view = dids.add_did(uow, "100000", "+1 514 555 0100".replace(" ", ""), actor="t")
        uow.commit()
    assert view.number == "5145550100"
    assert view.values["routing"] == "account:100000"
    assert view.values["failover_busy"] == "vm:1001"
    assert (view.values["pop"], view.values["cnam_lookup"]) == ("toronto1", True)
    with db.uow(write=False) as uow:
        listed = dids.list_dids(uow, "100000")
    assert [v.number for v in listed] == ["5145550100"]


def test_invalid_did_settings_change_nothing_and_name_each_field(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow:
        dids.add_did(uow, "100000", "5145550100", actor="test")
        uow.commit()
    with db.uow() as uow, pytest.raises(ValidationFailed) as exc:
        dids.set_did(
            uow,
            "5145550100",
            {"routing": "account:100000_office", "dial_time": "2", "pop": "mars", "x": "1"},
            actor="test",
            account="100000",
        )
    assert {e.field: e.code for e in exc.value.errors} == {
        "dial_time": "out_of_range",
        "pop": "invalid_pop",
        "x": "unknown_key",
    }
    with db.uow(write=False) as uow:
        assert dids.list_dids(uow, "100000")[0].values["routing"] == "account:100000"


def test_bad_number_and_duplicate_number_are_refused(db: Database) -> None:
    setup_account(db)
    setup_account(db, "200000", "other@example.com")
    with db.uow() as uow, pytest.raises(ValidationFailed) as exc:
        dids.add_did(uow, "100000", "0145550100", actor="test")
    assert exc.value.errors[0].code == "invalid_nanp_number"
    with db.uow() as uow:
        dids.add_did(uow, "100000", "5145550100", actor="test")
        uow.commit()
    with db.uow() as uow, pytest.raises(Conflict):
        dids.add_did(uow, "200000", "5145550100", actor="test")


def test_set_is_audited_under_the_did_and_e911_bumps_policy_and_notifies(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow:
        dids.add_did(uow, "100000", "5145550100", actor="test")
        uow.commit()
    with db.uow(write=False) as uow:
        version = uow.session.scalars(select(AccountRow.version)).one()
        before = len(list(uow.session.scalars(select(OutboxRow))))
    with db.uow() as uow:
        changes = dids.set_did(
            uow, "5145550100", {"e911_enabled": "yes"}, actor="cli", account="100000"
        )
        uow.commit()
    assert [(c.key, c.old, c.new) for c in changes] == [("e911_enabled", "false", "true")]
    with db.uow(write=False) as uow:
        assert uow.session.scalars(select(AccountRow.version)).one() == version + 1
        audit = uow.session.scalars(select(AuditRow).where(AuditRow.subject == "5145550100"))
        assert ("e911_enabled", "true") in {(a.key, a.new) for a in audit}
        mails = list(uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
    assert len(mails) == before + 1 and mails[-1].kind == "e911_changed"


def test_another_accounts_did_is_not_found_in_its_scope(db: Database) -> None:
    setup_account(db)
    setup_account(db, "200000", "other@example.com")
    with db.uow() as uow:
        dids.add_did(uow, "100000", "5145550100", actor="test")
        uow.commit()
    with db.uow() as uow, pytest.raises(NotFound):
        dids.set_did(uow, "5145550100", {"dial_time": "30"}, actor="api", account="200000")
    with db.uow(write=False) as uow, pytest.raises(NotFound):
        inbound.route_inbound(uow, "5145550100", account="200000")
    with db.uow(write=False) as uow:
        assert dids.find_did(uow, "5145550100", account="200000") is None
        assert dids.find_did(uow, "5145550100", account="100000") is not None
        assert dids.show_did(uow, "5145550100", account="100000").values["dial_time"] == 60


def test_the_operator_changes_any_did_through_its_owners_scope(db: Database) -> None:
    setup_account(db)
    setup_account(db, "200000", "other@example.com")
    dids.add_did(db, "200000", "5145550100", actor="test")
    owner = dids.owner_of(db, "5145550100")
    assert owner == "200000"
    changes = dids.set_did(db, "5145550100", {"dial_time": "30"}, actor="cli", account=owner)
    assert [c.key for c in changes] == ["dial_time"]
    with db.uow(write=False) as uow:
        assert dids.show_did(uow, "5145550100", account="200000").values["dial_time"] == 30
    with pytest.raises(NotFound):
        dids.owner_of(db, "5145550199")


def test_route_inbound_uses_the_sub_accounts_effective_inbound_settings(db: Database) -> None:
    mobile = setup_account(db)
    with db.uow() as uow:
        dids.add_did(
            uow,
            "100000",
            "5145550100",
            {"routing": "account:100000_office", "failover_unreachable": mobile},
            actor="test",
        )
        uow.commit()
    with db.uow(write=False) as uow:
        first = inbound.route_inbound(uow, "5145550100").to_json()
        busy = inbound.route_inbound(uow, "5145550100", event="busy").to_json()
        unreachable = inbound.route_inbound(uow, "5145550100", event="unreachable").to_json()
        with pytest.raises(ValidationFailed):
            inbound.route_inbound(uow, "5145550100", event="ringing")
    assert first["target"]["sip_user"] == "100000_office"
    assert (first["target"]["protocol"], first["target"]["device_type"]) == ("iax2", "pbx")
    assert (first["pop"], first["cnam_lookup"], first["position"]) == ("toronto1", True, 0)
    assert first["pop_host"]
    assert busy["target"]["kind"] == "voicemail" and busy["position"] == 1
    assert unreachable["target"]["forward_number"] == "+15145550199"


def test_forward_loop_between_two_own_dids_is_detected(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow:
        to_b = forwardings.add_forwarding(uow, "100000", {"phone_number": "5145550101"}, actor="t")
        to_a = forwardings.add_forwarding(uow, "100000", {"phone_number": "5145550100"}, actor="t")
        dids.add_did(uow, "100000", "5145550100", {"failover_busy": to_b.ref}, actor="t")
        dids.add_did(uow, "100000", "5145550101", {"routing": to_a.ref}, actor="t")
        uow.commit()
    with db.uow(write=False) as uow:
        result = inbound.route_inbound(uow, "5145550100", event="busy").to_json()
    assert result["loop_detected"] is True and result["target"]["kind"] == "none"


def test_cli_did_add_list_set_and_inbound(sqlite_url: str) -> None:
    assert dialgate(sqlite_url, "demo").returncode == 0
    out = dialgate(sqlite_url, "did", "add", "100000", "4385550150", "routing=vm:1002")
    assert out.returncode == 0, out.stderr
    listed = json.loads(dialgate(sqlite_url, "did", "list", "100000", "--json").stdout)
    assert {d["number"] for d in listed} >= {"5145550100", "5145550101", "4385550102", "4385550150"}
    assert next(d for d in listed if d["number"] == "5145550100")["e911_enabled"] is True
    bad = dialgate(sqlite_url, "did", "set", "4385550150", "dial_time=500")
    assert bad.returncode == 2 and "dial_time" in bad.stderr
    ok = dialgate(sqlite_url, "did", "set", "4385550150", "routing=account:100000_office")
    assert ok.returncode == 0, ok.stderr
    shown = json.loads(dialgate(sqlite_url, "inbound", "4385550150", "--json").stdout)
    assert shown["target"]["sip_user"] == "100000_office"
    after = dialgate(sqlite_url, "inbound", "5145550101", "--after", "busy")
    assert after.returncode == 0 and "voicemail 1001" in after.stdout

"""Call forwarding entries on SQLite and PostgreSQL: validated with the account's dialing
mode, scoped to their account, audited, and not deletable while a DID routes to them; and the
CLI as a user runs it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from dialgate.adapters.db.models import AuditRow, ForwardingRow
from dialgate.domain.errors import Conflict, NotFound, ValidationFailed
from dialgate.services import accounts, dids, forwardings, inbound
from dialgate.services.uow import Database
from tests.support.cli import dialgate


def _account(db: Database, number: str = "100000", **settings: str) -> None:
    with db.uow() as uow:
        accounts.create_account(
            uow, number=number, email=f"{number}@example.com", password="Portal1234",
            balance=Decimal("10"),
        )
        if settings:
            accounts.update_settings(uow, number, settings, actor="t")
        uow.commit()


def _rows(db: Database) -> list[tuple[object, ...]]:
    with db.uow(write=False) as uow:
        return [
            (r.id, r.phone_number, r.description, r.callerid_override, r.dtmf_digits,
             Decimal(r.pause), r.diversion_header)
            for r in uow.session.scalars(select(ForwardingRow).order_by(ForwardingRow.id))
        ]


def test_add_reads_the_number_with_the_dialing_mode_and_keeps_it_in_e164(db: Database) -> None:
    _account(db)
    _account(db, "200000", dialing_mode="e164")
    with db.uow() as uow:
        nanp = forwardings.add_forwarding(
            uow, "100000",
            {"phone_number": "(514) 555-0199", "description": "Mobile",
             "callerid_override": "4385550111", "dtmf_digits": "12#", "pause": "1.5"},
            actor="t",
        )
        intl = forwardings.add_forwarding(
            uow, "100000", {"phone_number": "011447012345678"}, actor="t")
        e164 = forwardings.add_forwarding(uow, "200000", {"phone_number": "447012345678"},
                                          actor="t")
        uow.commit()
    assert (nanp.phone_number, nanp.callerid_override, nanp.dtmf_digits, nanp.pause) == (
        "+15145550199", "4385550111", "12#", Decimal("1.5"))
    assert intl.phone_number == e164.phone_number == "+447012345678"
    with db.uow(write=False) as uow:
        audit = uow.session.scalars(
            select(AuditRow.key).where(AuditRow.subject == nanp.ref)).all()
    assert {"forwarding", "phone_number", "description"} <= set(audit)


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"phone_number": "447012345678"}, "phone_number", "invalid_phonenumber"),  # nanp mode
        ({"phone_number": "911"}, "phone_number", "invalid_phonenumber"),
        ({"phone_number": "5145551212"}, "phone_number", "invalid_phonenumber"),  # 555-1212
        ({"phone_number": "abc"}, "phone_number", "invalid_phonenumber"),
        ({"description": "x"}, "phone_number", "missing_phonenumber"),
        ({"phone_number": "5145550199", "pause": "1.2"}, "pause", "invalid_pause"),
        ({"phone_number": "5145550199", "pause": "11"}, "pause", "invalid_pause"),
        ({"phone_number": "5145550199", "dtmf_digits": "12x"}, "dtmf_digits",
         "invalid_dtmf_digits"),
        ({"phone_number": "5145550199", "callerid_override": "12"}, "callerid_override",
         "invalid_callerid"),
        ({"phone_number": "5145550199", "description": "d" * 65}, "description",
         "invalid_description"),
        ({"phone_number": "5145550199", "colour": "red"}, "colour", "unknown_key"),
    ],
)
def test_bad_fields_are_refused_naming_the_field_and_nothing_is_stored(
    db: Database, fields: dict[str, str], field: str, code: str
) -> None:
    _account(db)
    with db.uow() as uow, pytest.raises(ValidationFailed) as err:
        forwardings.add_forwarding(uow, "100000", fields, actor="t")
    assert (err.value.errors[0].field, err.value.errors[0].code) == (field, code)
    assert _rows(db) == []


def test_set_is_all_or_nothing_and_scoped_to_the_owner(db: Database) -> None:
    _account(db)
    _account(db, "200000")
    with db.uow() as uow:
        entry = forwardings.add_forwarding(uow, "100000", {"phone_number": "5145550199"},
                                           actor="t")
        uow.commit()
    before = _rows(db)
    with db.uow() as uow, pytest.raises(ValidationFailed) as err:
        forwardings.set_forwarding(
            uow, "100000", entry.id, {"description": "ok", "pause": "99"}, actor="t")
    assert [e.field for e in err.value.errors] == ["pause"]
    with db.uow() as uow, pytest.raises(NotFound):
        forwardings.set_forwarding(uow, "200000", entry.id, {"description": "x"}, actor="t")
    with db.uow() as uow, pytest.raises(NotFound):
        forwardings.delete_forwarding(uow, "200000", entry.id, actor="t")
    assert _rows(db) == before
    with db.uow() as uow:
        changed = forwardings.set_forwarding(
            uow, "100000", str(entry.id), {"phone_number": "4385550100", "pause": "2"},
            actor="t")
        uow.commit()
    assert {c.key for c in changed} == {"phone_number", "pause"}
    assert _rows(db)[0][1] == "+14385550100"


def test_a_forwarding_a_did_routes_or_fails_over_to_cannot_be_deleted(db: Database) -> None:
    _account(db)
    with db.uow() as uow:
        used = forwardings.add_forwarding(uow, "100000", {"phone_number": "5145550199"},
                                          actor="t")
        default = forwardings.add_forwarding(uow, "100000", {"phone_number": "5145550198"},
                                             actor="t")
        free = forwardings.add_forwarding(uow, "100000", {"phone_number": "5145550197"},
                                          actor="t")
        dids.add_did(uow, "100000", "5145550100", {"failover_noanswer": used.ref}, actor="t")
        accounts.update_settings(uow, "100000", {"did_failover_busy": default.ref}, actor="t")
        uow.commit()
    before = _rows(db)
    with db.uow() as uow, pytest.raises(Conflict) as err:
        forwardings.delete_forwarding(uow, "100000", used.id, actor="t")
    assert err.value.code == "forwarding_in_use" and "DID 5145550100" in str(err.value)
    with db.uow() as uow, pytest.raises(Conflict) as err:
        forwardings.delete_forwarding(uow, "100000", default.id, actor="t")
    assert "did_failover_busy" in str(err.value)
    assert _rows(db) == before
    with db.uow() as uow:
        forwardings.delete_forwarding(uow, "100000", free.id, actor="t")
        uow.commit()
    assert [r[0] for r in _rows(db)] == [used.id, default.id]


def test_a_did_routes_to_the_forwarding_entry_with_its_caller_id_override(db: Database) -> None:
    _account(db)
    with db.uow() as uow:
        entry = forwardings.add_forwarding(
            uow, "100000", {"phone_number": "5145550199", "callerid_override": "4385550111"},
            actor="t")
        dids.add_did(uow, "100000", "5145550100", {"routing": entry.ref}, actor="t")
        with pytest.raises(ValidationFailed):  # another account's or a missing forwarding
            dids.add_did(uow, "100000", "5145550101", {"routing": f"fwd:{entry.id + 1}"},
                         actor="t")
        uow.commit()
    with db.uow(write=False) as uow:
        target = inbound.route_inbound(uow, "5145550100").to_json()["target"]
    assert (target["kind"], target["forward_number"]) == ("forward", "+15145550199")
    assert target["forward"]["callerid_override"] == "4385550111"


def test_cli_forwarding_add_list_set_delete(sqlite_url: str) -> None:
    assert dialgate(sqlite_url, "demo").returncode == 0
    listed = json.loads(dialgate(sqlite_url, "forwarding", "list", "100000", "--json").stdout)
    assert [e["phone_number"] for e in listed] == ["+15145550199"]  # the demo's Mobile
    added = dialgate(sqlite_url, "forwarding", "add", "100000", "4385550150",
                     "description=Cottage", "pause=0.5", "--json")
    assert added.returncode == 0, added.stderr
    entry = json.loads(added.stdout)
    assert (entry["phone_number"], entry["pause"]) == ("+14385550150", "0.5")
    bad = dialgate(sqlite_url, "forwarding", "set", "100000", str(entry["id"]), "pause=3.3")
    assert bad.returncode == 2 and "pause" in bad.stderr
    ok = dialgate(sqlite_url, "forwarding", "set", "100000", str(entry["id"]),
                  "dtmf_digits=1234")
    assert ok.returncode == 0 and "dtmf_digits" in ok.stdout, ok.stderr
    did = dialgate(sqlite_url, "did", "set", "4385550102", f"routing=fwd:{entry['id']}")
    assert did.returncode == 0, did.stderr
    refused = dialgate(sqlite_url, "forwarding", "delete", "100000", str(entry["id"]))
    assert refused.returncode == 2 and "4385550102" in refused.stderr
    assert dialgate(sqlite_url, "did", "set", "4385550102", "routing=ivr:1").returncode == 0
    gone = dialgate(sqlite_url, "forwarding", "delete", "100000", str(entry["id"]))
    assert gone.returncode == 0, gone.stderr
    listed = json.loads(dialgate(sqlite_url, "forwarding", "list", "100000", "--json").stdout)
    assert [e["id"] for e in listed] == [listed[0]["id"]] and len(listed) == 1

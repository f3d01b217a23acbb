"""Test a number, DID pages, the balance and translated rule messages, over HTTP."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from dialgate.domain.errors import FieldError
from dialgate.entrypoints.policy_cache import get_policy_cache
from dialgate.entrypoints.portal import messages
from dialgate.services import accounts, dids
from dialgate.services.uow import Database
from tests.portal.test_portal_http import log_in


def _intl(db: Database, allowed: bool) -> None:
    with db.uow() as uow:
        accounts.update_settings(
            uow, "100000", {"allow_international": str(allowed).lower()}, actor="test"
        )
        uow.commit()


def test_international_number_is_denied_when_international_is_disabled(
    client: TestClient, demo_db: Database
) -> None:
    _intl(demo_db, False)
    log_in(client)
    r = client.get("/portal/test", params={"dialed": "011447012345678"})
    assert r.status_code == 200
    assert "Not allowed" in r.text and 'data-reason="international_disabled"' in r.text
    assert "International calls are disabled for this account." in r.text
    assert 'data-step="international_lock"' in r.text and "International calls" in r.text
    assert "United Kingdom" in r.text


def test_canadian_number_is_allowed_with_route_rate_and_caller_id(client: TestClient) -> None:
    log_in(client)
    r = client.get("/portal/test", params={"dialed": "5145551234"})
    assert r.status_code == 200
    assert 'data-reason="ok"' in r.text
    assert "The call to Canada – Quebec is allowed." in r.text
    route = re.search(r'id="d-route">([^<]+)<', r.text)
    assert route and route.group(1) == "Value"
    assert re.search(r'id="d-rate">\$0\.\d{4} per minute', r.text)
    assert "5145550100 — not guaranteed" in r.text
    assert "Canada" in r.text


def test_sub_account_decision_uses_its_overrides(client: TestClient) -> None:
    log_in(client)
    r = client.get("/portal/test", params={"dialed": "5145551234", "subaccount": "office"})
    route = re.search(r'id="d-route">([^<]+)<', r.text)
    assert route and route.group(1) == "Premium"  # the demo's office sub account


def test_invalid_source_ip_is_shown_next_to_its_field(client: TestClient) -> None:
    log_in(client)
    r = client.get("/portal/test", params={"dialed": "5145551234", "source_ip": "1.2.3"})
    assert r.status_code == 422
    assert 'id="f-source_ip-error"' in r.text and "IPv4 or IPv6" in r.text
    assert 'id="decision"' not in r.text


def test_test_page_shares_one_policy_cache_that_sees_setting_changes(
    client: TestClient, demo_db: Database
) -> None:
    log_in(client)
    _intl(demo_db, True)
    r = client.get("/portal/test", params={"dialed": "011447012345678"})
    assert 'data-reason="international_disabled"' not in r.text
    cache = client.app.state.policy_cache  # type: ignore[attr-defined]
    _intl(demo_db, False)  # committed through another Database: the feed must drop it
    deadline = time.monotonic() + 5
    while True:
        r = client.get("/portal/test", params={"dialed": "011447012345678"})
        if 'data-reason="international_disabled"' in r.text:
            break
        assert time.monotonic() < deadline, "the policy feed never dropped the snapshot"
        time.sleep(0.05)
    assert client.app.state.policy_cache is cache  # type: ignore[attr-defined]


def test_get_policy_cache_creates_the_cache_once(client: TestClient) -> None:
    class _Req:
        app = client.app

    first = get_policy_cache(_Req())  # type: ignore[arg-type]
    assert get_policy_cache(_Req()) is first  # type: ignore[arg-type]


def test_french_test_page_translates_reason_and_steps(
    client: TestClient, demo_db: Database
) -> None:
    _intl(demo_db, False)
    token = log_in(client)
    client.post("/portal/language", data={"language": "fr", "csrf_token": token, "next": "/"})
    r = client.get("/portal/test", params={"dialed": "011447012345678"})
    assert "Non autorisé" in r.text
    assert "Les appels internationaux sont désactivés pour ce compte." in r.text
    assert "Royaume-Uni" in r.text
    assert "Normaliser le numéro" in r.text


def test_did_list_shows_each_did_and_the_default_routing_note(client: TestClient) -> None:
    log_in(client)
    r = client.get("/portal/dids")
    assert r.status_code == 200
    for number in ("5145550100", "5145550101", "4385550102"):
        assert f'id="did-{number}"' in r.text
    # Targets and POPs by name, never the header:value notation or the POP's code.
    assert "account:100000_office" not in r.text and "ivr:1" not in r.text
    assert "Sub account office (Front office phone)" in r.text
    row = r.text[r.text.index('id="did-4385550102"') :]
    row = row[: row.index("</tr>")]
    cells = [c.strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells == [
        "Menu line",
        "Digital receptionist (IVR): Main menu (1)",
        "Montreal, QC",
        "Per Minute",
        "Yes",
        "No",
    ]
    assert 'href="/portal/settings/did_defaults"' in r.text


def test_did_edit_saves_routing_failover_and_dial_time(
    client: TestClient, demo_db: Database
) -> None:
    token = log_in(client)
    page = client.get("/portal/dids/4385550102")
    assert page.status_code == 200 and '<option value="ivr" selected>' in page.text
    assert "Show Failover Options" in page.text
    r = client.post(
        "/portal/dids/4385550102",
        data={
            "csrf_token": token,
            "description": "Menu line",
            "routing_type": "queue",
            "routing_queue": "1",
            "routing_ivr": "1",  # the other lists are posted too; the type decides
            "failover_busy_type": "sys",
            "failover_busy_sys": "busy",
            "failover_unreachable_type": "none",
            "failover_noanswer_type": "vm",
            "failover_noanswer_vm": "1002",
            "pop": "toronto1",
            "plan": "flat",
            "cnam_lookup": ["false"],
            "e911_enabled": ["false", "true"],
            "dial_time": "45",
        },
    )
    assert r.status_code == 200 and 'id="saved"' in r.text
    with demo_db.uow(write=False) as uow:
        (view,) = [d for d in dids.list_dids(uow, "100000") if d.number == "4385550102"]
    assert view.values["routing"] == "queue:1"
    assert view.values["failover_busy"] == "sys:busy"
    assert view.values["failover_noanswer"] == "vm:1002"
    assert (view.values["pop"], view.values["plan"], view.values["dial_time"]) == (
        "toronto1",
        "flat",
        45,
    )
    assert view.values["cnam_lookup"] is False and view.values["e911_enabled"] is True


def test_invalid_did_values_show_field_errors_and_save_nothing(
    client: TestClient, demo_db: Database
) -> None:
    token = log_in(client)
    r = client.post(
        "/portal/dids/5145550101",
        data={
            "csrf_token": token,
            "routing_type": "vm",
            "routing_vm": "9999",  # a forged mailbox
            "dial_time": "500",
            "description": "Changed",
        },
    )
    assert r.status_code == 422
    assert 'id="f-routing-error"' in r.text
    assert "this destination does not exist on your account" in r.text
    assert "vm:9999" not in r.text
    assert 'id="f-dial_time-error"' in r.text and "between 5 and 120 seconds" in r.text
    assert '<option value="9999" selected>' in r.text and 'value="Changed"' in r.text
    with demo_db.uow(write=False) as uow:
        row = dids.get_did(uow, "5145550101", account="100000")
        assert (row.routing, row.description, row.dial_time) == (
            "account:100000_office",
            "Office line",
            60,
        )


def test_another_accounts_did_is_not_found(client: TestClient, demo_db: Database) -> None:
    with demo_db.uow() as uow:
        accounts.create_account(
            uow, number="300000", email="o@example.com", password="OtherPass123", actor="t"
        )
        dids.add_did(uow, "300000", "6135550100", actor="t")
        uow.commit()
    token = log_in(client)
    assert client.get("/portal/dids/6135550100").status_code == 404
    r = client.post("/portal/dids/6135550100", data={"csrf_token": token, "dial_time": "30"})
    assert r.status_code == 404


def test_did_save_needs_the_csrf_token(client: TestClient, demo_db: Database) -> None:
    log_in(client)
    r = client.post("/portal/dids/5145550101", data={"dial_time": "30"})
    assert r.status_code == 403
    with demo_db.uow(write=False) as uow:
        assert dids.get_did(uow, "5145550101", account="100000").dial_time == 60


def test_settings_page_shows_the_balance(client: TestClient) -> None:
    log_in(client)
    r = client.get("/portal/settings/routing")
    assert re.search(r'id="balance-amount">\$25\.00<', r.text)


@pytest.mark.parametrize(
    ("error", "language", "expected"),
    [
        (
            FieldError(
                "x", "out_of_range", "en", (("low", "60"), ("high", "86400"), ("value", "5"))
            ),
            "fr",
            "doit être entre 60 et 86400 ; reçu 5",
        ),
        (
            FieldError(
                "x",
                "out_of_range",
                "en",
                (("low", "5"), ("high", "120"), ("value", "500"), ("unit", "seconds")),
            ),
            "es",
            "debe estar entre 5 y 120 segundos; recibido 500",
        ),
        (
            FieldError("x", "invalid_ip", "en", (("value", "1.2.3"),)),
            "fr",
            "doit être des adresses IPv4/IPv6, des plages CIDR ou des noms d'hôte ; "
            "non valide : 1.2.3",
        ),
        (FieldError("x", "no_such_code", "untranslated English"), "fr", "untranslated English"),
        (
            FieldError("x", "out_of_range", "the English", (("value", "1"),)),
            "fr",
            "the English",
        ),
    ],
)
def test_rule_messages_are_translated_by_code_with_their_values(
    error: FieldError, language: str, expected: str
) -> None:
    assert messages.translate_error(language, error) == expected


def test_english_readers_get_the_domains_message() -> None:
    err = FieldError("x", "out_of_range", "must be between 1 and 2; got 3", (("low", "1"),))
    assert messages.translate_error("en", err) == "must be between 1 and 2; got 3"


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_rule_template_is_translated(language: str) -> None:
    from dialgate.entrypoints.portal.web import gettext

    for code, templates in messages.TEMPLATES.items():
        for template in templates:
            translated = gettext(language, template)
            assert translated != template, (code, template)
            names = set(re.findall(r"%\((\w+)\)s", template))
            assert set(re.findall(r"%\((\w+)\)s", translated)) == names, translated


def test_new_pages_render_with_demo_data(client: TestClient) -> None:
    """How fast they render is measured by benchmarks/portal_pages.py, not asserted here."""
    log_in(client)
    pages = [
        "/portal/dids",
        "/portal/dids/5145550100",
        "/portal/test",
        "/portal/test?dialed=5145551234",
        "/portal/test?dialed=011447012345678",
        "/portal/settings/routing",
    ]
    for url in pages:
        assert client.get(url).status_code == 200, url

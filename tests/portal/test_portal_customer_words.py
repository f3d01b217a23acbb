"""No internal key, choice code or ``header:value`` target on a customer's screen: sub accounts
speak of sub accounts, routing is a type plus a target picked by name, codecs and POPs by label,
the history says who in words."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from dialgate.services import accounts, apikeys
from dialgate.services.uow import Database
from tests.portal.test_portal_http import log_in

TAGS = re.compile(r"<[^>]+>")


def visible_text(html: str) -> str:
    """What a reader sees: the page without tags, scripts and attribute values."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(TAGS.sub(" ", html)))


def test_sub_account_page_names_inherited_values_by_label(client: TestClient) -> None:
    log_in(client)
    r = client.get("/portal/subaccounts/office")
    assert r.status_code == 200
    text = visible_text(r.text)
    for code in ("server_default", "(nanp)", "(bleep)", "(ata)", "(yes)", "Main SIP/IAX"):
        assert code not in text, code
    assert "Voicemail Associated to the Main Account" not in text
    assert "Inherit (Server Default)" in text
    assert "Inherit (North America (Recommended))" in text
    assert "Inherit (No Music, Intermittent Bleep)" in text
    assert "Inherit (ATA device, IP Phone or Softphone)" in text
    assert "SIP/IAX Password" in text and "Internal Extension Voicemail" in text
    assert "Inherited from the main account: All codecs" in text
    assert "Inherited from the main account: 3,600 seconds" in text


def test_sub_account_codecs_are_checkboxes_and_inherit_again(
    client: TestClient, demo_db: Database
) -> None:
    token = log_in(client)
    page = client.get("/portal/subaccounts/office").text
    assert 'name="allowed_codecs" value="g729"' in page and "G.722 (HD)" in page
    form = {"csrf_token": token, "allowed_codecs_present": "1"}
    r = client.post("/portal/subaccounts/office", data={**form, "allowed_codecs": ["ulaw", "g729"]})
    assert r.status_code == 200 and 'id="saved"' in r.text
    with demo_db.uow(write=False) as uow:
        view = accounts.show_settings(uow, "100000_office")
    assert view.values["allowed_codecs"] == ("ulaw", "g729")
    # Nothing ticked is refused in words, and nothing changes.
    r = client.post("/portal/subaccounts/office", data=form)
    assert r.status_code == 422 and "choose at least one codec" in r.text
    with demo_db.uow(write=False) as uow:
        assert accounts.show_settings(uow, "100000_office").values["allowed_codecs"] == (
            "ulaw",
            "g729",
        )
    r = client.post("/portal/subaccounts/office", data={**form, "allowed_codecs_inherit": "1"})
    assert r.status_code == 200
    with demo_db.uow(write=False) as uow:
        view = accounts.show_settings(uow, "100000_office")
    assert view.sources["allowed_codecs"] == "main"


def test_default_did_routing_is_a_type_and_a_named_target(
    client: TestClient, demo_db: Database
) -> None:
    token = log_in(client)
    page = client.get("/portal/settings/did_defaults").text
    text = visible_text(page)
    assert "account:" not in text and "vm:1001" not in text and "none:" not in text
    assert "Show Failover Options" in text
    assert "Reception (1001)" in text and "Main account (100000)" in text
    assert "Montreal, QC" in text
    r = client.post(
        "/portal/settings/did_defaults",
        data={
            "csrf_token": token,
            "did_routing_type": "account",
            "did_routing_account": "100000_office",
            "did_failover_busy_type": "sys",
            "did_failover_busy_sys": "hangup",
            "did_failover_unreachable_type": "none",
            "did_failover_noanswer_type": "vm",
            "did_failover_noanswer_vm": "1002",
        },
    )
    assert r.status_code == 200 and 'id="saved"' in r.text
    with demo_db.uow(write=False) as uow:
        values = accounts.show_settings(uow, "100000").values
    assert values["did_routing"] == "account:100000_office"
    assert values["did_failover_busy"] == "sys:hangup"
    assert values["did_failover_noanswer"] == "vm:1002"


def test_pops_are_shown_by_city(client: TestClient) -> None:
    log_in(client)
    text = visible_text(client.get("/portal/settings/security").text)
    assert "Houston, TX" in text and "houston1" not in text


def test_cross_field_errors_are_in_customer_words(client: TestClient, demo_db: Database) -> None:
    token = log_in(client)
    r = client.post(
        "/portal/settings/advanced",
        data={"csrf_token": token, "rtp_timeout": "700", "rtp_hold_timeout": "600"},
    )
    assert r.status_code == 422
    text = visible_text(r.text)
    assert "rtp_timeout" not in text and "rtp_hold_timeout" not in text
    assert "the RTP timeout (700) must be less than or equal to the RTP hold timeout (600)" in text
    r = client.post(
        "/portal/settings/security",
        data={
            "csrf_token": token,
            "ip_restriction_enabled": ["false", "true"],
            "ip_restriction": "",
        },
    )
    assert r.status_code == 422
    assert "list at least one IP address or range while the IP restriction is on" in r.text
    assert "ip_restriction_enabled" not in visible_text(r.text)


def test_history_reads_as_words(client: TestClient, demo_db: Database) -> None:
    token = log_in(client)
    client.post(
        "/portal/settings/routing",
        data={"csrf_token": token, "international_route": "premium"},
    )
    with demo_db.uow() as uow:
        _info, key = apikeys.create_api_key(uow, "100000", name="billing")
        uow.commit()
    r = client.patch(
        "/v1/account/settings",
        json={"allow_411": True},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    text = visible_text(client.get("/portal/history").text)
    assert "You (portal)" in text and "API key 'billing'" in text and "Operator" in text
    assert "portal:100000" not in text and "api:" not in text
    assert "Premium" in text and "premium" not in text
    assert "Sub account office" in text and "Main SIP/IAX Password" not in text
    for raw in ("did did", "routing routing", " true ", "international_route"):
        assert raw not in text, raw

"""Every word a customer reads is in their language: every msgid the portal can show has a French
and a Spanish translation, and every page (errors and Test a number answers included) rendered in
French and Spanish shows none of the English msgids. (The msgids include the notification emails'
(``presentation/``); ``tests/integration/test_notification_words.py`` sends every email in French
and Spanish through a real SMTP server and checks it the same way.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dialgate.services import accounts
from dialgate.services.uow import Database
from tests.portal.test_portal_customer_words import visible_text
from tests.portal.test_portal_http import log_in
from tests.support import msgids

TEST_NUMBERS = (
    "5145551234",  # Canada, allowed
    "011447012345678",  # UK mobile: above the demo's limit once international is on
    "0113314567890",  # France, allowed
    "0114930123456",  # Germany: not in the demo's countries
    "911",
    "8005551234",
    "411",
    "12",
    "abc",
    "*97",
)


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_msgid_has_a_translation(language: str) -> None:
    assert msgids.missing(language) == set()


def _english_phrases(language: str) -> set[str]:
    """The msgids whose translation differs and that are phrases (not a lone word like "SIP"
    that stays the same in every language)."""
    translated = msgids.translated(language)
    return {
        m for m in msgids.all_msgids() if "%(" not in m and " " in m and translated.get(m, m) != m
    }


def _pages(client: TestClient, token: str) -> Iterator[tuple[str, str]]:
    for tab in (
        "routing",
        "restrictions",
        "general",
        "security",
        "inbound",
        "notifications",
        "did_defaults",
        "newsletter",
        "advanced",
    ):
        yield tab, client.get(f"/portal/settings/{tab}").text
    for path in (
        "/portal/subaccounts",
        "/portal/subaccounts/office",
        "/portal/dids",
        "/portal/dids/4385550102",
        "/portal/history",
        "/portal/password",
    ):
        yield path, client.get(path).text
    for number in TEST_NUMBERS:
        yield number, client.get("/portal/test", params={"dialed": number}).text
    yield (
        "test-ip",
        client.get("/portal/test", params={"dialed": "5145551234", "source_ip": "1.2.3"}).text,
    )
    # Refusals, each with its error summary.
    yield (
        "rtp",
        client.post(
            "/portal/settings/advanced",
            data={"csrf_token": token, "rtp_timeout": "700", "rtp_hold_timeout": "600"},
        ).text,
    )
    yield (
        "ip",
        client.post(
            "/portal/settings/security",
            data={
                "csrf_token": token,
                "ip_restriction_enabled": ["false", "true"],
                "ip_restriction": "",
                "pop_restriction_enabled": ["false", "true"],
                "pop_restriction_present": "1",
            },
        ).text,
    )
    yield (
        "money",
        client.post(
            "/portal/settings/notifications",
            data={"csrf_token": token, "balance_threshold": "x"},
        ).text,
    )
    yield (
        "did",
        client.post(
            "/portal/dids/5145550101",
            data={
                "csrf_token": token,
                "routing_type": "vm",
                "routing_vm": "9999",
                "dial_time": "500",
            },
        ).text,
    )
    yield (
        "sub-create",
        client.post(
            "/portal/subaccounts",
            data={"csrf_token": token, "username": "bad name!", "sip_password": "weak"},
        ).text,
    )
    yield (
        "sub-used",
        client.post(
            "/portal/subaccounts",
            data={"csrf_token": token, "username": "office", "sip_password": "GoodPass123"},
        ).text,
    )
    yield (
        "password",
        client.post(
            "/portal/password",
            data={
                "csrf_token": token,
                "current_password": "Wrong12345",
                "new_password": "NewPass1234",
                "confirm_password": "NewPass1234",
            },
        ).text,
    )


def _switch(client: TestClient, token: str, language: str) -> None:
    r = client.post(
        "/portal/language",
        data={"language": language, "csrf_token": token, "next": "/portal/settings/routing"},
    )
    assert r.status_code == 200


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_page_reads_in_the_language_with_no_english_left(
    client: TestClient, demo_db: Database, language: str
) -> None:
    with demo_db.uow() as uow:
        accounts.update_settings(uow, "100000", {"allow_international": "true"}, actor="cli")
        uow.commit()
    token = log_in(client)
    phrases = _english_phrases(language)
    # The check can fail: in English the same pages show many of these phrases.
    english = " ".join(visible_text(html) for _name, html in _pages(client, token))
    shown_in_english = {p for p in phrases if p in english}
    assert len(shown_in_english) > 80, len(shown_in_english)
    _switch(client, token, language)
    leftovers = {}
    for name, html in _pages(client, token):
        assert f'<html lang="{language}">' in html, name
        text = visible_text(html)
        assert "Project-Id-Version" not in text, name  # gettext("") leaks the catalog header
        found = sorted(p for p in shown_in_english if p in text)
        if found:
            leftovers[name] = found
        # No settings key or routing notation leaks either.
        assert not re.search(r"\b(account|vm|sys|none):(\d|\b)", text), (name, text)
    assert leftovers == {}

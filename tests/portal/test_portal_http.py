"""The portal over HTTP (TestClient): sessions, CSRF, lockout, tab saves, i18n catalogs."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from dialgate.domain import settings as s
from dialgate.entrypoints.portal import i18n, web
from dialgate.services import accounts, audit, demo, lookups
from dialgate.services.uow import Database

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, html[:500]
    return match.group(1)


def log_in(client: TestClient, login: str = "100000", password: str = demo.DEMO_PASSWORD) -> str:
    token = csrf_of(client.get("/portal/login").text)
    r = client.post(
        "/portal/login",
        data={"login": login, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/portal/settings/routing").text)


def test_pages_require_a_session(client: TestClient) -> None:
    r = client.get("/portal/settings/routing", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal/login"
    r = client.get("/portal/history", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.headers["HX-Redirect"] == "/portal/login"


def test_session_cookie_is_httponly_lax_and_secure_behind_tls(client: TestClient) -> None:
    token = csrf_of(client.get("/portal/login").text)
    r = client.post(
        "/portal/login",
        data={"login": "demo@example.com", "password": demo.DEMO_PASSWORD, "csrf_token": token},
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("dg_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie


def test_session_cookie_is_not_secure_on_plain_http(client: TestClient) -> None:
    token = csrf_of(client.get("/portal/login").text)
    r = client.post(
        "/portal/login",
        data={"login": "100000", "password": demo.DEMO_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("dg_session="))
    assert "Secure" not in cookie


def test_session_id_is_stored_only_hashed(client: TestClient, demo_db: Database) -> None:
    log_in(client)
    raw = client.cookies["dg_session"]
    from dialgate.adapters.db.models import PortalSessionRow

    with demo_db.uow(write=False) as uow:
        ids = [row.id_hash for row in uow.session.query(PortalSessionRow)]
    assert raw not in ids and len(ids) == 1


def test_post_without_csrf_token_is_rejected_and_changes_nothing(
    client: TestClient, demo_db: Database
) -> None:
    log_in(client)
    r = client.post("/portal/settings/advanced", data={"nat": "never"})
    assert r.status_code == 403
    r = client.post("/portal/settings/advanced", data={"nat": "never", "csrf_token": "forged"})
    assert r.status_code == 403
    with demo_db.uow(write=False) as uow:
        assert accounts.show_settings(uow, "100000").values["nat"] == "yes"


def test_login_post_without_login_csrf_is_rejected(client: TestClient) -> None:
    r = client.post("/portal/login", data={"login": "100000", "password": demo.DEMO_PASSWORD})
    assert r.status_code == 403


def test_a_tab_saves_its_fields_and_records_history(client: TestClient, demo_db: Database) -> None:
    csrf = log_in(client)
    r = client.post(
        "/portal/settings/advanced",
        data={"csrf_token": csrf, "nat": "route", "rtp_timeout": "30"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and 'id="saved"' in r.text
    assert "<html" not in r.text  # htmx gets only the tab panel
    with demo_db.uow(write=False) as uow:
        assert accounts.show_settings(uow, "100000").values["nat"] == "route"
        keys = [e.key for e in audit.settings_history(uow, "100000", tab="advanced")]
    assert {"nat", "rtp_timeout"} <= set(keys)
    history = client.get("/portal/history?tab=advanced").text
    assert 'data-key="nat"' in history and 'data-key="voicemail"' not in history


def test_invalid_value_shows_field_error_keeps_input_and_saves_nothing(
    client: TestClient, demo_db: Database
) -> None:
    csrf = log_in(client)
    r = client.post(
        "/portal/settings/restrictions",
        data={
            "csrf_token": csrf,
            "max_call_time_domestic": "5",
            "international_max_rate": "0.25",
            "allow_411": ["false", "true"],
        },
    )
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text and 'role="alert"' in r.text
    assert "must be between 60 and 86400 seconds" in r.text
    assert 'value="0.25"' in r.text and 'value="5"' in r.text  # what the user typed stays
    with demo_db.uow(write=False) as uow:
        values = accounts.show_settings(uow, "100000").values
    assert values["allow_411"] is False and str(values["international_max_rate"]) == "0.15"


def test_unticking_every_country_is_an_error_not_a_reset_to_all(
    client: TestClient, demo_db: Database
) -> None:
    csrf = log_in(client)
    r = client.post(
        "/portal/settings/restrictions",
        data={"csrf_token": csrf, "allowed_countries_present": "1"},
    )
    assert r.status_code == 422
    with demo_db.uow(write=False) as uow:
        assert accounts.show_settings(uow, "100000").values["allowed_countries"] == (
            "FR",
            "GB",
            "JM",
            "MX",
        )


def test_empty_secret_field_leaves_the_password_unchanged(client: TestClient) -> None:
    csrf = log_in(client)
    r = client.post(
        "/portal/settings/security",
        data={"csrf_token": csrf, "sip_password": "", "ip_restriction_enabled": "false"},
    )
    assert r.status_code == 200


def test_logout_ends_the_session_server_side(client: TestClient) -> None:
    csrf = log_in(client)
    stolen = client.cookies["dg_session"]
    r = client.post("/portal/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set("dg_session", stolen)
    assert client.get("/portal/settings/routing", follow_redirects=False).status_code == 303


def test_change_password_needs_the_current_one(client: TestClient) -> None:
    csrf = log_in(client)
    bad = client.post(
        "/portal/password",
        data={
            "csrf_token": csrf,
            "current_password": "wrong",
            "new_password": "NewPass1234",
            "confirm_password": "NewPass1234",
        },
    )
    assert bad.status_code == 422 and "current password is wrong" in bad.text
    ok = client.post(
        "/portal/password",
        data={
            "csrf_token": csrf,
            "current_password": demo.DEMO_PASSWORD,
            "new_password": "NewPass1234",
            "confirm_password": "NewPass1234",
        },
    )
    assert ok.status_code == 200
    client.cookies.clear()
    log_in(client, password="NewPass1234")


def test_language_is_remembered_per_user_and_translates_pages(
    client: TestClient, demo_db: Database
) -> None:
    csrf = log_in(client)
    r = client.post(
        "/portal/language",
        data={"csrf_token": csrf, "language": "fr", "next": "https://evil.test/"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/portal/settings"  # never an open redirect
    page = client.get("/portal/settings/restrictions").text
    assert "Restrictions du compte" in page and "Royaume-Uni" in page
    with demo_db.uow(write=False) as uow:
        assert lookups.get_account(uow, "100000").language == "fr"


def test_changing_language_returns_to_the_same_page_with_its_query(client: TestClient) -> None:
    csrf = log_in(client)
    page = client.get("/portal/test", params={"dialed": "5145551234"}).text
    found = re.search(r'name="next" value="([^"]*)"', page)
    assert found is not None
    back = html.unescape(found.group(1))
    assert back == "/portal/test?dialed=5145551234"
    r = client.post("/portal/language", follow_redirects=False,
                    data={"csrf_token": csrf, "language": "es", "next": back})
    assert r.headers["location"] == "/portal/test?dialed=5145551234"
    assert 'lang="es"' in client.get(r.headers["location"]).text


def test_sub_account_create_override_inherit_and_delete(
    client: TestClient, demo_db: Database
) -> None:
    csrf = log_in(client)
    r = client.post(
        "/portal/subaccounts",
        data={"csrf_token": csrf, "username": "lab", "sip_password": "LabPass123"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        "/portal/subaccounts/lab", data={"csrf_token": csrf, "nat": "never", "dtmf_mode": ""}
    )
    assert r.status_code == 200
    with demo_db.uow(write=False) as uow:
        view = accounts.show_settings(uow, "100000_lab")
    assert view.values["nat"] == "never" and view.sources["nat"] == "override"
    assert view.sources["dtmf_mode"] == "main"
    client.post("/portal/subaccounts/lab", data={"csrf_token": csrf, "nat": ""})
    with demo_db.uow(write=False) as uow:
        assert accounts.show_settings(uow, "100000_lab").sources["nat"] == "main"
    r = client.post(
        "/portal/subaccounts/lab/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert client.get("/portal/subaccounts/lab").status_code == 404


def _catalog_msgids() -> set[str]:
    ids = {spec.label for spec in (*s.SPECS, s.DESCRIPTION_SPEC)}
    ids |= {spec.help for spec in s.SPECS}
    ids |= {label for spec in s.SPECS for label in (spec.choices or {}).values()}
    ids |= set(s.TAB_TITLES.values()) | {item.title for item in web.NAV}
    return ids


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_setting_label_help_and_choice_is_translated(language: str) -> None:
    po = i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with Path(po).open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id for m in catalog if m.id and m.string}
    missing = _catalog_msgids() - translated
    assert not missing, missing


def test_every_tab_renders_with_demo_data(client: TestClient) -> None:
    """How fast they render is measured by benchmarks/portal_pages.py, not asserted here."""
    log_in(client)
    for tab in s.Tab:
        assert client.get(f"/portal/settings/{tab.value}").status_code == 200, tab

"""The portal in a real browser: every tab saves and refuses bad values, the country picker,
sub accounts, languages, CSRF and login throttling. Screenshots go to var/screenshots/."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from dialgate.domain import settings as s
from dialgate.services import accounts, demo
from dialgate.services.uow import Database
from tests.e2e.portal.conftest import (
    LOCK_ACCOUNT,
    LOCK_PASSWORD,
    _free_port,
    log_in,
    screenshot,
)
from tests.support.server import running_server

pytestmark = pytest.mark.e2e

# tab -> (key, how to change it in the page, the stored value expected)
GOOD: dict[str, tuple[str, str, Any]] = {
    "routing": ("canada_route", "premium", "premium"),
    "restrictions": ("allow_411", "check", True),
    "general": ("music_on_hold", "spa_sounds", "spa_sounds"),
    "security": ("ip_restriction", "203.0.113.0/24", ("203.0.113.0/24",)),
    "inbound": ("device_type", "pbx", "pbx"),
    "notifications": ("balance_threshold", "10", None),
    "did_defaults": ("did_pop", "toronto1", "toronto1"),
    "newsletter": ("newsletter", "check", True),
    "advanced": ("dtmf_mode", "info", "info"),
}

# tab -> (key, bad value, a piece of the rule shown); "inject:" forges a select option
BAD: dict[str, tuple[str, str, str]] = {
    "routing": ("canada_route", "inject:bogus", "choose one of the options offered"),
    "restrictions": ("max_call_time_domestic", "5", "between 60 and 86400"),
    "general": ("callerid_number", "123", "must be a 10-digit North American number"),
    "security": ("sip_password", "weak", "at least 8 characters"),
    "inbound": ("device_type", "inject:fax", "choose one of the options offered"),
    "notifications": ("balance_threshold", "500", "between 1 and 200"),
    "did_defaults": ("did_routing", "target:vm:9999", "does not exist on your account"),
    "newsletter": ("newsletter", "inject:maybe", "must be true/false"),
    "advanced": ("rtp_timeout", "700", "less than or equal to the RTP hold timeout (600)"),
}


def settings_of(db: Database, subject: str = demo.DEMO_ACCOUNT) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        return accounts.show_settings(uow, subject).values


def set_field(page: Page, key: str, value: str) -> None:
    if value.startswith("target:"):  # a routing picker: its type, then a forged target
        kind, _sep, ref = value.removeprefix("target:").partition(":")
        page.locator(f"#f-{key}_type").select_option(kind)
        page.locator(f"#f-{key}_{kind}").evaluate(
            f"el => {{ el.add(new Option('{ref}', '{ref}', true, true)); }}"
        )
        return
    field = page.locator(f"#f-{key}")
    tag = field.evaluate("el => el.tagName.toLowerCase() + ':' + (el.type || '')")
    if value.startswith("inject:"):
        forged = value.removeprefix("inject:")
        if tag.startswith("select"):
            field.evaluate(f"el => {{ el.add(new Option('{forged}', '{forged}', true, true)); }}")
        else:
            field.evaluate(f"el => {{ el.value = '{forged}'; el.checked = true; }}")
    elif value == "check":
        field.check()
    elif tag.startswith("select"):
        field.select_option(value)
    else:
        field.fill(value)


def test_each_tab_saves_persists_and_appears_in_history(page: Page, e2e_db: Database) -> None:
    log_in(page)
    for tab, (key, change, expected) in GOOD.items():
        page.goto(f"/portal/settings/{tab}")
        expect(page.locator("nav.tabs [aria-current=page]")).to_have_text(s.TAB_TITLES[s.Tab(tab)])
        set_field(page, key, change)
        page.locator("#tab-panel").get_by_role("button", name="Save").click()
        expect(page.locator("#saved")).to_be_visible()
        stored = settings_of(e2e_db)[key]
        if key == "balance_threshold":
            assert str(stored) == "10"
        else:
            assert stored == expected, (tab, key, stored)
        page.reload()
        field = page.locator(f"#f-{key}")
        if change == "check":
            expect(field).to_be_checked()
        else:
            expect(field).to_have_value(change)
        for spec in s.SPECS:
            if spec.tab == s.Tab(tab) and spec.key != "portal_password":
                expect(page.locator(f"#f-{spec.key}-help")).to_have_text(spec.help)
        screenshot(page, f"settings-{tab}")
        page.goto(f"/portal/history?tab={tab}")
        expect(page.locator(f"#history-rows tr[data-key={key}]").first).to_be_visible()


def test_invalid_value_on_each_tab_shows_the_rule_and_saves_nothing(
    page: Page, e2e_db: Database
) -> None:
    log_in(page)
    for tab, (key, bad, rule) in BAD.items():
        before = settings_of(e2e_db)
        page.goto(f"/portal/settings/{tab}")
        set_field(page, key, bad)
        page.locator("#tab-panel").get_by_role("button", name="Save").click()
        field = page.locator(f"#f-{key}")
        invalid = page.locator(f"#f-{key}_type") if bad.startswith("target:") else field
        expect(invalid).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"#f-{key}-error")).to_contain_text(rule)
        expect(page.get_by_role("alert")).to_be_visible()
        assert f"f-{key}-error" in (field.get_attribute("aria-describedby") or "")
        if not bad.startswith(("inject:", "target:")) and key != "sip_password":
            expect(field).to_have_value(bad)  # what the user typed is still there
        assert settings_of(e2e_db) == before, tab
        screenshot(page, f"invalid-{tab}")


def test_pick_countries_by_region_and_by_search(page: Page, e2e_db: Database) -> None:
    log_in(page)
    page.goto("/portal/settings/restrictions")
    warning = page.locator("#intl-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("no effect until international calls are allowed")
    page.locator("#f-allow_international").check()
    expect(warning).to_be_hidden()
    page.locator("#f-allow_international").uncheck()
    expect(warning).to_be_visible()

    oceania = page.locator("details[data-region=Oceania]")
    oceania.locator("summary").click()
    oceania.get_by_label(re.compile("Select All")).check()
    page.get_by_label("Search Country").fill("japan")
    japan = page.get_by_role("checkbox", name=re.compile(r"^Japan"))
    expect(japan).to_be_visible()
    expect(page.locator("details[data-region=Europe]")).to_be_hidden()
    japan.check()
    expect(page.locator("#countries-summary")).to_contain_text("Japan")
    expect(page.locator("#countries-summary")).to_contain_text("Australia")
    screenshot(page, "countries-picker")
    page.locator("#tab-panel").get_by_role("button", name="Save").click()
    expect(page.locator("#saved")).to_be_visible()
    chosen = set(settings_of(e2e_db)["allowed_countries"])
    assert {"JP", "AU", "NZ", "FJ", "GB", "FR"} <= chosen
    assert "DE" not in chosen


def test_create_and_edit_a_sub_account(page: Page, e2e_db: Database) -> None:
    log_in(page)
    page.goto("/portal/subaccounts")
    expect(page.locator("#sub-office")).to_contain_text("Front office phone")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("SIP/IAX Password").fill("BobPass1234")
    page.get_by_label("Description").fill("Bob's desk")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/portal/subaccounts/bob?created=1")
    expect(page.locator("#created")).to_contain_text("100000_bob")
    expect(page.get_by_role("heading", level=1)).to_contain_text("100000_bob")
    expect(page.locator("#f-nat option[value='']")).to_contain_text("Inherit")
    page.locator("#f-nat").select_option("never")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#saved")).to_be_visible()
    with e2e_db.uow(write=False) as uow:
        view = accounts.show_settings(uow, "100000_bob")
    assert view.values["description"] == "Bob's desk"
    assert view.sources["nat"] == "override" and view.values["nat"] == "never"
    screenshot(page, "subaccount-edit")


def test_switch_to_french_and_spanish(page: Page, e2e_db: Database) -> None:
    log_in(page)
    try:
        page.get_by_role("button", name="Français").click()
        page.wait_for_url("**/portal/settings/routing")
        tabs = page.locator("nav.tabs a")
        expect(tabs.nth(1)).to_have_text("Restrictions du compte")
        expect(tabs.nth(6)).to_have_text("Acheminement DID par défaut")
        page.goto("/portal/settings/restrictions")
        expect(page.locator("#country-regions")).to_contain_text("Royaume-Uni")
        expect(page.locator("details[data-region=Europe] summary")).to_contain_text("Europe")
        screenshot(page, "settings-restrictions-fr")
        page.get_by_role("button", name="Español").click()
        page.wait_for_url("**/portal/settings/restrictions")
        expect(page.locator("nav.tabs a").nth(1)).to_have_text("Restricciones de la cuenta")
        expect(page.locator("#country-regions")).to_contain_text("Reino Unido")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        screenshot(page, "settings-restrictions-es")
        # Remembered per user: a new browser session comes back in Spanish.
        page.context.clear_cookies()
        page.goto("/portal/login")  # no language picked here: the saved one is used
        page.locator("#login").fill(demo.DEMO_ACCOUNT)
        page.locator("#password").fill(demo.DEMO_PASSWORD)
        page.locator("form button[type=submit]").click()
        page.wait_for_url("**/portal/settings/routing")
        expect(page.locator("nav.tabs a").first).to_have_text("Enrutamiento de la cuenta")
    finally:
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()


def test_forged_post_without_csrf_token_is_refused(
    page: Page, base_url: str, e2e_db: Database
) -> None:
    log_in(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "dg_session")
    request = urllib.request.Request(
        f"{base_url}/portal/settings/advanced",
        data=b"nat=never",
        headers={
            "Cookie": f"dg_session={cookie['value']}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    caught.value.close()
    assert caught.value.code == 403
    assert settings_of(e2e_db)["nat"] != "never"


def test_repeated_bad_passwords_throttle_the_source_not_the_account(
    browser: Any, page: Page, e2e_db_url: str, tmp_path: Path
) -> None:
    # A server of its own: its throttles must not touch the other tests' logins.
    with running_server(e2e_db_url, _free_port(), tmp_path / "server.log") as url:
        context = browser.new_context(base_url=url)
        guesser = context.new_page()
        guesser.goto("/portal/login?lang=en")
        for _ in range(10):
            guesser.get_by_label("Account number or email").fill(LOCK_ACCOUNT)
            guesser.get_by_label("Password").fill("WrongPass999")
            guesser.get_by_role("button", name="Log in").click()
            expect(guesser.get_by_role("alert")).to_contain_text("Wrong account number")
        guesser.get_by_label("Password").fill(LOCK_PASSWORD)
        guesser.get_by_role("button", name="Log in").click()
        expect(guesser.get_by_role("alert")).to_contain_text("Too many login attempts")
        screenshot(guesser, "login-throttled")
        context.close()
    # The account itself is not locked: its owner, coming from elsewhere, logs in.
    log_in(page, LOCK_ACCOUNT, LOCK_PASSWORD)


def test_phone_width_layout_has_no_horizontal_scroll(browser: Any, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    log_in(page)
    page.goto("/portal/settings/restrictions")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    screenshot(page, "phone-restrictions")
    context.close()


def test_country_search_by_calling_code_and_select_all_of_what_is_shown(
    page: Page, e2e_db: Database
) -> None:
    log_in(page)
    page.goto("/portal/settings/restrictions")
    search = page.get_by_label("Search Country")
    for query in ("44", "+44"):
        search.fill(query)
        expect(page.get_by_role("checkbox", name=re.compile(r"^United Kingdom"))).to_be_visible()
        expect(page.get_by_role("checkbox", name=re.compile(r"^Angola"))).to_be_hidden()  # +244
    search.fill("niger")
    africa = page.locator("details[data-region=Africa]")
    africa.get_by_label(re.compile("Select All")).check()
    search.fill("")
    ticked = africa.locator("li input[type=checkbox]:checked")
    expect(ticked).to_have_count(2)  # Niger and Nigeria, not the 59 hidden ones
    names = sorted(ticked.evaluate_all("boxes => boxes.map(b => b.value)"))
    assert names == ["NE", "NG"], names

"""Accessibility: axe-core finds no serious or critical violation on any portal page in English,
French or Spanish; the settings tabs, the countries picker and Test a number work with the
keyboard alone; pages fit 360 px and keep the tab strip on one line at 1366 px."""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from dialgate.domain import settings as s
from tests.e2e.portal.conftest import log_in, screenshot

pytestmark = pytest.mark.e2e

PAGES = [
    *(f"/portal/settings/{tab.value}" for tab in s.Tab),
    "/portal/subaccounts",
    "/portal/subaccounts/office",
    "/portal/dids",
    "/portal/dids/4385550102",
    "/portal/test?dialed=011447012345678",
    "/portal/test?dialed=5145551234",
    "/portal/history",
    "/portal/password",
]
SERIOUS = {"serious", "critical"}


def serious_violations(page: Page, axe: Axe) -> list[str]:
    results = axe.run(page)
    assert results.response["passes"], "axe checked nothing"
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def _language(page: Page, name: str) -> None:
    page.get_by_role("button", name=name).click()
    page.wait_for_load_state()


@pytest.mark.parametrize("language", ["English", "Français", "Español"])
def test_no_serious_axe_violation_on_any_page(page: Page, language: str) -> None:
    axe = Axe()
    page.goto("/portal/login")
    found = {"/portal/login": serious_violations(page, axe)}
    log_in(page)
    try:
        _language(page, language)
        for path in PAGES:
            page.goto(path)
            found[path] = serious_violations(page, axe)
        # An error summary too.
        page.goto("/portal/settings/advanced")
        page.locator("#f-rtp_timeout").fill("700")
        page.locator("#tab-panel button[type=submit]").click()
        expect(page.locator("#error-summary")).to_be_visible()
        found["advanced (errors)"] = serious_violations(page, axe)
    finally:
        _language(page, "English")
    assert {path: v for path, v in found.items() if v} == {}


def test_settings_tabs_by_keyboard(page: Page) -> None:
    log_in(page)
    page.locator("#tab-routing").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#tab-restrictions")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/settings/restrictions")
    expect(page.locator("nav.tabs [aria-current=page]")).to_have_text("Account Restrictions")


def test_countries_picker_by_keyboard(page: Page) -> None:
    log_in(page)
    page.goto("/portal/settings/restrictions")
    page.locator("#countries-all").focus()
    # From "All countries" the next stop is the search box.
    page.keyboard.press("Tab")
    expect(page.locator("#country-search")).to_be_focused()
    page.keyboard.type("japan")
    page.keyboard.press("Enter")  # must not submit the tab
    expect(page.locator("#saved")).to_have_count(0)
    # Tab to Asia's summary, open it, then to its Select All and to Japan.
    page.keyboard.press("Tab")
    expect(page.locator("details[data-region=Asia] summary")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    japan = page.get_by_role("checkbox", name=re.compile(r"^Japan"))
    expect(japan).to_be_focused()
    page.keyboard.press("Space")
    expect(japan).to_be_checked()
    expect(page.locator("#countries-summary")).to_contain_text("Japan")


def test_test_a_number_by_keyboard(page: Page) -> None:
    log_in(page)
    page.goto("/portal/test")
    page.locator("#main").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#f-dialed")).to_be_focused()
    page.keyboard.type("5145551234")
    page.keyboard.press("Enter")
    expect(page.locator("#decision h2")).to_have_text(re.compile("Allowed"))


@pytest.mark.parametrize("width", [360, 1366])
def test_pages_fit_the_width_and_tabs_stay_on_one_line(
    browser: Any, base_url: str, width: int
) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        log_in(page)
        for language in ("English", "Français"):
            _language(page, language)
            for path in (
                "/portal/settings/restrictions",
                "/portal/settings/did_defaults",
                "/portal/test?dialed=011447012345678",
                "/portal/history",
            ):
                page.goto(path)
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, (language, path, scroll)
            page.goto("/portal/settings/routing")
            tabs = page.locator("nav.tabs a")
            tops = {round(t) for t in tabs.evaluate_all("els => els.map(e => e.offsetTop)")}
            assert len(tops) == 1, (language, tops)  # one line, never wrapped
            screenshot(page, f"width-{width}-{'en' if language == 'English' else 'fr'}")
        _language(page, "English")
    finally:
        context.close()

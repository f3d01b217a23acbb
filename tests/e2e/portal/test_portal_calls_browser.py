"""Test a number, DID numbers, the balance and French rule messages in a real browser.
Screenshots go to var/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from dialgate.services import accounts, demo, dids
from dialgate.services.uow import Database
from tests.e2e.portal.conftest import log_in, screenshot

pytestmark = pytest.mark.e2e


def _set(db: Database, changes: dict[str, str]) -> None:
    with db.uow() as uow:
        accounts.update_settings(uow, demo.DEMO_ACCOUNT, changes, actor="test")
        uow.commit()


def _did(db: Database, number: str) -> dict[str, object]:
    with db.uow(write=False) as uow:
        row = dids.get_did(uow, number, account=demo.DEMO_ACCOUNT)
        return dids.view(demo.DEMO_ACCOUNT, row).values


def test_international_number_is_denied_with_its_trace(page: Page, e2e_db: Database) -> None:
    _set(e2e_db, {"allow_international": "false"})
    log_in(page)
    page.get_by_role("link", name="Test a number").click()
    page.get_by_label("Number to dial").fill("011447012345678")
    page.get_by_role("button", name="Test").click()
    decision = page.locator("#decision")
    expect(decision.get_by_role("heading", level=2)).to_have_text(re.compile("Not allowed"))
    expect(page.locator("#decision")).to_have_attribute("data-reason", "international_disabled")
    expect(page.locator("#decision-reason")).to_contain_text("International calls are disabled")
    expect(page.locator("#d-destination")).to_contain_text("United Kingdom")
    refused = page.locator("#trace tr.outcome-deny")
    expect(refused).to_have_count(1)
    expect(refused.locator("th")).to_have_text("International calls")
    expect(page.locator("#trace tbody tr").first.locator("th")).to_have_text("Account")
    expect(page.get_by_label("Number to dial")).to_have_value("011447012345678")
    screenshot(page, "test-number-denied")


def test_canadian_number_is_allowed_with_route_rate_and_duration(
    page: Page, e2e_db: Database
) -> None:
    _set(e2e_db, {"canada_route": "value"})  # other tests share this account
    log_in(page)
    page.goto("/portal/test")
    page.get_by_label("Number to dial").fill("5145551234")
    page.get_by_label("POP (optional)").select_option("montreal1")
    page.get_by_role("button", name="Test").click()
    expect(page.locator("#decision h2")).to_have_text(re.compile("Allowed"))
    expect(page.locator("#decision")).to_have_attribute("data-reason", "ok")
    expect(page.locator("#d-route")).to_have_text("Value")
    expect(page.locator("#d-rate")).to_have_text(re.compile(r"^\$0\.\d{4} per minute"))
    expect(page.locator("#d-max")).to_contain_text(":")
    expect(page.locator("#d-callerid")).to_contain_text("not guaranteed")
    expect(page.locator("#trace tr.outcome-deny")).to_have_count(0)
    screenshot(page, "test-number-allowed")


def test_invalid_source_ip_is_shown_next_to_the_field(page: Page) -> None:
    log_in(page)
    page.goto("/portal/test")
    page.get_by_label("Number to dial").fill("5145551234")
    page.get_by_label("Source IP address (optional)").fill("10.0.0.999")
    page.get_by_role("button", name="Test").click()
    field = page.locator("#f-source_ip")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-source_ip-error")).to_contain_text("IPv4 or IPv6")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#decision")).to_have_count(0)


def test_edit_a_dids_routing_and_see_it_persisted(page: Page, e2e_db: Database) -> None:
    log_in(page)
    page.get_by_role("link", name="DID Numbers").click()
    expect(page.locator("#did-4385550102")).to_contain_text("Main menu (1)")
    expect(page.locator("#did-4385550102")).to_contain_text("Montreal, QC")
    expect(page.locator("#did-defaults-note a")).to_have_attribute(
        "href", "/portal/settings/did_defaults"
    )
    screenshot(page, "dids")
    page.get_by_role("link", name="Edit 4385550102").click()
    page.locator("#f-routing_type").select_option("queue")
    expect(page.locator("#f-routing_ivr")).to_be_hidden()  # only the chosen type's list
    page.locator("#f-routing_queue").select_option("1")
    page.get_by_text("Show Failover Options").click()
    page.locator("#f-failover_busy_type").select_option("sys")
    page.locator("#f-failover_busy_sys").select_option(label="Busy signal")
    page.get_by_label("DID POP").select_option("vancouver1")
    page.get_by_label("Dial time").fill("40")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#saved")).to_be_visible()
    values = _did(e2e_db, "4385550102")
    assert (values["routing"], values["failover_busy"], values["pop"], values["dial_time"]) == (
        "queue:1",
        "sys:busy",
        "vancouver1",
        40,
    )
    page.reload()
    expect(page.locator("#f-routing_type")).to_have_value("queue")
    screenshot(page, "did-edit")
    page.goto("/portal/dids")
    expect(page.locator("#did-4385550102")).to_contain_text("Calling queue: Support queue (1)")
    expect(page.locator("#did-4385550102")).to_contain_text("Vancouver, BC")


def test_french_invalid_did_value_shows_a_french_error(page: Page, e2e_db: Database) -> None:
    before = _did(e2e_db, "5145550101")
    log_in(page)
    try:
        page.get_by_role("button", name="Français").click()
        page.wait_for_url("**/portal/settings/routing")
        expect(page.locator("#balance")).to_contain_text("Solde")
        page.goto("/portal/dids/5145550101")
        page.get_by_label("Durée de sonnerie").fill("500")
        page.get_by_role("button", name="Enregistrer").click()
        error = page.locator("#f-dial_time-error")
        expect(error).to_have_text("doit être entre 5 et 120 secondes ; reçu 500")
        expect(page.locator("#f-dial_time")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#f-dial_time")).to_have_value("500")
        assert _did(e2e_db, "5145550101") == before
        screenshot(page, "did-invalid-fr")
        page.goto("/portal/test?dialed=011447012345678")
        expect(page.locator("#trace")).to_contain_text("Normaliser le numéro")
        screenshot(page, "test-number-fr")
    finally:
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()


def test_settings_page_shows_the_balance(page: Page) -> None:
    log_in(page)
    expect(page.locator("#balance-amount")).to_have_text(re.compile(r"^\$\d+\.\d\d"))


@pytest.mark.parametrize(
    "url", ["/portal/test?dialed=5145551234", "/portal/dids", "/portal/dids/5145550100"]
)
def test_new_pages_fit_a_phone_screen(browser: Any, base_url: str, url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        log_in(page)
        page.goto(url)
        # Wide tables scroll inside their own box; the page itself must not.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (url, width)
    finally:
        context.close()

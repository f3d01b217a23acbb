"""Call History and Balance & Transactions in a real browser: filters, totals, the inline SVG
chart under the portal's CSP (the page fixture fails on any CSP report or script error), pages
and the CSV downloads. Screenshots go to var/screenshots/."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dialgate.services.uow import Database
from tests.e2e.portal.conftest import log_in, screenshot
from tests.support.history_seed import seed_history

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def seeded(e2e_db: Database) -> Database:
    seed_history(e2e_db)  # May 2024: the other browser tests never look there
    return e2e_db


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_call_history_filters_totals_chart_and_csv(page: Page, seeded: Database) -> None:
    log_in(page)
    page.get_by_role("link", name="Call History").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Call History")
    page.get_by_label("From").fill("2024-05-01")
    page.get_by_label("To").fill("2024-05-31")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#calls tbody tr")).to_have_count(6)
    expect(page.locator("#total-calls")).to_have_text("6")
    expect(page.locator("#total-cost")).to_have_text("$0.05")
    chart = page.locator("svg#calls-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar")).to_have_count(31)
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    screenshot(page, "call-history")

    page.get_by_label("Account", exact=True).select_option("100000_office")
    page.get_by_label("Busy").check()
    page.get_by_label("No answer").check()
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#calls tbody tr")).to_have_count(2)
    expect(page.locator("#total-calls")).to_have_text("2")
    assert "disposition=busy" in page.url and "account=100000_office" in page.url
    with page.expect_download() as download:
        page.locator("#calls-csv").click()
    rows = _csv(Path(download.value.path()))
    assert [r["call_id"] for r in rows] == ["h4", "h2"]
    assert {r["disposition"] for r in rows} == {"busy", "noanswer"}


def test_call_history_explains_a_bad_filter(page: Page, seeded: Database) -> None:
    log_in(page)
    page.goto("/portal/calls?from=2024-05-01&to=2024-05-31")
    page.get_by_label("Destination search").fill("hello")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("Destination search: must be 1 to 32 digits")
    expect(page.locator("#calls")).to_have_count(0)


def test_balance_and_transactions_with_csv(page: Page, seeded: Database) -> None:
    log_in(page)
    page.get_by_role("link", name="Balance & Transactions").click()
    expect(page.locator("#current-balance-amount")).to_have_text(re.compile(r"^\$\d+\.\d\d"))
    page.get_by_label("From").fill("2024-05-01")
    page.get_by_label("To").fill("2024-05-31")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#transactions tbody tr")).to_have_count(3)
    expect(page.locator("#total-deposits")).to_have_text("$10.00")
    expect(page.locator("#total-charges")).to_have_text("$0.05")
    expect(page.locator("svg#balance-chart")).to_be_visible()
    screenshot(page, "balance-transactions")
    with page.expect_download() as download:
        page.locator("#balance-csv").click()
    rows = _csv(Path(download.value.path()))
    assert sorted(r["type"] for r in rows) == ["call", "call", "deposit"]


def test_call_history_in_spanish(page: Page, seeded: Database) -> None:
    log_in(page)
    page.goto("/portal/calls")
    page.get_by_role("button", name="Español").click()
    try:
        # the language switch keeps the page, not its filter
        page.goto("/portal/calls?from=2024-05-01&to=2024-05-31")
        expect(page.get_by_role("heading", level=1)).to_have_text("Historial de llamadas")
        expect(page.locator("#total-cost")).to_contain_text("0,05")
        expect(page.locator("#calls thead")).to_contain_text("Resultado")
        expect(page.locator("svg#calls-chart title").first).to_have_text(
            "Llamadas y gasto por día"
        )
    finally:
        page.get_by_role("button", name="English").click()  # the language is the account's
    expect(page.get_by_role("heading", level=1)).to_have_text("Call History")

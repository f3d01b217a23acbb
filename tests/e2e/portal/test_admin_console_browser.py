"""The operator console in a real browser: an admin logs in with a password and a TOTP code
computed here from the enrolled secret, creates an account, suspends it with a reason (the
customer then sees the suspension at the portal's log-in), restores it and deposits money; the
audit log names the operator. Screenshots go to var/screenshots/."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pyotp
import pytest
from playwright.sync_api import Page, expect

from dialgate.services import operators
from dialgate.services.uow import Database
from tests.e2e.portal.conftest import screenshot

pytestmark = pytest.mark.e2e
PASSWORD = "Operator-pass-123"


@pytest.fixture(scope="module")
def admin_secret(e2e_db: Database) -> str:
    with e2e_db.uow() as uow:
        _row, secret = operators.create_operator(uow, "root@provider.test", "admin", PASSWORD)
        operators.create_operator(uow, "desk@provider.test", "support", PASSWORD)
        uow.commit()
    assert secret is not None
    return secret


def fresh_code(db: Database, email: str, secret: str) -> str:
    """The app's current code once it is one not used yet: a code logs in once, so a second
    log-in in the same 30 s step waits for the next step, as a person would."""
    totp = pyotp.TOTP(secret)
    deadline = time.monotonic() + 2 * totp.interval + 5
    while True:
        with db.uow(write=False) as uow:
            row = operators.find(uow, email)
            assert row is not None
            last = row.totp_last_step
        if last is None or totp.timecode(datetime.now(UTC)) > last:
            return totp.now()
        assert time.monotonic() < deadline, "no new TOTP step"
        time.sleep(0.2)


def console_login(page: Page, email: str, secret: str | None, db: Database) -> None:
    page.goto("/admin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if secret is not None:
        page.wait_for_url("**/admin/totp")
        page.get_by_label("Code").fill(fresh_code(db, email, secret))
        page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/admin/accounts")


def test_admin_needs_the_totp_code(page: Page, admin_secret: str, e2e_db: Database) -> None:
    page.goto("/admin/login")
    page.get_by_label("Email").fill("root@provider.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/totp")
    page.goto("/admin/accounts")  # not yet: the code is still due
    page.wait_for_url("**/admin/totp")
    page.get_by_label("Code").fill("000000" if pyotp.TOTP(admin_secret).now() != "000000"
                                   else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email, password or code")
    page.get_by_label("Code").fill(fresh_code(e2e_db, "root@provider.test", admin_secret))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/admin/accounts")
    expect(page.locator("#operator")).to_have_text("root@provider.test (admin)")


def test_create_suspend_restore_and_deposit(page: Page, browser, base_url: str,
                                            admin_secret: str, e2e_db: Database) -> None:
    console_login(page, "root@provider.test", admin_secret, e2e_db)
    form = page.locator("#create-account")
    form.get_by_label("Account number").fill("300001")
    form.get_by_label("Customer email").fill("carol@example.com")
    form.get_by_label("Portal password").fill("Carol-pass-123")
    form.get_by_label("Language").select_option("fr")
    form.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/admin/accounts/300001?done=created")
    expect(page.locator("#status")).to_have_text("active")

    page.get_by_label("Reason for suspending").fill("chargeback 991")
    page.get_by_role("button", name="Suspend").click()
    page.wait_for_url(re.compile(r".*/admin/accounts/300001\?done=suspended"))
    expect(page.locator("#status")).to_have_text("suspended (chargeback 991)")
    screenshot(page, "admin-account-suspended")

    # the customer is told at the portal's log-in, in their language
    customer = browser.new_context(base_url=base_url)
    try:
        portal = customer.new_page()
        portal.goto("/portal/login?lang=fr")
        portal.locator("#login").fill("300001")
        portal.locator("#password").fill("Carol-pass-123")
        portal.locator("form button[type=submit]").last.click()
        expect(portal.get_by_role("alert")).to_contain_text("Ce compte est suspendu")
        expect(portal.get_by_role("alert")).to_contain_text("Motif : chargeback 991")
    finally:
        customer.close()

    page.get_by_label("Reason for restoring (optional)").fill("paid")
    page.get_by_role("button", name="Restore").click()
    page.wait_for_url(re.compile(r".*done=restored"))
    expect(page.locator("#status")).to_have_text("active")

    page.get_by_label("Amount (USD)").fill("12.50")
    page.get_by_label("Reason", exact=True).fill("wire 77")
    page.get_by_role("button", name="Add funds").click()
    page.wait_for_url(re.compile(r".*done=money"))
    expect(page.locator("#balance")).to_have_text("$12.50")
    actions = page.locator("#operator-actions")
    expect(actions).to_contain_text("account.suspend")
    expect(actions).to_contain_text("account.deposit")
    expect(actions).to_contain_text("root@provider.test")

    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("#audit")).to_contain_text("account.restore")
    page.get_by_role("link", name="Live overview").click()
    expect(page.locator("#outbox-pending")).to_have_text(re.compile(r"^\d+$"))


def test_support_cannot_move_money(page: Page, admin_secret: str, e2e_db: Database) -> None:
    console_login(page, "desk@provider.test", None, e2e_db)  # support: no TOTP step
    page.get_by_label("Number, email or DID").fill("100000")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="100000", exact=True).click()
    expect(page.locator("#no-money")).to_be_visible()
    expect(page.locator("#money-form")).to_have_count(0)
    expect(page.locator("#settings")).to_contain_text("callerid_number")


def _big_deck(rows: int) -> bytes:
    lines = ["prefix,destination,rate,increment"]
    lines += [f"{7700000 + i},Testland {i % 50},0.0{i % 9 + 1},60" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_deck_upload_shows_the_transfer_then_the_check(
    page: Page, admin_secret: str, e2e_db: Database
) -> None:
    console_login(page, "root@provider.test", admin_secret, e2e_db)
    page.goto("/admin/rates")
    expect(page.locator("#deck-progress")).to_be_hidden()
    page.get_by_label("Route").select_option("premium")
    page.get_by_label("Deck (CSV").set_input_files(
        files=[{"name": "deck.csv", "mimeType": "text/csv", "buffer": _big_deck(30000)}])
    page.get_by_role("button", name="Upload and review").click()
    # The review replaced the page's main part in place (no navigation): the script did it.
    expect(page.locator("#deck-summary")).to_be_visible(timeout=60000)
    assert page.url.endswith("/admin/rates")
    expect(page.locator("#n-added")).to_have_text(re.compile(r"^\d+$"))
    body = page.locator("body")
    expect(body).to_have_attribute("data-deck-phases", "transfer check done")
    expect(body).to_have_attribute("data-deck-transfer", "100")
    screenshot(page, "admin-deck-reviewed")
    # The form works again on the review page (the script bound it again): a bad deck.
    page.get_by_label("Deck (CSV").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv",
                "buffer": b"prefix,destination,rate\nabc,X,-1\n"}])
    page.get_by_role("button", name="Upload and review").click()
    expect(page.locator("#deck-errors")).to_contain_text("line 2")
    assert page.url.endswith("/admin/rates")


def test_deck_upload_without_javascript_still_posts_the_form(
    browser, base_url: str, admin_secret: str, e2e_db: Database
) -> None:
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        console_login(page, "root@provider.test", admin_secret, e2e_db)
        page.goto("/admin/rates")
        page.get_by_label("Deck (CSV").set_input_files(
            files=[{"name": "deck.csv", "mimeType": "text/csv", "buffer": _big_deck(50)}])
        page.get_by_role("button", name="Upload and review").click()
        page.wait_for_url("**/admin/rates/review")
        expect(page.locator("#deck-summary")).to_be_visible()
        expect(page.locator("#n-added")).to_have_text("50")
    finally:
        context.close()

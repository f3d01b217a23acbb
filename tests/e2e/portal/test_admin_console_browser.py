"""The operator console in a real browser: an admin logs in with a password and a TOTP code
computed here from the enrolled secret, creates an account, suspends it with a reason (the
customer then sees the suspension at the portal's log-in), restores it and deposits money; the
audit log names the operator. Screenshots go to var/screenshots/."""

from __future__ import annotations

import re

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


def console_login(page: Page, email: str, secret: str | None) -> None:
    page.goto("/admin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if secret is not None:
        page.wait_for_url("**/admin/totp")
        page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/admin/accounts")


def test_admin_needs_the_totp_code(page: Page, admin_secret: str) -> None:
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
    page.get_by_label("Code").fill(pyotp.TOTP(admin_secret).now())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/admin/accounts")
    expect(page.locator("#operator")).to_have_text("root@provider.test (admin)")


def test_create_suspend_restore_and_deposit(page: Page, browser, base_url: str,
                                            admin_secret: str) -> None:
    console_login(page, "root@provider.test", admin_secret)
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


def test_support_cannot_move_money(page: Page, admin_secret: str) -> None:
    console_login(page, "desk@provider.test", None)  # support: no TOTP step
    page.get_by_label("Number, email or DID").fill("100000")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="100000", exact=True).click()
    expect(page.locator("#no-money")).to_be_visible()
    expect(page.locator("#money-form")).to_have_count(0)
    expect(page.locator("#settings")).to_contain_text("callerid_number")

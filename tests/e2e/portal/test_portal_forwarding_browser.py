"""The Call Forwarding page in a real browser: add an entry, pick it as a DID's failover on the
DID page, and see its deletion refused. Screenshots go to var/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dialgate.services import demo, dids
from dialgate.services.uow import Database
from tests.e2e.portal.conftest import log_in, screenshot

pytestmark = pytest.mark.e2e
DID = "5145550177"  # this test's own DID: the demo's are shared with other browser tests


def test_add_a_forwarding_pick_it_for_a_did_and_deletion_is_refused(
    page: Page, e2e_db: Database
) -> None:
    with e2e_db.uow() as uow:
        if dids.find_did(uow, DID, account=demo.DEMO_ACCOUNT) is None:
            dids.add_did(uow, demo.DEMO_ACCOUNT, DID, {"description": "Browser"}, actor="test")
        uow.commit()
    log_in(page)
    page.get_by_role("link", name="Call Forwarding").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Call Forwarding")
    page.get_by_label("Phone Number").fill("613 555 0142")
    page.get_by_label("Description").fill("Cottage")
    page.get_by_label("Pause").fill("1.5")
    page.get_by_role("button", name="Add").click()
    row = page.locator("#forwardings tbody tr", has_text="+16135550142")
    expect(row).to_contain_text("Cottage")
    ref = row.locator("th code").inner_text()
    assert re.fullmatch(r"fwd:\d+", ref)
    screenshot(page, "call-forwarding")

    page.goto(f"/portal/dids/{DID}")
    page.get_by_text("Show Failover Options").click()
    page.locator("#f-failover_noanswer_type").select_option("fwd")
    entry = page.locator("#f-failover_noanswer_fwd")
    ident = ref.partition(":")[2]
    entry.select_option(ident)
    # The picker names the entry by its description and number, never "fwd:<id>".
    expect(entry.locator("option:checked")).to_have_text(f"Cottage, +16135550142 ({ident})")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#saved")).to_be_visible()

    page.goto("/portal/forwardings")
    row = page.locator("#forwardings tbody tr", has_text="+16135550142")
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button").click()
    expect(page.get_by_role("alert")).to_contain_text(f"DID {DID}")
    expect(page.locator("#forwardings tbody tr", has_text="+16135550142")).to_have_count(1)
    with e2e_db.uow() as uow:
        dids.set_did(
            uow, DID, {"failover_noanswer": "vm:1001"}, actor="test", account=demo.DEMO_ACCOUNT
        )
        uow.commit()

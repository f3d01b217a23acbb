"""Demo data for ``make run``: one account with a sub account, mailboxes and routing targets.

Idempotent: it does nothing when the demo account exists.
"""

from __future__ import annotations

from decimal import Decimal

from dialgate.adapters.rate_data import demo_rates
from dialgate.domain.rating import ROUTES
from dialgate.services import accounts, dids, forwardings, lookups, mailboxes, pops, rates
from dialgate.services.uow import UnitOfWork, use_case

DEMO_ACCOUNT = "100000"
DEMO_EMAIL = "demo@example.com"
# Printed by `make run`: the demo's published login, not a secret.
DEMO_PASSWORD = "DemoPass123"  # noqa: S105
# Main line (e911 enabled) to the account, office line to the sub account, menu line to the IVR;
# the others take the Default DID Routing (busy and no answer to voicemail 1001).
DEMO_DIDS: tuple[tuple[str, dict[str, object]], ...] = (
    ("5145550100", {"description": "Main line", "e911_enabled": True}),
    ("5145550101", {"description": "Office line", "routing": "account:100000_office"}),
    ("4385550102", {"description": "Menu line", "routing": "ivr:1", "cnam_lookup": True}),
)


@use_case
def load_demo(uow: UnitOfWork) -> bool:
    """Create the demo account; return False if it was already there."""
    pops.sync_pops(uow)
    for route in ROUTES:
        if rates.deck_size(uow, route) == 0:
            rates.replace_deck(uow, route, demo_rates(route))
    if lookups.find_account(uow, DEMO_ACCOUNT) is not None:
        return False
    accounts.create_account(
        uow,
        number=DEMO_ACCOUNT,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        balance=Decimal("25.00"),
        actor="demo",
    )
    mailboxes.add_mailbox(uow, DEMO_ACCOUNT, "1001", name="Reception")
    mailboxes.add_mailbox(uow, DEMO_ACCOUNT, "1002", name="Sales")
    mailboxes.add_routing_target(uow, DEMO_ACCOUNT, "ivr", "1", name="Main menu")
    mailboxes.add_routing_target(uow, DEMO_ACCOUNT, "queue", "1", name="Support queue")
    mailboxes.add_routing_target(uow, DEMO_ACCOUNT, "grp", "1", name="Office ring group")
    mailboxes.add_routing_target(uow, DEMO_ACCOUNT, "tc", "1", name="Business hours")
    uow.session.flush()
    forwardings.add_forwarding(
        uow, DEMO_ACCOUNT, {"phone_number": "5145550199", "description": "Mobile"}, actor="demo"
    )
    accounts.update_settings(
        uow,
        DEMO_ACCOUNT,
        {
            "voicemail": "1001",
            "callerid_number": "5145550100",
            "e911_callerid": "5145550100",
            "allowed_countries": "GB,FR,MX,JM",
            "international_max_rate": "0.15",
            "did_failover_busy": "vm:1001",
            "did_failover_noanswer": "vm:1001",
        },
        actor="demo",
    )
    accounts.create_subaccount(
        uow,
        DEMO_ACCOUNT,
        "office",
        password="OfficePass123",  # noqa: S106
        changes={"description": "Front office phone", "canada_route": "premium"},
        actor="demo",
    )
    uow.session.flush()
    for number, changes in DEMO_DIDS:
        dids.add_did(uow, DEMO_ACCOUNT, number, changes, actor="demo")
    return True

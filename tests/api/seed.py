"""DIDs, rate decks and ledger entries for the API tests (on top of ``conftest.make_tenant``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dialgate.domain.rating import Rate
from dialgate.services import billing, dids, forwardings, rates
from dialgate.services.uow import Database

# Alice (100000): one DID on the main account, one routed to 100000_office. Bob (200000): one.
ALICE_MAIN_DID, ALICE_OFFICE_DID, BOB_DID = "5145550100", "5145550101", "4165550100"
DAY = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

VALUE_DECK = (
    Rate("1514", "Canada - Montreal", Decimal("0.009"), 6),
    Rate("1416", "Canada - Toronto", Decimal("0.0095"), 6),
    Rate("44", "United Kingdom", Decimal("0.02"), 60),
    Rate("442", "United Kingdom - London", Decimal("0.015"), 60),
)
PREMIUM_DECK = (
    Rate("1514", "Canada - Montreal", Decimal("0.012"), 1),
    Rate("44", "United Kingdom", Decimal("0.03"), 1),
)


def seed_dids(db: Database) -> None:
    with db.uow() as uow:
        dids.add_did(uow, "100000", ALICE_MAIN_DID, {"description": "Main line"}, actor="test")
        dids.add_did(
            uow, "100000", ALICE_OFFICE_DID, {"routing": "account:100000_office"}, actor="test"
        )
        dids.add_did(uow, "200000", BOB_DID, actor="test")
        uow.commit()


def seed_forwardings(db: Database) -> None:
    """A forwarding of each tenant (ids 1 and 2 on the fresh database)."""
    with db.uow() as uow:
        forwardings.add_forwarding(uow, "100000", {"phone_number": "5145550199"}, actor="test")
        forwardings.add_forwarding(uow, "200000", {"phone_number": "4165550199"}, actor="test")
        uow.commit()


def seed_rates(db: Database) -> None:
    with db.uow() as uow:
        rates.replace_deck(uow, "value", VALUE_DECK)
        rates.replace_deck(uow, "premium", PREMIUM_DECK)
        uow.commit()


def seed_ledger(db: Database, account: str = "100000") -> None:
    """A $25 deposit on DAY and a 2-minute call at $0.01/min an hour later."""
    with db.uow() as uow:
        billing.deposit(uow, account, "25.00", now=DAY)
        started = DAY + timedelta(hours=1)
        billing.record_cdr(
            uow,
            {
                "call_id": f"call-{account}-1",
                "account": account,
                "dialed": "5145550199",
                "started_at": started.isoformat(),
                "answered_at": started.isoformat(),
                "ended_at": (started + timedelta(seconds=120)).isoformat(),
                "disposition": "answered",
                "route": "value",
                "rate_per_minute": "0.01",
                "increment_s": 60,
                "flat_fee": "0",
            },
            now=started + timedelta(seconds=120),
        )
        uow.commit()

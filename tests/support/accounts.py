"""Accounts the service and integration tests start from, made through the services (never
rows written by hand), so a test reads as "given this account, when ...".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from dialgate.adapters.rate_data import demo_rates
from dialgate.domain.rating import ROUTES
from dialgate.services import accounts, rates
from dialgate.services.mailboxes import add_mailbox
from dialgate.services.uow import Database

PORTAL_PASSWORD = "Portal1234"
SUB_PASSWORD = "Office1234"


def setup_account(
    db: Database,
    number: str = "100000",
    *,
    email: str | None = None,
    balance: str | None = "10",
    subs: Iterable[str] = ("office",),
    mailboxes: Iterable[str] = (),
    settings: Mapping[str, str] | None = None,
    language: str = "en",
) -> None:
    """A main account (``o<number>@example.com`` unless ``email``), its sub accounts, mailboxes
    and settings, committed."""
    with db.uow() as uow:
        accounts.create_account(
            uow,
            number=number,
            email=email or f"o{number}@example.com",
            password=PORTAL_PASSWORD,
            balance=None if balance is None else Decimal(balance),
            language=language,
        )
        for mailbox in mailboxes:
            add_mailbox(uow, number, mailbox)
        uow.session.flush()
        for sub in subs:
            accounts.create_subaccount(uow, number, sub, password=SUB_PASSWORD, actor="t")
        if settings:
            accounts.update_settings(uow, number, dict(settings), actor="setup")
        uow.commit()


def load_demo_decks(db: Database) -> None:
    """The demo rate deck of every route, so calls are rated."""
    with db.uow() as uow:
        for route in ROUTES:
            rates.replace_deck(uow, route, demo_rates(route))
        uow.commit()

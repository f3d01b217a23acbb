"""Queries about accounts and what belongs to them (sub accounts, mailboxes, routing targets,
forwardings, DIDs routed to a target). Plain reads over a session; the services decide."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from dialgate.adapters.db import tables
from dialgate.adapters.db.session import AnyRow, Executes
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dialgate.adapters.db import models_core
    from dialgate.adapters.db.models_core import AccountRow, SubAccountRow
else:  # the ORM loads with the first query that returns row objects, not for the call path
    models_core = lazy_import("dialgate.adapters.db.models_core")

# The call path's reads (Core rows, no ORM): deciding a call and reading a balance.


def account_record(db: Executes, number: str) -> AnyRow | None:
    """The account's row (id, number, enabled, balance, settings, ...) as plain data."""
    accounts = tables.accounts
    return db.execute(select(accounts).where(accounts.c.number == number)).first()


def balances(db: Executes, numbers: Iterable[str]) -> dict[str, Decimal]:
    """The balances of these accounts by number (accounts that do not exist are left out)."""
    accounts = tables.accounts.c
    found: dict[str, Decimal] = {}
    wanted = sorted(numbers)
    for start in range(0, len(wanted), 500):  # bounded IN lists, whatever the database
        rows = db.execute(
            select(accounts.number, accounts.balance)
            .where(accounts.number.in_(wanted[start:start + 500]))
        )
        found.update((number, balance) for number, balance in rows)
    return found


def subaccount_record(db: Executes, account_id: int, username: str) -> AnyRow | None:
    subs = tables.subaccounts
    return db.execute(
        select(subs).where(subs.c.account_id == account_id, subs.c.username == username)
    ).first()


def e911_numbers(db: Executes, account_id: int) -> list[str]:
    """The account's DIDs that carry e911 (the caller IDs its emergency calls may present)."""
    dids = tables.dids
    return list(
        db.execute(
            select(dids.c.number).where(
                dids.c.account_id == account_id, dids.c.e911_enabled.is_(True)
            )
        ).scalars()
    )


# Row objects, for the use cases that change them.


def account_by_number(session: Session, number: str) -> AccountRow | None:
    row = models_core.AccountRow
    return session.scalars(select(row).where(row.number == number)).first()


def account_by_email(session: Session, email: str) -> AccountRow | None:
    row = models_core.AccountRow
    return session.scalars(select(row).where(row.email == email)).first()


def subaccount(session: Session, account_id: int, username: str) -> SubAccountRow | None:
    row = models_core.SubAccountRow
    return session.scalars(
        select(row).where(row.account_id == account_id, row.username == username)
    ).first()


def subaccounts(session: Session, account_id: int) -> list[SubAccountRow]:
    row = models_core.SubAccountRow
    return list(
        session.scalars(select(row).where(row.account_id == account_id).order_by(row.username))
    )


# Plain values.


def subaccount_names(session: Session, account_id: int) -> frozenset[str]:
    subs = tables.subaccounts
    return frozenset(
        session.scalars(select(subs.c.name).where(subs.c.account_id == account_id))
    )


def mailboxes(session: Session, account_id: int) -> frozenset[str]:
    boxes = tables.mailboxes
    return frozenset(
        session.scalars(select(boxes.c.mailbox).where(boxes.c.account_id == account_id))
    )


def routing_targets(session: Session, account_id: int) -> dict[str, set[str]]:
    """The account's IVRs, queues, ring groups and time conditions: kind -> refs."""
    table = tables.routing_targets
    targets: dict[str, set[str]] = {}
    for kind, ref in session.execute(
        select(table.c.kind, table.c.ref).where(table.c.account_id == account_id)
    ):
        targets.setdefault(kind, set()).add(ref)
    return targets


def forwarding_ids(session: Session, account_id: int) -> list[int]:
    table = tables.forwardings
    return list(session.scalars(select(table.c.id).where(table.c.account_id == account_id)))


def pop_names(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(tables.pops.c.name)))


def dids_routed_to(session: Session, account_id: int, target: str) -> list[str]:
    """The account's DIDs whose routing or a failover names ``target``."""
    dids = tables.dids.c
    return list(
        session.scalars(
            select(dids.number).where(
                dids.account_id == account_id,
                (dids.routing == target)
                | (dids.failover_busy == target)
                | (dids.failover_unreachable == target)
                | (dids.failover_noanswer == target),
            )
        )
    )

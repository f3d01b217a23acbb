"""Finding accounts and sub accounts, and reading their stored settings.

Every query is scoped to the account it names: a sub account is addressed as
``<main>_<username>`` and only ever looked up under its main account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from dialgate.adapters import geo
from dialgate.adapters.db.models import (
    AccountRow,
    ForwardingRow,
    MailboxRow,
    PopRow,
    RoutingTargetRow,
    SubAccountRow,
)
from dialgate.domain import catalogs
from dialgate.domain import settings as s
from dialgate.domain import values as v
from dialgate.domain.errors import NotFound
from dialgate.services.uow import UnitOfWork


def split_subject(subject: str) -> tuple[str, str | None]:
    """``100000`` -> (100000, None); ``100000_office`` -> (100000, office)."""
    main, sep, user = subject.partition("_")
    return main, (user if sep else None)


def find_account(uow: UnitOfWork, number: str) -> AccountRow | None:
    return uow.session.scalars(select(AccountRow).where(AccountRow.number == number)).first()


def get_account(uow: UnitOfWork, number: str) -> AccountRow:
    row = find_account(uow, number)
    if row is None:
        raise NotFound("account", number)
    return row


def find_account_by_login(uow: UnitOfWork, login: str) -> AccountRow | None:
    """Accounts log in with their number or their email."""
    column = AccountRow.email if "@" in login else AccountRow.number
    value = login.strip().lower() if "@" in login else login.strip()
    return uow.session.scalars(select(AccountRow).where(column == value)).first()


def find_subaccount(uow: UnitOfWork, account: AccountRow, username: str) -> SubAccountRow | None:
    return uow.session.scalars(
        select(SubAccountRow).where(
            SubAccountRow.account_id == account.id, SubAccountRow.username == username
        )
    ).first()


def get_subaccount(uow: UnitOfWork, account: AccountRow, username: str) -> SubAccountRow:
    row = find_subaccount(uow, account, username)
    if row is None:
        raise NotFound("sub account", f"{account.number}_{username}")
    return row


def list_subaccounts(uow: UnitOfWork, account: AccountRow) -> list[SubAccountRow]:
    return list(
        uow.session.scalars(
            select(SubAccountRow)
            .where(SubAccountRow.account_id == account.id)
            .order_by(SubAccountRow.username)
        )
    )


def load_settings(row: AccountRow | SubAccountRow) -> dict[str, Any]:
    return {key: s.from_json(key, value) for key, value in (row.settings or {}).items()}


def dump_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: s.to_json(key, value) for key, value in values.items()}


def validation_context(uow: UnitOfWork, account: AccountRow) -> v.ValidationContext:
    mailboxes = uow.session.scalars(
        select(MailboxRow.mailbox).where(MailboxRow.account_id == account.id)
    )
    subs = uow.session.scalars(
        select(SubAccountRow.name).where(SubAccountRow.account_id == account.id)
    )
    targets: dict[str, set[str]] = {}
    for kind, ref in uow.session.execute(
        select(RoutingTargetRow.kind, RoutingTargetRow.ref).where(
            RoutingTargetRow.account_id == account.id
        )
    ):
        targets.setdefault(kind, set()).add(ref)
    forwardings = uow.session.scalars(
        select(ForwardingRow.id).where(ForwardingRow.account_id == account.id)
    )
    targets.setdefault("fwd", set()).update(str(ident) for ident in forwardings)
    pops = uow.session.scalars(select(PopRow.name))
    return v.ValidationContext(
        account=account.number,
        email=account.email,
        mailboxes=frozenset(mailboxes),
        subaccounts=frozenset(subs),
        targets={header: frozenset(names) for header, names in targets.items()},
        pops=frozenset(pops) or frozenset(p.name for p in catalogs.DEFAULT_POPS),
        countries=frozenset(c.code for c in geo.countries()),
    )

"""Finding accounts and sub accounts, and reading their stored settings.

Every query is scoped to the account it names: a sub account is addressed as
``<main>_<username>`` and only ever looked up under its main account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dialgate.adapters.db import repo_accounts as repo
from dialgate.domain import catalogs
from dialgate.domain import settings as s
from dialgate.domain import values as v
from dialgate.domain.errors import NotFound
from dialgate.lazy import lazy_import
from dialgate.services.uow import UnitOfWork

if TYPE_CHECKING:
    from dialgate.adapters import geo
    from dialgate.adapters.db.models_core import AccountRow, SubAccountRow
    from dialgate.adapters.db.session import AnyRow
else:  # phonenumbers and Babel load only when a settings change is validated
    geo = lazy_import("dialgate.adapters.geo")


def split_subject(subject: str) -> tuple[str, str | None]:
    """``100000`` -> (100000, None); ``100000_office`` -> (100000, office)."""
    main, sep, user = subject.partition("_")
    return main, (user if sep else None)


def find_account(uow: UnitOfWork, number: str) -> AccountRow | None:
    return repo.account_by_number(uow.session, number)


def get_account(uow: UnitOfWork, number: str) -> AccountRow:
    row = find_account(uow, number)
    if row is None:
        raise NotFound("account", number)
    return row


def account_record(uow: UnitOfWork, number: str) -> AnyRow | None:
    """The account as plain data (a Core row, no ORM object): for reads on the call path."""
    return repo.account_record(uow, number)


def get_account_record(uow: UnitOfWork, number: str) -> AnyRow:
    row = account_record(uow, number)
    if row is None:
        raise NotFound("account", number)
    return row


def find_account_by_login(uow: UnitOfWork, login: str) -> AccountRow | None:
    """Accounts log in with their number or their email."""
    if "@" in login:
        return repo.account_by_email(uow.session, login.strip().lower())
    return repo.account_by_number(uow.session, login.strip())


def find_subaccount(uow: UnitOfWork, account: AccountRow, username: str) -> SubAccountRow | None:
    return repo.subaccount(uow.session, account.id, username)


def get_subaccount(uow: UnitOfWork, account: AccountRow, username: str) -> SubAccountRow:
    row = find_subaccount(uow, account, username)
    if row is None:
        raise NotFound("sub account", f"{account.number}_{username}")
    return row


def list_subaccounts(uow: UnitOfWork, account: AccountRow) -> list[SubAccountRow]:
    return repo.subaccounts(uow.session, account.id)


def load_settings(row: AccountRow | SubAccountRow | AnyRow) -> dict[str, Any]:
    return {key: s.from_json(key, value) for key, value in (row.settings or {}).items()}


def dump_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: s.to_json(key, value) for key, value in values.items()}


def validation_context(uow: UnitOfWork, account: AccountRow) -> v.ValidationContext:
    """What the account's values may name: its mailboxes, sub accounts, routing targets and
    forwardings, the POPs and the countries."""
    session = uow.session
    targets = repo.routing_targets(session, account.id)
    targets.setdefault("fwd", set()).update(
        str(ident) for ident in repo.forwarding_ids(session, account.id)
    )
    return v.ValidationContext(
        account=account.number,
        email=account.email,
        mailboxes=repo.mailboxes(session, account.id),
        subaccounts=repo.subaccount_names(session, account.id),
        targets={header: frozenset(names) for header, names in targets.items()},
        pops=repo.pop_names(session) or frozenset(p.name for p in catalogs.DEFAULT_POPS),
        countries=frozenset(c.code for c in geo.countries()),
    )

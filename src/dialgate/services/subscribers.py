"""Kamailio's subscriber table, kept in step with accounts in the same transaction.

One row per main or sub account name and realm: the SIP password's digests (HA1, HA1B) and the
SIP attributes Kamailio applies at REGISTER (``max_expiry``, ``encrypted_sip``, ``nat``,
``enabled``). The realm is an argument: the caller's unit of work knows the deployment's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from dialgate.adapters.db.models import SubscriberRow
from dialgate.lazy import lazy_import
from dialgate.services.uow import UnitOfWork, query

if TYPE_CHECKING:
    from dialgate.adapters import passwords
else:  # argon2: only when a SIP digest is made
    passwords = lazy_import("dialgate.adapters.passwords")


def set_subscriber(
    uow: UnitOfWork,
    username: str,
    *,
    realm: str,
    password: str | None,
    effective: Mapping[str, Any],
    enabled: bool,
) -> None:
    """Write the subscriber row of ``username`` in ``realm`` (created on first use).

    ``effective``: the account's effective settings; ``enabled`` is the main account's flag (a
    sub account of a disabled account is disabled); ``password`` None keeps the digests.
    """
    row = uow.session.scalars(
        select(SubscriberRow).where(
            SubscriberRow.username == username, SubscriberRow.domain == realm
        )
    ).first()
    if row is None:
        if password is None:
            raise RuntimeError(f"no SIP password for new subscriber {username}")
        row = SubscriberRow(username=username, domain=realm, password="")
        uow.session.add(row)
    if password is not None:
        row.ha1 = passwords.sip_ha1(username, realm, password)
        row.ha1b = passwords.sip_ha1b(username, realm, password)
    row.max_expiry = int(effective["max_expiry"])
    row.encrypted_sip = 1 if effective["encrypted_sip"] else 0
    row.nat = str(effective["nat"])
    row.enabled = 1 if enabled else 0


def set_enabled(uow: UnitOfWork, usernames: Iterable[str], enabled: bool) -> None:
    """The rows of these user names follow the account's flag, in every realm.

    Matched by user name in every domain (like ``delete``): a row left under an old realm must
    not stay usable when the account is disabled.
    """
    uow.session.execute(
        update(SubscriberRow)
        .where(SubscriberRow.username.in_(list(usernames)))
        .values(enabled=1 if enabled else 0)
    )


def delete_subscriber(uow: UnitOfWork, username: str) -> None:
    """Remove the rows of ``username`` in every realm (the sub account is deleted)."""
    uow.session.execute(delete(SubscriberRow).where(SubscriberRow.username == username))


@query
def ha1_of(uow: UnitOfWork, username: str) -> str | None:
    """The HA1 digest of ``username`` in the unit of work's realm (None: no such subscriber)."""
    return uow.session.scalars(
        select(SubscriberRow.ha1).where(
            SubscriberRow.username == username, SubscriberRow.domain == uow.realm
        )
    ).first()

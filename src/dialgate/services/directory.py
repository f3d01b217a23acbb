"""Look-ups the API faces need beyond ``services.accounts``: sub accounts by id, mailboxes, and
SIP registrations (Kamailio's ``location`` table: filled when Kamailio keeps registrations in
the database, ``kamailio-config --registrations database|shared``; empty in ``memory`` mode).

Every query is scoped to the account it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dialgate.adapters.db.models import AccountRow, LocationRow, MailboxRow, SubAccountRow
from dialgate.domain.errors import NotFound
from dialgate.services.uow import UnitOfWork


def find_subaccount_by_id(
    uow: UnitOfWork, account: AccountRow, sub_id: int
) -> SubAccountRow | None:
    return uow.session.scalars(
        select(SubAccountRow).where(
            SubAccountRow.account_id == account.id, SubAccountRow.id == sub_id
        )
    ).first()


def get_subaccount_by_id(uow: UnitOfWork, account: AccountRow, sub_id: int) -> SubAccountRow:
    row = find_subaccount_by_id(uow, account, sub_id)
    if row is None:
        raise NotFound("sub account", str(sub_id))
    return row


def list_mailboxes(uow: UnitOfWork, account: AccountRow) -> list[MailboxRow]:
    return list(
        uow.session.scalars(
            select(MailboxRow)
            .where(MailboxRow.account_id == account.id)
            .order_by(MailboxRow.mailbox)
        )
    )


@dataclass(frozen=True, slots=True)
class Registration:
    contact: str
    received: str
    expires: datetime | None
    socket: str
    user_agent: str


def registrations(uow: UnitOfWork, username: str) -> list[Registration]:
    """Current registrations of ``100000`` or ``100000_office``, newest expiry first."""
    rows = uow.session.execute(
        select(
            LocationRow.contact,
            LocationRow.received,
            LocationRow.expires,
            LocationRow.socket,
            LocationRow.user_agent,
        )
        .where(LocationRow.username == username)
        .order_by(LocationRow.expires.desc())
    )
    return [
        Registration(str(contact or ""), str(received or ""), expires, str(socket or ""),
                     str(agent or ""))
        for contact, received, expires, socket, agent in rows
    ]

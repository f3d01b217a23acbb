"""Queries about accounts and what belongs to them (sub accounts, mailboxes, routing targets,
forwardings, DIDs routed to a target). Plain reads over a session; the services decide."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialgate.adapters.db.models_core import (
    AccountRow,
    DidRow,
    ForwardingRow,
    MailboxRow,
    PopRow,
    RoutingTargetRow,
    SubAccountRow,
)


def account_by_number(session: Session, number: str) -> AccountRow | None:
    return session.scalars(select(AccountRow).where(AccountRow.number == number)).first()


def account_by_email(session: Session, email: str) -> AccountRow | None:
    return session.scalars(select(AccountRow).where(AccountRow.email == email)).first()


def subaccount(session: Session, account_id: int, username: str) -> SubAccountRow | None:
    return session.scalars(
        select(SubAccountRow).where(
            SubAccountRow.account_id == account_id, SubAccountRow.username == username
        )
    ).first()


def subaccounts(session: Session, account_id: int) -> list[SubAccountRow]:
    return list(
        session.scalars(
            select(SubAccountRow)
            .where(SubAccountRow.account_id == account_id)
            .order_by(SubAccountRow.username)
        )
    )


def subaccount_names(session: Session, account_id: int) -> frozenset[str]:
    return frozenset(
        session.scalars(select(SubAccountRow.name).where(SubAccountRow.account_id == account_id))
    )


def mailboxes(session: Session, account_id: int) -> frozenset[str]:
    return frozenset(
        session.scalars(select(MailboxRow.mailbox).where(MailboxRow.account_id == account_id))
    )


def routing_targets(session: Session, account_id: int) -> dict[str, set[str]]:
    """The account's IVRs, queues, ring groups and time conditions: kind -> refs."""
    targets: dict[str, set[str]] = {}
    for kind, ref in session.execute(
        select(RoutingTargetRow.kind, RoutingTargetRow.ref).where(
            RoutingTargetRow.account_id == account_id
        )
    ):
        targets.setdefault(kind, set()).add(ref)
    return targets


def forwarding_ids(session: Session, account_id: int) -> list[int]:
    return list(
        session.scalars(select(ForwardingRow.id).where(ForwardingRow.account_id == account_id))
    )


def pop_names(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(PopRow.name)))


def dids_routed_to(session: Session, account_id: int, target: str) -> list[str]:
    """The account's DIDs whose routing or a failover names ``target``."""
    return list(
        session.scalars(
            select(DidRow.number).where(
                DidRow.account_id == account_id,
                (DidRow.routing == target)
                | (DidRow.failover_busy == target)
                | (DidRow.failover_unreachable == target)
                | (DidRow.failover_noanswer == target),
            )
        )
    )

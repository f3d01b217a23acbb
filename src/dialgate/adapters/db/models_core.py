"""The ORM row classes of the call path's tables, mapped onto ``tables`` (the Core definitions):
accounts and what their DIDs route to, the ledger and call records, rate decks and the policy
change feed, with the declarative ``Base`` every model shares.

The columns are defined once, in ``tables``; a class here only names them for typing
(``id: Mapped[int]``). Code that changes rows through the ORM uses these classes (import them
from ``models``); the call path's reads use ``tables`` with Core statements and never load the
ORM (docs/architecture.md, "CLI start-up").
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dialgate.adapters.db import tables
from dialgate.adapters.db.micros import Micros
from dialgate.adapters.db.tables import BigId as BigId
from dialgate.adapters.db.tables import UTCDateTime as UTCDateTime
from dialgate.adapters.db.tables import utcnow as utcnow


def money_column(name: str, *, nullable: bool = False, default: Decimal | None = None) -> Any:
    """A money column of a declarative model: stored as ``<name>_micros``, used as ``name``."""
    return mapped_column(
        f"{name}_micros", Micros(), key=name, nullable=nullable, default=default
    )


class Base(DeclarativeBase):
    metadata = tables.metadata
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        Decimal: Micros(),
        dict[str, Any]: JSON,
    }


class PopRow(Base):
    __table__ = tables.pops
    id: Mapped[int]
    name: Mapped[str]
    city: Mapped[str]
    hostname: Mapped[str]
    country: Mapped[str]


class AccountRow(Base):
    __table__ = tables.accounts
    id: Mapped[int]
    number: Mapped[str]
    email: Mapped[str]
    enabled: Mapped[bool]
    language: Mapped[str]
    portal_password_hash: Mapped[str]
    settings: Mapped[dict[str, Any]]
    balance: Mapped[Decimal]
    version: Mapped[int]
    failed_logins: Mapped[int]
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class SubAccountRow(Base):
    __table__ = tables.subaccounts
    id: Mapped[int]
    account_id: Mapped[int]
    username: Mapped[str]
    name: Mapped[str]
    settings: Mapped[dict[str, Any]]
    version: Mapped[int]
    created_at: Mapped[datetime]


class MailboxRow(Base):
    __table__ = tables.mailboxes
    id: Mapped[int]
    account_id: Mapped[int]
    mailbox: Mapped[str]
    name: Mapped[str]
    email: Mapped[str]


class RoutingTargetRow(Base):
    """Things a DID can route to besides accounts, mailboxes and call forwardings
    (``ForwardingRow``): IVRs, queues, ring groups (grp) and time conditions (tc)."""

    __table__ = tables.routing_targets
    id: Mapped[int]
    account_id: Mapped[int]
    kind: Mapped[str]
    ref: Mapped[str]
    name: Mapped[str]
    data: Mapped[dict[str, Any]]


class ForwardingRow(Base):
    """A call forwarding entry (VoIP.ms "forwarding"): a phone number that DIDs route or fail
    over to as ``fwd:<id>``. Calls forwarded to it are outbound calls of the account."""

    __table__ = tables.forwardings
    id: Mapped[int]
    account_id: Mapped[int]
    phone_number: Mapped[str]
    description: Mapped[str]
    callerid_override: Mapped[str]
    dtmf_digits: Mapped[str]
    pause: Mapped[Decimal]
    diversion_header: Mapped[bool]


class DidRow(Base):
    __table__ = tables.dids
    id: Mapped[int]
    account_id: Mapped[int]
    number: Mapped[str]
    description: Mapped[str]
    routing: Mapped[str]
    failover_busy: Mapped[str]
    failover_unreachable: Mapped[str]
    failover_noanswer: Mapped[str]
    pop: Mapped[str]
    plan: Mapped[str]
    cnam_lookup: Mapped[bool]
    e911_enabled: Mapped[bool]
    dial_time: Mapped[int]
    created_at: Mapped[datetime]


class RateDeckVersionRow(Base):
    """One imported rate deck (a route's whole deck): who, when, how many rows, and the checksum
    of its compiled form. Versions are kept so that a rollback is one step."""

    __table__ = tables.rate_deck_versions
    id: Mapped[int]
    route: Mapped[str]
    version: Mapped[int]
    row_count: Mapped[int]
    checksum: Mapped[str]
    actor: Mapped[str]
    source: Mapped[str]
    created_at: Mapped[datetime]


class RateDeckDataRow(Base):
    """A version's compiled deck (``domain.deck.RateDeck.to_bytes``), apart from the version row
    so that listing versions never reads megabytes."""

    __table__ = tables.rate_deck_data
    version_id: Mapped[int]
    data: Mapped[bytes]


class RateDeckRow(Base):
    """Which version of a route's deck answers calls: one row per route, updated (and so
    locked) by every import and rollback."""

    __table__ = tables.rate_decks
    route: Mapped[str]
    live_version_id: Mapped[int | None]


class RateDeckEventRow(Base):
    """The audit of rate decks: every import and rollback, by whom, from which version."""

    __table__ = tables.rate_deck_events
    id: Mapped[int]
    route: Mapped[str]
    at: Mapped[datetime]
    actor: Mapped[str]
    action: Mapped[str]
    version: Mapped[int]
    previous: Mapped[int | None]


class PolicyChangeRow(Base):
    """A change feed for compiled policy snapshots: one row per change that affects call
    decisions (account '*' for rate decks), written in the same transaction as the change.
    Snapshot caches in every process poll its highest ``seq`` cheaply. ``kind``: "policy", or
    "balance" when only the balance changed."""

    __table__ = tables.policy_changes
    seq: Mapped[int]
    account: Mapped[str]
    at: Mapped[datetime]
    kind: Mapped[str]


class TransactionRow(Base):
    """The ledger: the balance is the sum of ``amount`` (deposits positive, charges negative)."""

    __table__ = tables.transactions
    id: Mapped[int]
    account_id: Mapped[int]
    at: Mapped[datetime]
    kind: Mapped[str]
    amount: Mapped[Decimal]
    description: Mapped[str]
    call_id: Mapped[str | None]


class CdrRow(Base):
    __table__ = tables.cdrs
    id: Mapped[int]
    call_id: Mapped[str]
    account_id: Mapped[int]
    caller: Mapped[str]
    dialed: Mapped[str]
    direction: Mapped[str]
    caller_number: Mapped[str | None]
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    disposition: Mapped[str]
    end_reason: Mapped[str | None]
    route: Mapped[str | None]
    rate_per_minute: Mapped[Decimal]
    increment_s: Mapped[int]
    flat_fee: Mapped[Decimal]
    duration_s: Mapped[int]
    billed_s: Mapped[int]
    cost: Mapped[Decimal]

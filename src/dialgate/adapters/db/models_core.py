"""The part of the schema that deciding, rating and charging a call reads: accounts and what
their DIDs route to, the ledger and call records, rate decks and the policy change feed, with
the declarative ``Base`` and the column types every model shares.

It is part of ``models`` (which re-exports it: import rows from there) and apart only so that
the light commands (``dialgate balance``, ``rates show``, ``authorize``) and the services they
run map these classes alone: mapping a declarative class costs about 3 ms, and the whole
schema is three dozen of them (docs/architecture.md, "CLI start-up"). Its foreign keys point
only at its own tables, so a process that has imported just this module can read and write
them. ``tests/integration/test_cli_imports.py`` checks which commands load which.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from dialgate.adapters.db.micros import Micros


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def money_column(name: str, *, nullable: bool = False, default: Decimal | None = None) -> Any:
    """A money column: stored as ``<name>_micros``, read and written as ``name``."""
    return mapped_column(
        f"{name}_micros", Micros(), key=name, nullable=nullable, default=default
    )


# BigInteger ids that are still autoincrementing INTEGER PRIMARY KEYs on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        Decimal: Micros(),
        dict[str, Any]: JSON,
    }


class PopRow(Base):
    __tablename__ = "pops"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    city: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str] = mapped_column(String(128))
    country: Mapped[str] = mapped_column(String(2))


class AccountRow(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(5), default="en")
    portal_password_hash: Mapped[str] = mapped_column(String(255))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The prepaid balance is the sum of the ledger (transactions); this column is that sum, kept
    # in the same transaction as each ledger row with an atomic UPDATE, so reads are cheap.
    balance: Mapped[Decimal] = money_column("balance", default=Decimal(0))
    # Bumped on every change that affects call decisions; snapshot caches compare it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubAccountRow(Base):
    __tablename__ = "subaccounts"
    # AUTOINCREMENT: the VoIP.ms API names sub accounts by id, which must never be reused.
    __table_args__ = (UniqueConstraint("account_id", "username"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(32), unique=True)  # <main>_<username>
    # Own settings plus the overrides it has; a key absent from the overrides inherits.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailboxRow(Base):
    __tablename__ = "mailboxes"
    __table_args__ = (UniqueConstraint("account_id", "mailbox"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    mailbox: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(254), default="")


class RoutingTargetRow(Base):
    """Things a DID can route to besides accounts, mailboxes and call forwardings
    (``ForwardingRow``): IVRs, queues, ring groups (grp) and time conditions (tc)."""

    __tablename__ = "routing_targets"
    __table_args__ = (UniqueConstraint("account_id", "kind", "ref"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    ref: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64), default="")
    # Kind-specific data: grp -> {"members": [...]}; tc -> {...}.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ForwardingRow(Base):
    """A call forwarding entry (VoIP.ms "forwarding"): a phone number that DIDs route or fail
    over to as ``fwd:<id>``. Calls forwarded to it are outbound calls of the account."""

    __tablename__ = "forwardings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    phone_number: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(64), default="")
    callerid_override: Mapped[str] = mapped_column(String(20), default="")
    dtmf_digits: Mapped[str] = mapped_column(String(32), default="")
    pause: Mapped[Decimal] = mapped_column(Numeric(3, 1), default=Decimal(0))
    diversion_header: Mapped[bool] = mapped_column(Boolean, default=False)


class DidRow(Base):
    __tablename__ = "dids"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(20), unique=True)
    description: Mapped[str] = mapped_column(String(100), default="")
    routing: Mapped[str] = mapped_column(String(64))
    failover_busy: Mapped[str] = mapped_column(String(64), default="none:")
    failover_unreachable: Mapped[str] = mapped_column(String(64), default="none:")
    failover_noanswer: Mapped[str] = mapped_column(String(64), default="none:")
    pop: Mapped[str] = mapped_column(String(32))
    plan: Mapped[str] = mapped_column(String(16), default="per_minute")
    cnam_lookup: Mapped[bool] = mapped_column(Boolean, default=False)
    e911_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    dial_time: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateDeckVersionRow(Base):
    """One imported rate deck (a route's whole deck): who, when, how many rows, and the checksum
    of its compiled form. Versions are kept so that a rollback is one step."""

    __tablename__ = "rate_deck_versions"
    __table_args__ = (UniqueConstraint("route", "version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    route: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    row_count: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))  # sha256 of the compiled deck
    actor: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateDeckDataRow(Base):
    """A version's compiled deck (``domain.deck.RateDeck.to_bytes``), apart from the version row
    so that listing versions never reads megabytes."""

    __tablename__ = "rate_deck_data"
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("rate_deck_versions.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RateDeckRow(Base):
    """Which version of a route's deck answers calls: one row per route, updated (and so
    locked) by every import and rollback."""

    __tablename__ = "rate_decks"
    route: Mapped[str] = mapped_column(String(16), primary_key=True)
    live_version_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("rate_deck_versions.id"), nullable=True
    )


class RateDeckEventRow(Base):
    """The audit of rate decks: every import and rollback, by whom, from which version."""

    __tablename__ = "rate_deck_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    route: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # import | rollback
    version: Mapped[int] = mapped_column(Integer)
    previous: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PolicyChangeRow(Base):
    """A change feed for compiled policy snapshots: one row per change that affects call
    decisions (account '*' for rate decks), written in the same transaction as the change.
    Snapshot caches in every process poll its highest ``seq`` cheaply."""

    __tablename__ = "policy_changes"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    account: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TransactionRow(Base):
    """The ledger: the balance is the sum of ``amount`` (deposits positive, charges negative)."""

    __tablename__ = "transactions"
    # (at, id): the keyset of the statement pages (services.history), newest first.
    __table_args__ = (Index("ix_transactions_account_at_id", "account_id", "at", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # deposit, call, did_fee, adjustment
    amount: Mapped[Decimal] = money_column("amount")
    description: Mapped[str] = mapped_column(String(200), default="")
    call_id: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)


class CdrRow(Base):
    __tablename__ = "cdrs"
    # (started_at, id): the keyset of the call history pages (services.history).
    __table_args__ = (Index("ix_cdrs_account_started_id", "account_id", "started_at", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    caller: Mapped[str] = mapped_column(String(32))  # 100000 or 100000_office
    dialed: Mapped[str] = mapped_column(String(64))  # inbound: the DID called
    # outbound (the account's device called out) or inbound (a carrier called a DID of the
    # account); rows from before revision 0003 are outbound.
    direction: Mapped[str] = mapped_column(
        String(8), default="outbound", server_default=text("'outbound'")
    )
    # Inbound: the remote party's number as the carrier presented it (null when withheld).
    caller_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime] = mapped_column()
    disposition: Mapped[str] = mapped_column(String(16))
    # Why an answered call ended (hangup, max_duration, rtp_timeout); null when not reported.
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    route: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rate_per_minute: Mapped[Decimal] = money_column("rate_per_minute", default=Decimal(0))
    increment_s: Mapped[int] = mapped_column(Integer, default=60)
    flat_fee: Mapped[Decimal] = money_column("flat_fee", default=Decimal(0))
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    billed_s: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Decimal] = money_column("cost", default=Decimal(0))

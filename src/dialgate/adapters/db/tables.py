"""The tables the call path reads, as SQLAlchemy Core ``Table``s: accounts and what their DIDs
route to, the ledger and call records, rate decks and the policy change feed.

Deciding, rating and charging a call, and the light commands (``dialgate balance``, ``rates
show``, ``authorize``), query these tables with Core statements and never load the ORM:
importing ``sqlalchemy.orm`` and mapping classes costs about a fifth of such a command's start-up
(docs/performance.md, "CLI start-up"). ``models_core`` maps its row classes onto these very
tables, so the schema is defined once; ``models`` adds the rest of it to the same ``metadata``.
Their foreign keys point only at each other, so a process that has imported just this module
can read and write them. ``tests/integration/test_cli_imports.py`` checks which commands load
which.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

from dialgate.adapters.db.micros import Micros

metadata = MetaData()


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


# BigInteger ids that are still autoincrementing INTEGER PRIMARY KEYs on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def money(name: str, *, nullable: bool = False, default: Decimal | None = None) -> Column[Any]:
    """A money column: stored as ``<name>_micros``, read and written (its key) as ``name``."""
    return Column(f"{name}_micros", Micros(), key=name, nullable=nullable, default=default)


def _id() -> Column[Any]:
    return Column("id", BigId, primary_key=True)


def _owner(*, index: bool | None = True) -> Column[Any]:
    """The account a row belongs to; deleting the account deletes the row. ``index=None``: the
    table's own composite index starts with it."""
    return Column(
        "account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=index
    )


def _created() -> Column[Any]:
    return Column("created_at", UTCDateTime(), nullable=False, default=utcnow)


pops = Table(
    "pops", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(32), nullable=False, unique=True),
    Column("city", String(64), nullable=False),
    Column("hostname", String(128), nullable=False),
    Column("country", String(2), nullable=False),
)

accounts = Table(
    "accounts", metadata,
    _id(),
    Column("number", String(16), nullable=False, unique=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("language", String(5), nullable=False, default="en"),
    Column("portal_password_hash", String(255), nullable=False),
    Column("settings", JSON, nullable=False, default=dict),
    # The prepaid balance is the sum of the ledger (transactions); this column is that sum, kept
    # in the same transaction as each ledger row with an atomic UPDATE, so reads are cheap.
    money("balance", default=Decimal(0)),
    # Bumped on every change that affects call decisions; snapshot caches compare it.
    Column("version", Integer, nullable=False, default=1),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime(), nullable=True),
    _created(),
)

subaccounts = Table(
    "subaccounts", metadata,
    _id(),
    _owner(),
    Column("username", String(12), nullable=False),
    Column("name", String(32), nullable=False, unique=True),  # <main>_<username>
    # Own settings plus the overrides it has; a key absent from the overrides inherits.
    Column("settings", JSON, nullable=False, default=dict),
    Column("version", Integer, nullable=False, default=1),
    _created(),
    UniqueConstraint("account_id", "username"),
    # AUTOINCREMENT: the VoIP.ms API names sub accounts by id, which must never be reused.
    sqlite_autoincrement=True,
)

mailboxes = Table(
    "mailboxes", metadata,
    _id(),
    _owner(),
    Column("mailbox", String(16), nullable=False),
    Column("name", String(64), nullable=False, default=""),
    Column("email", String(254), nullable=False, default=""),
    UniqueConstraint("account_id", "mailbox"),
)

# Things a DID can route to besides accounts, mailboxes and call forwardings: IVRs, queues, ring
# groups (grp) and time conditions (tc).
routing_targets = Table(
    "routing_targets", metadata,
    _id(),
    _owner(),
    Column("kind", String(8), nullable=False),
    Column("ref", String(32), nullable=False),
    Column("name", String(64), nullable=False, default=""),
    # Kind-specific data: grp -> {"members": [...]}; tc -> {...}.
    Column("data", JSON, nullable=False, default=dict),
    UniqueConstraint("account_id", "kind", "ref"),
)

# A call forwarding entry (VoIP.ms "forwarding"): a phone number that DIDs route or fail over to
# as ``fwd:<id>``. Calls forwarded to it are outbound calls of the account.
forwardings = Table(
    "forwardings", metadata,
    _id(),
    _owner(),
    Column("phone_number", String(32), nullable=False),
    Column("description", String(64), nullable=False, default=""),
    Column("callerid_override", String(20), nullable=False, default=""),
    Column("dtmf_digits", String(32), nullable=False, default=""),
    Column("pause", Numeric(3, 1), nullable=False, default=Decimal(0)),
    Column("diversion_header", Boolean, nullable=False, default=False),
)

dids = Table(
    "dids", metadata,
    _id(),
    _owner(),
    Column("number", String(20), nullable=False, unique=True),
    Column("description", String(100), nullable=False, default=""),
    Column("routing", String(64), nullable=False),
    Column("failover_busy", String(64), nullable=False, default="none:"),
    Column("failover_unreachable", String(64), nullable=False, default="none:"),
    Column("failover_noanswer", String(64), nullable=False, default="none:"),
    Column("pop", String(32), nullable=False),
    Column("plan", String(16), nullable=False, default="per_minute"),
    Column("cnam_lookup", Boolean, nullable=False, default=False),
    Column("e911_enabled", Boolean, nullable=False, default=False),
    Column("dial_time", Integer, nullable=False, default=60),
    _created(),
)

# One imported rate deck (a route's whole deck): who, when, how many rows, and the checksum of
# its compiled form. Versions are kept so that a rollback is one step.
rate_deck_versions = Table(
    "rate_deck_versions", metadata,
    _id(),
    Column("route", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("checksum", String(64), nullable=False),  # sha256 of the compiled deck
    Column("actor", String(64), nullable=False),
    Column("source", String(255), nullable=False, default=""),
    _created(),
    UniqueConstraint("route", "version"),
)

# A version's compiled deck (``domain.deck.RateDeck.to_bytes``), apart from the version row so
# that listing versions never reads megabytes.
rate_deck_data = Table(
    "rate_deck_data", metadata,
    Column(
        "version_id", BigId, ForeignKey("rate_deck_versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("data", LargeBinary, nullable=False),
)

# Which version of a route's deck answers calls: one row per route, updated (and so locked) by
# every import and rollback.
rate_decks = Table(
    "rate_decks", metadata,
    Column("route", String(16), primary_key=True),
    Column("live_version_id", BigId, ForeignKey("rate_deck_versions.id"), nullable=True),
)

# The audit of rate decks: every import and rollback, by whom, from which version.
rate_deck_events = Table(
    "rate_deck_events", metadata,
    _id(),
    Column("route", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False, default=utcnow),
    Column("actor", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # import | rollback
    Column("version", Integer, nullable=False),
    Column("previous", Integer, nullable=True),
)

# A change feed for compiled policy snapshots: one row per change that affects call decisions
# (account '*' for rate decks), written in the same transaction as the change. Snapshot caches
# in every process poll its highest ``seq`` cheaply. ``kind`` "balance": only the balance
# changed (a cache updates it in the snapshots it holds); "policy": anything else (rebuilt).
policy_changes = Table(
    "policy_changes", metadata,
    Column("seq", BigId, primary_key=True),
    Column("account", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False, default=utcnow),
    Column("kind", String(16), nullable=False, server_default="policy"),
)

# The ledger: the balance is the sum of ``amount`` (deposits positive, charges negative).
transactions = Table(
    "transactions", metadata,
    _id(),
    _owner(index=None),
    Column("at", UTCDateTime(), nullable=False, default=utcnow),
    Column("kind", String(16), nullable=False),  # deposit, call, did_fee, adjustment
    money("amount"),
    Column("description", String(200), nullable=False, default=""),
    Column("call_id", String(128), nullable=True, unique=True),
    # (at, id): the keyset of the statement pages (services.history), newest first.
    Index("ix_transactions_account_at_id", "account_id", "at", "id"),
)

cdrs = Table(
    "cdrs", metadata,
    _id(),
    Column("call_id", String(128), nullable=False, unique=True),
    _owner(index=None),
    Column("caller", String(32), nullable=False),  # 100000 or 100000_office
    Column("dialed", String(64), nullable=False),  # inbound: the DID called
    # outbound (the account's device called out) or inbound (a carrier called a DID of the
    # account); rows from before revision 0003 are outbound.
    Column(
        "direction", String(8), nullable=False, default="outbound",
        server_default=text("'outbound'"),
    ),
    # Inbound: the remote party's number as the carrier presented it (null when withheld).
    Column("caller_number", String(64), nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("answered_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=False),
    Column("disposition", String(16), nullable=False),
    # Why an answered call ended (hangup, max_duration, rtp_timeout); null when not reported.
    Column("end_reason", String(16), nullable=True),
    Column("route", String(16), nullable=True),
    money("rate_per_minute", default=Decimal(0)),
    Column("increment_s", Integer, nullable=False, default=60),
    money("flat_fee", default=Decimal(0)),
    Column("duration_s", Integer, nullable=False, default=0),
    Column("billed_s", Integer, nullable=False, default=0),
    money("cost", default=Decimal(0)),
    # (started_at, id): the keyset of the call history pages (services.history).
    Index("ix_cdrs_account_started_id", "account_id", "started_at", "id"),
)

"""SQLAlchemy 2 models: the whole schema, created by the first Alembic migration.

Settings live in a JSON column per account and sub account (the key set is the public contract in
``domain.settings``; a new key needs no schema change). Money is ``Decimal`` in Python and whole
micro-units at rest (``Micros``: a BIGINT column named ``<name>_micros``); times are UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dialgate.domain import settings as settings_registry

# isort: off
# The tables the call path reads live in models_core (see its docstring); re-exported here,
# so that ``models`` stays the whole schema.
from dialgate.adapters.db.models_core import (
    AccountRow as AccountRow,
    Base as Base,
    BigId as BigId,
    CdrRow as CdrRow,
    DidRow as DidRow,
    ForwardingRow as ForwardingRow,
    MailboxRow as MailboxRow,
    PolicyChangeRow as PolicyChangeRow,
    PopRow as PopRow,
    RateDeckDataRow as RateDeckDataRow,
    RateDeckEventRow as RateDeckEventRow,
    RateDeckRow as RateDeckRow,
    RateDeckVersionRow as RateDeckVersionRow,
    RoutingTargetRow as RoutingTargetRow,
    SubAccountRow as SubAccountRow,
    TransactionRow as TransactionRow,
    UTCDateTime as UTCDateTime,
    money_column as money_column,
    utcnow as utcnow,
)
# isort: on


class SubscriberRow(Base):
    """Kamailio's ``subscriber`` table (auth_db schema version 7) plus the per-account SIP
    attributes Kamailio loads with the credentials. Only digests are stored, never passwords."""

    __tablename__ = "subscriber"
    __table_args__ = (UniqueConstraint("username", "domain", name="subscriber_account_idx"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), default="")
    domain: Mapped[str] = mapped_column(String(64), default="")
    password: Mapped[str] = mapped_column(String(64), default="")  # always empty
    ha1: Mapped[str] = mapped_column(String(128), default="")
    ha1b: Mapped[str] = mapped_column(String(128), default="")
    # Defaults from the settings registry, the one place that knows them.
    max_expiry: Mapped[int] = mapped_column(
        Integer, default=lambda: settings_registry.default("max_expiry")
    )
    encrypted_sip: Mapped[int] = mapped_column(Integer, default=0)
    nat: Mapped[str] = mapped_column(
        String(8), default=lambda: settings_registry.default("nat")
    )
    # The account's ``enabled`` flag (main and sub accounts alike): Kamailio refuses REGISTER
    # when it is 0. An integer, like the other attributes auth_db loads into AVPs.
    enabled: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


class LocationRow(Base):
    """Kamailio's ``location`` table (usrloc schema version 9): where each device registered.
    Written and read by Kamailio only, when ``kamailio-config --registrations`` is
    ``database`` or ``shared``; Dialgate creates it so one migration owns the whole schema.
    Times are Kamailio's naive local timestamps, not Dialgate's UTC ones."""

    __tablename__ = "location"
    __table_args__ = (
        UniqueConstraint("ruid", name="location_ruid_idx"),
        Index("location_account_contact_idx", "username", "domain", "contact"),
        Index("location_expires_idx", "expires"),
        Index("location_connection_idx", "server_id", "connection_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ruid: Mapped[str] = mapped_column(String(64), server_default="")
    username: Mapped[str] = mapped_column(String(64), server_default="")
    domain: Mapped[str | None] = mapped_column(String(64), nullable=True)
    contact: Mapped[str] = mapped_column(String(512), server_default="")
    received: Mapped[str | None] = mapped_column(String(128), nullable=True)
    path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    expires: Mapped[datetime] = mapped_column(
        DateTime(), server_default=text("'2030-05-28 21:32:15'")
    )
    q: Mapped[float] = mapped_column(Float, server_default=text("1.0"))
    callid: Mapped[str] = mapped_column(String(255), server_default="Default-Call-ID")
    cseq: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    last_modified: Mapped[datetime] = mapped_column(
        DateTime(), server_default=text("'2000-01-01 00:00:01'")
    )
    flags: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    cflags: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    user_agent: Mapped[str] = mapped_column(String(255), server_default="")
    socket: Mapped[str | None] = mapped_column(String(64), nullable=True)
    methods: Mapped[int | None] = mapped_column(Integer, nullable=True)
    instance: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reg_id: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    server_id: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    connection_id: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    keepalive: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    partition: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class KamailioVersionRow(Base):
    """Kamailio's ``version`` table; auth_db refuses to start unless subscriber = 7."""

    __tablename__ = "version"
    table_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    table_version: Mapped[int] = mapped_column(Integer, default=0)


class AuditRow(Base):
    """Append-only history of settings changes. Secrets appear as *** only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_account_at", "account_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(32))  # 100000 or 100000_office (or a DID)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    key: Mapped[str] = mapped_column(String(64))
    old: Mapped[str] = mapped_column(Text, default="")
    new: Mapped[str] = mapped_column(Text, default="")


class RateRow(Base):
    __tablename__ = "rates"
    __table_args__ = (UniqueConstraint("route", "prefix"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    route: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    destination: Mapped[str] = mapped_column(String(128))
    rate: Mapped[Decimal] = money_column("rate")
    increment: Mapped[int] = mapped_column(Integer, default=60)


class OutboxRow(Base):
    """Emails to send, written in the same transaction as what caused them."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    recipients: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"to": [...]}
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class BalanceAlertRow(Base):
    """Balance-threshold state per account, so reminders go out once a day at most."""

    __tablename__ = "balance_alerts"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    threshold: Mapped[Decimal | None] = money_column("threshold", nullable=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # public part, to find the row
    key_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SwitchTokenRow(Base):
    __tablename__ = "switch_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class VoipmsApiRow(Base):
    """VoIP.ms-compatible API access: off until enabled, limited to the allowed IPs."""

    __tablename__ = "voipms_api"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str] = mapped_column(String(255))
    allowed_ips: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"ips": [...]}


class PortalSessionRow(Base):
    """Server-side portal sessions: the cookie holds a random id, stored here only hashed."""

    __tablename__ = "portal_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


# --- the provider's operators (operator console and admin API; revision 0008) -----------------


class OperatorRow(Base):
    """A member of the provider's staff: ``admin`` (everything) or ``support`` (no money).
    Admins must use TOTP; the secret is needed to check codes, so it is stored (never shown
    again nor logged)."""

    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The TOTP time step (unix time // 30) of the last accepted code: a code is good once
    # (revision 0011), so one seen over a shoulder or a proxy cannot be replayed in its window.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class OperatorSessionRow(Base):
    """Console sessions, like the portal's: the cookie's token is stored hashed. ``mfa_done``
    turns true once the TOTP code was checked (admins); before, only the code page answers."""

    __tablename__ = "operator_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    mfa_done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class AdminApiKeyRow(Base):
    """Admin API keys: they act as their operator (with its role) on ``/admin/v1``."""

    __tablename__ = "admin_api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64), default="")
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OperatorAuditRow(Base):
    """What operators did (console and admin API), with who did it; append-only."""

    __tablename__ = "operator_audit"
    __table_args__ = (Index("ix_operator_audit_at", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    operator: Mapped[str] = mapped_column(String(254))  # email, or "cli"
    via: Mapped[str] = mapped_column(String(32))  # console, admin-api:<key id>, cli
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


# --- call history roll-up (revision 0011) -----------------------------------------------------


class CdrDayRow(Base):
    """Call records summed per UTC day and line, direction and disposition: the Call History
    totals and chart read whole days here instead of scanning every call of the range.
    ``services.cdr_rollup`` adds each record in the transaction that inserts it, so the sums
    always equal the ``cdrs`` rows."""

    __tablename__ = "cdr_days"
    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True,
        autoincrement=False,
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC day of started_at
    subject: Mapped[str] = mapped_column(String(32), primary_key=True)  # cdrs.caller
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)
    disposition: Mapped[str] = mapped_column(String(16), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)  # sum of duration_s
    billed_s: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[Decimal] = money_column("cost", default=Decimal(0))


class DecisionMinuteRow(Base):
    """Call decisions per minute, worker process and reason (allowed calls are reason ``ok``),
    for the console's live overview. Each worker counts in memory (the metrics tally) and adds
    what it counted since its last flush to its own row of the minute, about once a minute and
    at shutdown (``services.decision_log``), so no decision writes to the database."""

    __tablename__ = "decision_minutes"
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(48), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


# --- Kamailio's dialogs and record queues (revision 0012) ---------------------------------------


class KamailioDialogRow(Base):
    """Kamailio's ``dialog`` table (dialog schema version 7): the calls in progress of a node
    run with ``kamailio-config --dialogs database``, so a restarted Kamailio still knows them
    and records them when they end. Written and read by Kamailio only."""

    __tablename__ = "dialog"
    __table_args__ = (Index("dialog_hash_idx", "hash_entry", "hash_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash_entry: Mapped[int] = mapped_column(Integer)
    hash_id: Mapped[int] = mapped_column(Integer)
    callid: Mapped[str] = mapped_column(String(255))
    from_uri: Mapped[str] = mapped_column(String(255))
    from_tag: Mapped[str] = mapped_column(String(128))
    to_uri: Mapped[str] = mapped_column(String(255))
    to_tag: Mapped[str] = mapped_column(String(128))
    caller_cseq: Mapped[str] = mapped_column(String(20))
    callee_cseq: Mapped[str] = mapped_column(String(20))
    caller_route_set: Mapped[str | None] = mapped_column(String(512), nullable=True)
    callee_route_set: Mapped[str | None] = mapped_column(String(512), nullable=True)
    caller_contact: Mapped[str] = mapped_column(String(255))
    callee_contact: Mapped[str] = mapped_column(String(255))
    caller_sock: Mapped[str] = mapped_column(String(64))
    callee_sock: Mapped[str] = mapped_column(String(64))
    state: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sflags: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    iflags: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    toroute_name: Mapped[str | None] = mapped_column(String(32), nullable=True)
    req_uri: Mapped[str] = mapped_column(String(255))
    xdata: Mapped[str | None] = mapped_column(String(512), nullable=True)


class KamailioDialogVarRow(Base):
    """Kamailio's ``dialog_vars`` table (version 1): the dialog variables the call record is
    made of (account, rate, start and answer times, ...), kept with ``--dialogs database``."""

    __tablename__ = "dialog_vars"
    __table_args__ = (Index("dialog_vars_hash_idx", "hash_entry", "hash_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash_entry: Mapped[int] = mapped_column(Integer)
    hash_id: Mapped[int] = mapped_column(Integer)
    dialog_key: Mapped[str] = mapped_column(String(128))
    dialog_value: Mapped[str] = mapped_column(String(512))


class KamailioCdrQueueRow(Base):
    """Kamailio's mqueue table for the ``cdr`` queue: call records not yet delivered to
    Dialgate when Kamailio stops (written at shutdown, read back and emptied at start-up, with
    ``--dialogs database``). ``key`` is the Call-ID, ``val`` the record's JSON."""

    __tablename__ = "cdr"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), server_default="")
    val: Mapped[str] = mapped_column(Text, server_default="")


class KamailioCdrSendingRow(Base):
    """Kamailio's mqueue table for the ``cdrsending`` queue: the batch being posted when
    Kamailio stops, posted again after the restart (records are idempotent by Call-ID)."""

    __tablename__ = "cdrsending"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), server_default="")
    val: Mapped[str] = mapped_column(Text, server_default="")

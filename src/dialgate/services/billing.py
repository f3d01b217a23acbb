"""Call records, the ledger and the prepaid balance.

The balance is the ledger's sum. Ledger rows are written in the same transaction as one atomic
``UPDATE accounts SET balance = balance + :sum ... RETURNING balance`` (one row for a deposit or
a single record, an account's charges for a batch): the UPDATE serializes concurrent writers on
the account row (SQLite: on the database, BEGIN IMMEDIATE), so no update is lost and each
writer knows the exact balance before and after its own change, which is what the threshold
notification needs.

``record_cdr`` is idempotent by call id: the CDR insert is ``ON CONFLICT DO NOTHING``; a second
submission (even a concurrent one, which waits on the first's unique-index entry) charges nothing.
Inbound records (calls to a DID) go through the same insert and are never charged: no ledger row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from itertools import groupby
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update

from dialgate.adapters.db import repo_cdrs, tables
from dialgate.domain import billing as b
from dialgate.domain import money
from dialgate.domain import values as v
from dialgate.domain.errors import Conflict, DialgateError, NotFound, ValidationFailed
from dialgate.lazy import lazy_import
from dialgate.services import lookups, policy_feed
from dialgate.services.uow import UnitOfWork, use_case

if TYPE_CHECKING:
    from dialgate.adapters import metrics
    from dialgate.adapters.db import models_core
    from dialgate.adapters.db.models_core import AccountRow
    from dialgate.services import cdr_rollup, notifications
else:  # prometheus_client, the PostgreSQL dialect, Babel and phonenumbers load when money
    # moves, not for a balance read
    metrics = lazy_import("dialgate.adapters.metrics")
    models_core = lazy_import("dialgate.adapters.db.models_core")  # the ORM: when money moves
    cdr_rollup = lazy_import("dialgate.services.cdr_rollup")
    notifications = lazy_import("dialgate.services.notifications")

DEPOSIT = v.Money(low=Decimal("0.01"), high=Decimal(100000), places=2)
TYPE_LABELS = {"deposit": "Deposit", "call": "Call", "did_fee": "DID", "adjustment": "Adjustment"}


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    amount: Decimal  # deposits positive, charges negative
    description: str
    call_id: str | None = None


def _post(
    uow: UnitOfWork,
    account: AccountRow,
    entries: Sequence[LedgerEntry],
    *,
    kind: str,
    now: datetime,
) -> Decimal:
    """Ledger rows of one account and one atomic balance update by their sum; returns the new
    balance. A batch of call records posts each account's charges together: one insert, one
    update and one policy-feed entry (each entry makes every deciding process read the
    account's balance again), not one of each per call. The threshold check over the batch finds the
    crossing a call-by-call check would: charges only ever lower the balance."""
    uow.execute(
        insert(tables.transactions),
        [
            {"account_id": account.id, "at": now, "kind": kind, "amount": entry.amount,
             "description": entry.description[:200], "call_id": entry.call_id}
            for entry in entries
        ],
    )
    # A rolled-back transaction counts too (rare).
    metrics.LEDGER_WRITES.labels(kind).inc(len(entries))
    total = sum((entry.amount for entry in entries), Decimal(0))
    accounts = tables.accounts.c
    after: Decimal = uow.execute(
        update(tables.accounts)
        .where(accounts.id == account.id)
        .values(balance=accounts.balance + total)
        .returning(accounts.balance)
    ).scalar_one()
    after = Decimal(after).quantize(b.LEDGER_PLACES)
    account.balance = after
    # The balance caps call durations: compiled policy snapshots must see the new one (each
    # deciding process updates the balance of the snapshots it holds; nothing is rebuilt).
    policy_feed.policy_changed(uow, account, kind=policy_feed.BALANCE)
    notifications.after_balance_change(uow, account, before=after - total, after=after, now=now)
    return after


def current_balance(uow: UnitOfWork, account_number: str) -> Decimal:
    accounts = tables.accounts.c
    value = uow.scalar(select(accounts.balance).where(accounts.number == account_number))
    if value is None:
        raise NotFound("account", account_number)
    return Decimal(value).quantize(b.LEDGER_PLACES)


@dataclass(frozen=True, slots=True)
class CdrResult:
    call_id: str
    account: str
    disposition: str
    duration_s: int
    billed_s: int
    cost: Decimal
    duplicate: bool
    balance: Decimal
    direction: str = "outbound"

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "account": self.account,
            "direction": self.direction,
            "disposition": self.disposition,
            "duration_s": self.duration_s,
            "billed_s": self.billed_s,
            "cost": str(self.cost),
            "duplicate": self.duplicate,
            "balance": str(self.balance),
        }


def _cdr_values(record: b.CallRecord, account: AccountRow, price: b.Price) -> dict[str, Any]:
    return {
        "call_id": record.call_id,
        "account_id": account.id,
        "caller": record.account,
        "dialed": record.dialed,
        "direction": record.direction,
        "caller_number": record.caller_id,
        "end_reason": record.end_reason,
        "started_at": record.started_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "disposition": record.disposition,
        "route": record.route,
        "rate_per_minute": record.rate_per_minute,
        "increment_s": record.increment_s,
        "flat_fee": record.flat_fee,
        "duration_s": price.duration_s,
        "billed_s": price.billed_s,
        "cost": price.cost,
    }


def _insert_ignoring_duplicates(uow: UnitOfWork, rows: list[dict[str, Any]]) -> set[str]:
    """Insert call records; the call ids actually inserted (a known call id is skipped).

    One statement with the rows as parameters (SQLAlchemy's "insertmanyvalues"): it is
    compiled once and cached, whatever the batch size, unlike ``.values(rows)``."""
    if not rows:
        return set()
    # Imported here: the PostgreSQL dialect costs a read-only command (balance) 0.1-0.2 s.
    from sqlalchemy.dialects import postgresql, sqlite

    table = tables.cdrs
    dialect = postgresql if uow.dialect == "postgresql" else sqlite
    stmt = (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["call_id"])
        .returning(table.c.call_id)
    )
    inserted = set(uow.session.scalars(stmt, rows))
    # The daily roll-up moves in the same transaction, with exactly the rows written.
    cdr_rollup.add_records(uow, (row for row in rows if row["call_id"] in inserted))
    return inserted


def _charges(uow: UnitOfWork, account: AccountRow,
             calls: Sequence[tuple[b.CallRecord, b.Price]], now: datetime) -> Decimal:
    """Charge an account for answered calls (in the order given); returns the new balance."""
    return _post(
        uow,
        account,
        [
            LedgerEntry(
                -price.cost,
                f"Call to {record.dialed} ({record.account}, {price.billed_s} s)",
                record.call_id,
            )
            for record, price in calls
        ],
        kind="call",
        now=now,
    )


def _record_account(uow: UnitOfWork, record: b.CallRecord) -> AccountRow:
    """The main account a record is charged to (its sub account must exist too)."""
    main, user = lookups.split_subject(record.account)
    account = lookups.get_account(uow, main)
    if user is not None:
        lookups.get_subaccount(uow, account, user)
    return account


@use_case
def record_cdr(
    uow: UnitOfWork, payload: Mapping[str, Any], *, now: datetime | None = None
) -> CdrResult:
    """Price and record a finished call, charging it once however often it is submitted."""
    record = b.parse_record(payload)
    account = _record_account(uow, record)
    price = b.price(record)
    if not _insert_ignoring_duplicates(uow, [_cdr_values(record, account, price)]):
        row = models_core.CdrRow
        existing = uow.session.scalars(
            select(row).where(row.call_id == record.call_id, row.account_id == account.id)
        ).first()
        if existing is None:  # another account's call id: say nothing about it
            raise _call_id_in_use()
        return CdrResult(
            existing.call_id,
            existing.caller,
            existing.disposition,
            existing.duration_s,
            existing.billed_s,
            Decimal(existing.cost).quantize(b.LEDGER_PLACES),
            True,
            current_balance(uow, account.number),
            existing.direction,
        )
    balance = Decimal(account.balance)
    if price.cost > 0:
        balance = _charges(uow, account, [(record, price)], now or uow.now())
    return CdrResult(
        record.call_id,
        record.account,
        record.disposition,
        price.duration_s,
        price.billed_s,
        price.cost,
        False,
        current_balance(uow, account.number) if price.cost == 0 else balance,
        record.direction,
    )


def _call_id_in_use() -> Conflict:
    return Conflict("call_id_in_use", "call_id already recorded", field="call_id")


@dataclass(frozen=True, slots=True)
class CdrBatchResult:
    """What became of a batch: how many records were new, how many were already recorded,
    and which were refused (index in the batch, why)."""

    recorded: int
    duplicates: int
    rejected: list[tuple[int, DialgateError]]


@use_case
def record_cdrs(
    uow: UnitOfWork, payloads: Sequence[Mapping[str, Any]], *, now: datetime | None = None
) -> CdrBatchResult:
    """Record many finished calls at once: a switch sends what ended in the last tick
    together, so a busy POP costs one insert statement and one commit per batch, not a
    transaction per call. Every record is checked before anything is written; a refused one
    (bad field, unknown account, another account's call id) is reported by index and the
    others are recorded. The outcome of each record is the one ``record_cdr`` would give if
    the batch were sent one record at a time, in order: a call is charged once."""
    rejected: list[tuple[int, DialgateError]] = []
    owners: dict[str, AccountRow | DialgateError] = {}
    # Valid records grouped by call id, in batch order; only the first of each is inserted.
    by_call: dict[str, list[tuple[int, b.CallRecord, AccountRow, b.Price]]] = {}
    for index, payload in enumerate(payloads):
        try:
            record = b.parse_record(payload)
            owner = owners.get(record.account)
            if owner is None:
                try:
                    owner = owners[record.account] = _record_account(uow, record)
                except DialgateError as exc:
                    owner = owners[record.account] = exc
            if isinstance(owner, DialgateError):
                raise owner
        except DialgateError as exc:
            rejected.append((index, exc))
            continue
        by_call.setdefault(record.call_id, []).append((index, record, owner, b.price(record)))
    # Locks are taken in one global order, so that concurrent batches carrying the same calls
    # in different orders cannot deadlock (PostgreSQL): the insert takes each call id's
    # unique-index entry in call id order, and the charges take the account rows in id order.
    firsts = sorted((entries[0] for entries in by_call.values()), key=lambda e: e[1].call_id)
    inserted = _insert_ignoring_duplicates(
        uow, [_cdr_values(record, account, price) for _i, record, account, price in firsts]
    )
    # Who owns each call id now: the first sender for new ones, the database for known ones.
    holder = {call_id: entries[0][2].id for call_id, entries in by_call.items()
              if call_id in inserted}
    known = [call_id for call_id in by_call if call_id not in inserted]
    holder.update(repo_cdrs.owners_of_call_ids(uow.session, known))
    duplicates = 0
    when = now or uow.now()
    charges: list[tuple[AccountRow, b.CallRecord, b.Price]] = []
    for call_id, entries in by_call.items():
        for position, (index, record, account, price) in enumerate(entries):
            if position == 0 and call_id in inserted:
                if price.cost > 0:
                    charges.append((account, record, price))
            elif holder.get(call_id) == account.id:
                duplicates += 1
            else:  # another account's call id: refuse it, without saying whose
                rejected.append((index, _call_id_in_use()))
    # By account, in id order (stable: each account's calls stay in batch order).
    for _id, group in groupby(sorted(charges, key=lambda c: c[0].id), key=lambda c: c[0].id):
        calls = list(group)
        _charges(uow, calls[0][0], [(record, price) for _a, record, price in calls], when)
    rejected.sort(key=lambda item: item[0])
    return CdrBatchResult(len(inserted), duplicates, rejected)


@use_case
def deposit(
    uow: UnitOfWork,
    account_number: str,
    amount: object,
    *,
    description: str = "Deposit",
    now: datetime | None = None,
) -> Decimal:
    """Add funds; returns the new balance. A deposit that lifts the balance back to the
    threshold or above ends the low-balance reminders."""
    return _add_funds(uow, account_number, amount, "deposit", description, now)


def _add_funds(
    uow: UnitOfWork,
    account_number: str,
    amount: object,
    kind: str,
    description: str,
    now: datetime | None,
) -> Decimal:
    """A deposit or a provider's credit, bounded like a deposit. A balance is at most
    ``money.MAX_BALANCE``: funds beyond it are refused (checked on the balance the atomic
    update returns, so concurrent deposits cannot pass it together; the caller's transaction
    is rolled back by the error)."""
    account = lookups.get_account(uow, account_number)
    try:
        value: Decimal = DEPOSIT.parse(amount, v.NO_CONTEXT)
    except v.InvalidValue as exc:
        raise ValidationFailed([exc.field_error("amount")]) from None
    after = _post(uow, account, [LedgerEntry(value, description)], kind=kind,
                  now=now or uow.now())
    if after > money.MAX_BALANCE:
        raise ValidationFailed.single(
            "amount",
            "balance_too_high",
            f"would take the balance to {after}, above the highest balance "
            f"({money.MAX_BALANCE})",
        )
    return after


@dataclass(frozen=True, slots=True)
class BalanceView:
    account: str
    current_balance: Decimal
    spent_total: Decimal
    calls_total: int
    time_total_s: int
    spent_today: Decimal
    calls_today: int
    time_today_s: int

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "current_balance": str(self.current_balance),
            "spent_total": str(self.spent_total),
            "calls_total": self.calls_total,
            "time_total_s": self.time_total_s,
            "spent_today": str(self.spent_today),
            "calls_today": self.calls_today,
            "time_today_s": self.time_today_s,
        }

    def to_voipms(self) -> dict[str, str]:
        """getBalance (advanced) as VoIP.ms spells it: every value a string."""
        return {
            "current_balance": str(self.current_balance),
            "spent_total": str(self.spent_total),
            "calls_total": str(self.calls_total),
            "time_total": b.hms(self.time_total_s),
            "spent_today": str(self.spent_today),
            "calls_today": str(self.calls_today),
            "time_today": b.hms(self.time_today_s),
        }


def _spent(uow: UnitOfWork, account_id: int, since: datetime | None) -> Decimal:
    ledger = tables.transactions.c
    query = select(func.coalesce(func.sum(ledger.amount), 0)).where(
        ledger.account_id == account_id, ledger.amount < 0
    )
    if since is not None:
        query = query.where(ledger.at >= since)
    return -Decimal(uow.execute(query).scalar_one()).quantize(b.LEDGER_PLACES) + Decimal(0)


def _calls(uow: UnitOfWork, account_id: int, since: datetime | None) -> tuple[int, int]:
    cdrs = tables.cdrs.c
    query = select(func.count(cdrs.id), func.coalesce(func.sum(cdrs.duration_s), 0)).where(
        cdrs.account_id == account_id
    )
    if since is not None:
        query = query.where(cdrs.started_at >= since)
    count, seconds = uow.execute(query).one()
    return int(count), int(seconds)


def balance(uow: UnitOfWork, account_number: str, *, now: datetime | None = None) -> BalanceView:
    """The balance with getBalance's advanced figures (today = since 00:00 UTC)."""
    account = lookups.get_account_record(uow, account_number)  # a read: no ORM object
    midnight = datetime.combine((now or uow.now()).astimezone(UTC).date(), time(0), tzinfo=UTC)
    calls_total, time_total = _calls(uow, account.id, None)
    calls_today, time_today = _calls(uow, account.id, midnight)
    return BalanceView(
        account=account.number,
        current_balance=Decimal(account.balance).quantize(b.LEDGER_PLACES),
        spent_total=_spent(uow, account.id, None),
        calls_total=calls_total,
        time_total_s=time_total,
        spent_today=_spent(uow, account.id, midnight),
        calls_today=calls_today,
        time_today_s=time_today,
    )


@dataclass(frozen=True, slots=True)
class TransactionView:
    at: datetime
    uniqueid: str
    kind: str
    description: str
    amount: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "uniqueid": self.uniqueid,
            "kind": self.kind,
            "description": self.description,
            "amount": str(self.amount),
        }

    def to_voipms(self) -> dict[str, str]:
        """getTransactionHistory's element (``ammount`` is VoIP.ms's spelling)."""
        return {
            "date": self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "uniqueid": self.uniqueid,
            "type": TYPE_LABELS.get(self.kind, self.kind),
            "description": self.description,
            "ammount": str(self.amount),
        }


def transaction_history(
    uow: UnitOfWork, account_number: str, date_from: date, date_to: date
) -> list[TransactionView]:
    """Ledger rows between two UTC dates, both included, oldest first."""
    if date_to < date_from:
        raise ValidationFailed.single("date_to", "before_date_from", "must not be before date_from")
    account = lookups.get_account(uow, account_number)
    start = datetime.combine(date_from, time(0), tzinfo=UTC)
    # The last instant of date_to (not midnight after it: date.max has no day after it).
    end = datetime.combine(date_to, time.max, tzinfo=UTC)
    ledger = tables.transactions.c
    rows = uow.execute(
        select(tables.transactions)
        .where(ledger.account_id == account.id, ledger.at >= start, ledger.at <= end)
        .order_by(ledger.at, ledger.id)
    )
    return [
        TransactionView(
            row.at,
            row.call_id or str(row.id),
            row.kind,
            row.description,
            Decimal(row.amount).quantize(b.LEDGER_PLACES),
        )
        for row in rows
    ]


@use_case
def credit(
    uow: UnitOfWork,
    account_number: str,
    amount: object,
    *,
    description: str,
    now: datetime | None = None,
) -> Decimal:
    """A credit from the provider (goodwill, a refund): an ``adjustment`` ledger row, the same
    bounds as a deposit; returns the new balance."""
    return _add_funds(uow, account_number, amount, "adjustment", description, now)

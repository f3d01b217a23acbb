"""Call history and statements: the call records and ledger of one account, filtered, totalled,
paged and exported.

Paging is by keyset, newest first: a page asks for rows strictly older than the last one it
showed, ``(started_at, id) < (cursor)``, which the index ``(account_id, started_at, id)`` answers
by reading only the rows it returns, however deep the page (an OFFSET would read and skip every
row before it). A cursor is opaque to callers: ``<started_at ISO>|<id>`` in URL-safe base64.

Money is read through the models (Decimal), summed with ``func.sum`` over the mapped columns, so
a change of the columns' storage stays inside the models.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, cast, func, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Date

from dialgate.adapters.db.models import CdrDayRow, CdrRow, TransactionRow
from dialgate.domain import billing as b
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.services import lookups
from dialgate.services.uow import UnitOfWork

MAX_PAGE = 500
DEFAULT_PAGE = 50
MAX_RANGE_DAYS = 366
SEARCH = re.compile(r"[0-9+*#]{1,32}")
TRANSACTION_KINDS = ("deposit", "call", "did_fee", "adjustment")


# --- filters ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CdrFilter:
    """What the Call History page, ``GET /v1/cdrs`` and ``getCDR`` filter by.

    ``start``/``end`` are instants (end excluded); ``subject`` is ``100000`` or
    ``100000_office`` (None: every line of the account); ``dispositions`` is a subset of
    ``billing.DISPOSITIONS``; ``search`` is a digit string found in the dialed number or the
    caller's number; ``billing`` is all, free or billed."""

    start: datetime
    end: datetime
    subject: str | None = None
    direction: str | None = None
    dispositions: frozenset[str] = frozenset(b.DISPOSITIONS)
    search: str | None = None
    did: str | None = None
    billing: str = "all"


def month_start(today: date) -> date:
    return today.replace(day=1)


def parse_date(raw: str | None, name: str, default: date) -> date:
    if raw is None or raw.strip() == "":
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed.single(name, "invalid_date", "must be a date: YYYY-MM-DD") from None


def _shift(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the ends of the calendar (date.min/date.max are valid)."""
    try:
        return moment + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC) if delta > timedelta(0) else moment


def day_range(
    date_from: date, date_to: date, *, offset: timedelta = timedelta(0),
    max_days: int | None = MAX_RANGE_DAYS,
) -> tuple[datetime, datetime]:
    """The instants [start, end) of the days from..to (both included) at UTC ``offset``."""
    if date_to < date_from:
        raise ValidationFailed.single("to", "before_from", "must not be before from")
    if max_days is not None and (date_to - date_from).days + 1 > max_days:
        raise ValidationFailed.single(
            "to", "range_too_long", f"the range must be at most {max_days} days"
        )
    start = _shift(datetime.combine(date_from, time(0), tzinfo=UTC), -offset)
    end = _shift(datetime.combine(date_to, time(0), tzinfo=UTC), timedelta(days=1) - offset)
    return start, end


def make_filter(
    uow: UnitOfWork,
    account_number: str,
    *,
    start: datetime,
    end: datetime,
    subject: str | None = None,
    direction: str | None = None,
    dispositions: list[str] | None = None,
    search: str | None = None,
) -> CdrFilter:
    """A filter checked against the account: every bad field is reported, naming its rule."""
    account = lookups.get_account(uow, account_number)
    subject = (subject or "").strip() or None
    error = None
    if subject is not None and subject != account.number:
        main, user = lookups.split_subject(subject)
        if main != account.number or user is None or (
            lookups.find_subaccount(uow, account, user) is None
        ):
            error = FieldError("account", "unknown_account",
                               "must be this account or one of its sub accounts")
    return _checked_filter(start=start, end=end, subject=subject, subject_error=error,
                           direction=direction, dispositions=dispositions, search=search)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cdr_where(account_id: int | None, f: CdrFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        CdrRow.started_at >= f.start,
        CdrRow.started_at < f.end,
    ]
    if account_id is not None:
        where.append(CdrRow.account_id == account_id)
    if f.subject is not None:
        where.append(CdrRow.caller == f.subject)
    if f.direction is not None:
        where.append(CdrRow.direction == f.direction)
    if f.dispositions != frozenset(b.DISPOSITIONS):
        where.append(CdrRow.disposition.in_(sorted(f.dispositions)))
    if f.search is not None:
        pattern = f"%{_escape_like(f.search)}%"
        where.append(or_(CdrRow.dialed.like(pattern, escape="\\"),
                         CdrRow.caller_number.like(pattern, escape="\\")))
    if f.did is not None:
        where.append(and_(CdrRow.direction == "inbound", CdrRow.dialed == f.did))
    if f.billing == "free":
        where.append(CdrRow.cost == 0)
    elif f.billing == "billed":
        where.append(CdrRow.cost > 0)
    return where


# --- cursors ------------------------------------------------------------------------------------


def encode_cursor(at: datetime, row_id: int) -> str:
    raw = f"{at.astimezone(UTC).isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, _, id_text = raw.partition("|")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError(at_text)
        return at, int(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed.single(
            "cursor", "invalid_cursor", "must be a cursor this API returned"
        ) from None


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed.single("limit", "out_of_range", f"must be 1 to {MAX_PAGE}")
    return limit


# --- call records -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CdrView:
    id: int
    call_id: str
    subject: str  # the line that made or took the call
    direction: str
    dialed: str
    caller_number: str | None
    started_at: datetime
    answered_at: datetime | None
    disposition: str
    duration_s: int
    billed_s: int
    rate_per_minute: Decimal
    cost: Decimal
    route: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "account": self.subject,
            "direction": self.direction,
            "dialed": self.dialed,
            "caller_number": self.caller_number,
            "started_at": self.started_at.isoformat(),
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            "disposition": self.disposition,
            "duration_s": self.duration_s,
            "billed_s": self.billed_s,
            "rate_per_minute": str(self.rate_per_minute),
            "cost": str(self.cost),
            "route": self.route,
        }


def _cdr_view(row: CdrRow) -> CdrView:
    return CdrView(
        id=row.id,
        call_id=row.call_id,
        subject=row.caller,
        direction=row.direction,
        dialed=row.dialed,
        caller_number=row.caller_number,
        started_at=row.started_at,
        answered_at=row.answered_at,
        disposition=row.disposition,
        duration_s=row.duration_s,
        billed_s=row.billed_s,
        rate_per_minute=Decimal(row.rate_per_minute).normalize() + Decimal(0),
        cost=Decimal(row.cost).quantize(b.LEDGER_PLACES),
        route=row.route,
    )


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    next_cursor: str | None  # None: this is the last page


F = TypeVar("F", CdrFilter, "TransactionFilter")


def _from_cursor(f: F, cursor: str | None, *, ascending: bool = False) -> F:
    """The filter with its time range cut at the cursor: the range is the one bound the index
    scan can use (SQLite takes a single upper bound, so a second one, the cursor's, would
    leave it scanning from the end of the range down to the cursor)."""
    after = decode_cursor(cursor)
    if after is None:
        return f
    at = after[0]
    if ascending:
        return replace(f, start=max(f.start, at))
    return replace(f, end=min(f.end, at + timedelta(microseconds=1)))


def _keyset_page(
    uow: UnitOfWork,
    query: Select[Any],
    at_col: Any,
    id_col: Any,
    cursor: str | None,
    limit: int,
    *,
    ascending: bool = False,
) -> tuple[list[Any], str | None]:
    after = decode_cursor(cursor)
    if after is not None:
        at, row_id = after
        # The filter's time range was already narrowed to the cursor (``_from_cursor``), so
        # the index seeks straight to it; this only settles ties on id.
        if ascending:
            query = query.where(or_(at_col > at, id_col > row_id))
        else:
            query = query.where(or_(at_col < at, id_col < row_id))
    order = (at_col.asc(), id_col.asc()) if ascending else (at_col.desc(), id_col.desc())
    rows = list(uow.session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return rows, (encode_cursor(getattr(last, at_col.key), last.id) if last is not None else None)


def cdr_page(
    uow: UnitOfWork,
    account_number: str | None,
    f: CdrFilter,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
) -> Page[CdrView]:
    """One page of call records, newest first, and the cursor of the next one: of one account,
    or (``account_number`` None: the operator console) of every account, where ``f.subject``
    narrows to one line. Across accounts there is no index on ``started_at`` alone, so a wide
    range of a big system reads the primary order: keep that range short."""
    account_id = None if account_number is None else lookups.get_account(uow, account_number).id
    query = select(CdrRow).where(*_cdr_where(account_id, _from_cursor(f, cursor)))
    rows, after = _keyset_page(uow, query, CdrRow.started_at, CdrRow.id, cursor, _limit(limit))
    return Page([_cdr_view(r) for r in rows], after)


def _checked_filter(
    *, start: datetime, end: datetime, subject: str | None, subject_error: FieldError | None,
    direction: str | None, dispositions: list[str] | None, search: str | None,
) -> CdrFilter:
    """The filter of the customer's and the operator's views, every bad field reported."""
    errors: list[FieldError] = [subject_error] if subject_error is not None else []
    direction = (direction or "").strip() or None
    if direction is not None and direction not in b.DIRECTIONS:
        errors.append(FieldError("direction", "invalid_choice", "must be outbound or inbound"))
    wanted = frozenset(d.strip() for d in (dispositions or []) if d.strip())
    if wanted - set(b.DISPOSITIONS):
        errors.append(FieldError("disposition", "invalid_choice",
                                 "must be answered, busy, noanswer or failed"))
    search = (search or "").strip() or None
    if search is not None and not SEARCH.fullmatch(search):
        errors.append(FieldError("q", "invalid_search", "must be 1 to 32 digits (and + * #)"))
    if errors:
        raise ValidationFailed(errors)
    return CdrFilter(start=start, end=end, subject=subject, direction=direction,
                     dispositions=wanted or frozenset(b.DISPOSITIONS), search=search)


def operator_filter(
    *, start: datetime, end: datetime, subject: str | None = None, direction: str | None = None,
    dispositions: list[str] | None = None, search: str | None = None,
) -> CdrFilter:
    """The customer filters without an account to check them against (the operator's view)."""
    subject = (subject or "").strip() or None
    error = None
    if subject is not None and not b.SUBJECT.fullmatch(subject):
        error = FieldError("account", "invalid_account", "must be 100000 or 100000_sub")
    return _checked_filter(start=start, end=end, subject=subject, subject_error=error,
                           direction=direction, dispositions=dispositions, search=search)


def iter_cdrs(
    uow: UnitOfWork, account_number: str, f: CdrFilter, *, chunk: int = MAX_PAGE
) -> Iterator[CdrView]:
    """Every record of the filter, newest first, read a page at a time (CSV export)."""
    cursor: str | None = None
    while True:
        page = cdr_page(uow, account_number, f, cursor=cursor, limit=chunk)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@dataclass(frozen=True, slots=True)
class CdrTotals:
    calls: int
    seconds: int
    billed_s: int
    cost: Decimal

    @property
    def minutes(self) -> Decimal:
        return (Decimal(self.seconds) / 60).quantize(Decimal("0.01"))

    def to_json(self) -> dict[str, Any]:
        return {"calls": self.calls, "seconds": self.seconds, "billed_s": self.billed_s,
                "minutes": str(self.minutes), "cost": str(self.cost)}


def cdr_totals(uow: UnitOfWork, account_number: str, f: CdrFilter) -> CdrTotals:
    """Calls, seconds and cost of the filter (from the roll-up where it can: ``cdr_daily``)."""
    return totals_of(cdr_daily(uow, account_number, f))


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    calls: int = 0
    cost: Decimal = Decimal(0)
    deposits: Decimal = Decimal(0)
    charges: Decimal = Decimal(0)
    seconds: int = 0
    billed_s: int = 0


def _utc_day(uow: UnitOfWork, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, on either backend."""
    if uow.dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _all_days(start: datetime, end: datetime) -> list[date]:
    first = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _whole_days(f: CdrFilter) -> tuple[datetime, datetime] | None:
    """The UTC midnights [first, last) bounding the whole UTC days inside the filter's range,
    when the roll-up can answer for them: it has no dialed numbers nor per-call costs, so a
    destination search, a DID or a free/billed filter reads the records."""
    if f.search is not None or f.did is not None or f.billing != "all":
        return None
    first = datetime.combine(f.start.astimezone(UTC).date(), time(0), tzinfo=UTC)
    if first < f.start:
        first = _shift(first, timedelta(days=1))
    last = datetime.combine(f.end.astimezone(UTC).date(), time(0), tzinfo=UTC)
    return (first, last) if first < last else None


# Per UTC day: calls, cost, seconds, billed seconds.
_Sums = dict[date, tuple[int, Decimal, int, int]]


def _scan_days(uow: UnitOfWork, account_id: int, f: CdrFilter) -> _Sums:
    """Sums per UTC day read from the call records themselves (the edges of a range that does
    not start or end at UTC midnight, e.g. a customer's time zone, or a filtered search)."""
    if f.start >= f.end:
        return {}
    day = _utc_day(uow, CdrRow.started_at)
    return {
        _as_date(d): (int(n), Decimal(c), int(secs), int(billed))
        for d, n, c, secs, billed in uow.session.execute(
            select(day, func.count(CdrRow.id), func.coalesce(func.sum(CdrRow.cost), 0),
                   func.coalesce(func.sum(CdrRow.duration_s), 0),
                   func.coalesce(func.sum(CdrRow.billed_s), 0))
            .where(*_cdr_where(account_id, f))
            .group_by(day)
        )
    }


def _rollup_days(uow: UnitOfWork, account_id: int, f: CdrFilter, first: date,
                 last: date) -> _Sums:
    """Sums per UTC day [first, last) from the roll-up, with the filter's line, direction and
    dispositions (the roll-up's own keys)."""
    where: list[ColumnElement[bool]] = [
        CdrDayRow.account_id == account_id, CdrDayRow.day >= first, CdrDayRow.day < last,
    ]
    if f.subject is not None:
        where.append(CdrDayRow.subject == f.subject)
    if f.direction is not None:
        where.append(CdrDayRow.direction == f.direction)
    if f.dispositions != frozenset(b.DISPOSITIONS):
        where.append(CdrDayRow.disposition.in_(sorted(f.dispositions)))
    return {
        _as_date(d): (int(n), Decimal(c), int(secs), int(billed))
        for d, n, c, secs, billed in uow.session.execute(
            select(CdrDayRow.day, func.sum(CdrDayRow.calls), func.sum(CdrDayRow.cost),
                   func.sum(CdrDayRow.seconds), func.sum(CdrDayRow.billed_s))
            .where(*where)
            .group_by(CdrDayRow.day)
        )
    }


def _day_sums(uow: UnitOfWork, account_id: int, f: CdrFilter) -> _Sums:
    """Whole UTC days from the roll-up, the partial days at either end from the records."""
    whole = _whole_days(f)
    if whole is None:
        return _scan_days(uow, account_id, f)
    first, last = whole
    found = _rollup_days(uow, account_id, f, first.date(), last.date())
    # An edge day is a part of a UTC day the roll-up holds whole: read only that part.
    for edge in (replace(f, end=first), replace(f, start=last)):
        for d, (n, c, secs, billed) in _scan_days(uow, account_id, edge).items():
            n0, c0, s0, b0 = found.get(d, (0, Decimal(0), 0, 0))
            found[d] = (n0 + n, c0 + c, s0 + secs, b0 + billed)
    return found


def cdr_daily(uow: UnitOfWork, account_number: str, f: CdrFilter) -> list[DayFigures]:
    """Calls, talk time and spend per UTC day of the filter's range, every day present (zeros
    too); ``totals_of`` sums them, so a page needs no second pass. Whole days come from the
    roll-up (a few rows per day, however many calls), so the month's figures cost the same
    with a thousand calls or a million."""
    account = lookups.get_account(uow, account_number)
    found = _day_sums(uow, account.id, f)
    out = []
    for d in _all_days(f.start, f.end):
        calls, cost, secs, billed = found.get(d, (0, Decimal(0), 0, 0))
        out.append(DayFigures(d, calls=calls, cost=cost.quantize(b.LEDGER_PLACES) + Decimal(0),
                              seconds=secs, billed_s=billed))
    return out


def totals_of(days: list[DayFigures]) -> CdrTotals:
    """The filter's totals from its per-day figures (``cdr_daily``)."""
    return CdrTotals(
        calls=sum(d.calls for d in days),
        seconds=sum(d.seconds for d in days),
        billed_s=sum(d.billed_s for d in days),
        cost=sum((d.cost for d in days), Decimal(0)).quantize(b.LEDGER_PLACES),
    )


# --- the ledger ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    start: datetime
    end: datetime
    kinds: frozenset[str] = field(default=frozenset(TRANSACTION_KINDS))


def make_transaction_filter(
    *, start: datetime, end: datetime, kinds: list[str] | None = None
) -> TransactionFilter:
    wanted = frozenset(k.strip() for k in (kinds or []) if k.strip())
    if wanted - set(TRANSACTION_KINDS):
        raise ValidationFailed.single(
            "type", "invalid_choice", "must be deposit, call, did_fee or adjustment"
        )
    return TransactionFilter(start, end, wanted or frozenset(TRANSACTION_KINDS))


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    at: datetime
    kind: str
    description: str
    amount: Decimal
    uniqueid: str

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "uniqueid": self.uniqueid, "kind": self.kind,
                "description": self.description, "amount": str(self.amount)}


def _tx_where(account_id: int, f: TransactionFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        TransactionRow.account_id == account_id,
        TransactionRow.at >= f.start,
        TransactionRow.at < f.end,
    ]
    if f.kinds != frozenset(TRANSACTION_KINDS):
        where.append(TransactionRow.kind.in_(sorted(f.kinds)))
    return where


def transaction_page(
    uow: UnitOfWork,
    account_number: str,
    f: TransactionFilter,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
    oldest_first: bool = False,
) -> Page[LedgerEntry]:
    """One page of ledger entries, newest first (or oldest first: the REST API's order)."""
    account = lookups.get_account(uow, account_number)
    query = select(TransactionRow).where(
        *_tx_where(account.id, _from_cursor(f, cursor, ascending=oldest_first))
    )
    rows, after = _keyset_page(
        uow, query, TransactionRow.at, TransactionRow.id, cursor, _limit(limit),
        ascending=oldest_first,
    )
    return Page(
        [
            LedgerEntry(r.id, r.at, r.kind, r.description,
                        Decimal(r.amount).quantize(b.LEDGER_PLACES), r.call_id or str(r.id))
            for r in rows
        ],
        after,
    )


def iter_transactions(
    uow: UnitOfWork, account_number: str, f: TransactionFilter
) -> Iterator[LedgerEntry]:
    cursor: str | None = None
    while True:
        page = transaction_page(uow, account_number, f, cursor=cursor, limit=MAX_PAGE)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    deposits: Decimal
    charges: Decimal  # a positive figure: what was spent
    entries: int


def transaction_totals(
    uow: UnitOfWork, account_number: str, f: TransactionFilter
) -> tuple[LedgerTotals, list[DayFigures]]:
    """Deposits and charges for the filter, in total and per UTC day (every day present)."""
    account = lookups.get_account(uow, account_number)
    day = _utc_day(uow, TransactionRow.at)
    positive = func.sum(TransactionRow.amount).filter(TransactionRow.amount > 0)
    negative = func.sum(TransactionRow.amount).filter(TransactionRow.amount < 0)
    per_day: dict[date, tuple[Decimal, Decimal, int]] = {}
    for d, dep, chg, n in uow.session.execute(
        select(day, func.coalesce(positive, 0), func.coalesce(negative, 0),
               func.count(TransactionRow.id))
        .where(*_tx_where(account.id, f))
        .group_by(day)
    ):
        per_day[_as_date(d)] = (Decimal(dep), -Decimal(chg), int(n))
    days = []
    for d in _all_days(f.start, f.end):
        dep, chg, _n = per_day.get(d, (Decimal(0), Decimal(0), 0))
        days.append(DayFigures(d, deposits=dep.quantize(b.LEDGER_PLACES) + Decimal(0),
                               charges=chg.quantize(b.LEDGER_PLACES) + Decimal(0)))
    totals = LedgerTotals(
        deposits=sum((x.deposits for x in days), Decimal(0)),
        charges=sum((x.charges for x in days), Decimal(0)),
        entries=sum(n for _d, _c, n in per_day.values()),
    )
    return totals, days

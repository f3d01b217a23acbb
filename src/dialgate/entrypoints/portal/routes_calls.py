"""Call History: the account's call records for a date range (default: this month) with the
filters of ``services.history``, totals, a daily chart, keyset pages and a CSV export of exactly
the filtered rows.

The filters travel in the query string (GET), so a filtered view can be bookmarked and the CSV
link is the same URL with ``.csv``. Money and dates are formatted with Babel for the reader's
language; the CSV keeps machine formats (ISO 8601 UTC, decimal point).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from dialgate.domain import billing as b
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.entrypoints.portal import chart
from dialgate.entrypoints.portal.messages import translate_error
from dialgate.entrypoints.portal.web import (
    PREFIX,
    SECURITY_HEADERS,
    Db,
    Session,
    format_money,
    gettext,
    render,
)
from dialgate.services import history, lookups
from dialgate.services.portal_auth import PortalSession
from dialgate.services.uow import Database

router = APIRouter()

PAGE_SIZE = 50  # rows per page of the portal's tables

DISPOSITION_TITLES = {
    "answered": "Answered",
    "busy": "Busy",
    "noanswer": "No answer",
    "failed": "Failed",
}
DIRECTION_TITLES = {"outbound": "Outbound", "inbound": "Inbound"}
FIELD_TITLES = {
    "from": "From",
    "to": "To",
    "account": "Account",
    "direction": "Direction",
    "disposition": "Disposition",
    "q": "Destination search",
    "cursor": "Page",
    "type": "Type",
}
CSV_FIELDS = (
    "started_at", "account", "direction", "dialed", "caller_number", "disposition",
    "duration_s", "billed_s", "rate_per_minute", "cost", "call_id",
)


# --- shared with the Balance & Transactions page -----------------------------------------------


def today() -> date:
    return datetime.now(UTC).date()


def day_label(day: date, language: str) -> str:
    return str(format_date(day, "medium", locale=language))


def number(value: Decimal | int, language: str) -> str:
    return str(format_decimal(value, locale=language))


def field_errors(language: str, exc: ValidationFailed) -> list[str]:
    return [
        gettext(language, "%(field)s: %(message)s") % {
            "field": gettext(language, FIELD_TITLES.get(e.field, e.field)),
            "message": translate_error(language, e),
        }
        for e in exc.errors
    ]


def date_filter(request: Request) -> tuple[date, date]:
    """from/to of the query string (default: this month so far); bad dates name the field."""
    errors: list[FieldError] = []
    now = today()
    values = []
    for name, default in (("from", history.month_start(now)), ("to", now)):
        try:
            values.append(history.parse_date(request.query_params.get(name), name, default))
        except ValidationFailed as exc:
            errors += exc.errors
            values.append(default)
    if errors:
        raise ValidationFailed(errors)
    return values[0], values[1]


def _safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "@", "\t", "\r") or (text[:1] in "+-" and not _numeric(text)):
        return "'" + text
    return text


def _numeric(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return text[1:2].isdigit()


def csv_response(
    filename: str, header: Iterable[str], rows: Callable[[], Iterator[Iterable[object]]]
) -> StreamingResponse:
    """Streams ``rows()`` as CSV, a chunk at a time (the export of a big range never sits in
    memory)."""

    def chunks() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(header)
        for n, row in enumerate(rows(), 1):
            writer.writerow([_safe_cell(v) for v in row])
            if n % 500 == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8", headers=headers)


def query_without(request: Request, *drop: str) -> str:
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in drop])


# --- Call History ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallQuery:
    date_from: date
    date_to: date
    account: str
    direction: str
    dispositions: list[str]
    q: str

    @classmethod
    def of(cls, request: Request) -> tuple[CallQuery, list[FieldError]]:
        params = request.query_params
        errors: list[FieldError] = []
        try:
            date_from, date_to = date_filter(request)
        except ValidationFailed as exc:
            errors += exc.errors
            date_from, date_to = history.month_start(today()), today()
        return (
            cls(
                date_from=date_from,
                date_to=date_to,
                account=params.get("account", ""),
                direction=params.get("direction", ""),
                dispositions=[d for d in params.getlist("disposition") if d],
                q=params.get("q", ""),
            ),
            errors,
        )

    def filter(self, db: Database, account: str) -> history.CdrFilter:
        start, end = history.day_range(self.date_from, self.date_to)
        with db.uow(write=False) as uow:
            return history.make_filter(
                uow, account, start=start, end=end, subject=self.account or None,
                direction=self.direction or None, dispositions=self.dispositions,
                search=self.q or None,
            )


def _lines(db: Database, account: str) -> list[str]:
    with db.uow(write=False) as uow:
        row = lookups.get_account(uow, account)
        return [account] + [s.name for s in lookups.list_subaccounts(uow, row)]


def _chart(language: str, days: list[history.DayFigures]) -> Any:
    def say(msg: str, **kw: Any) -> str:
        return gettext(language, msg) % kw if kw else gettext(language, msg)

    points = [
        chart.Point(
            label=day_label(d.day, language),
            bar=Decimal(d.calls),
            line=d.cost,
            tooltip=say("%(day)s: %(calls)s calls, %(cost)s", day=day_label(d.day, language),
                        calls=number(d.calls, language), cost=format_money(d.cost, language)),
        )
        for d in days
    ]
    return chart.svg(
        points,
        title=say("Calls and spend per day"),
        bar_label=say("Calls"),
        line_label=say("Spend"),
        bar_max_text=number(max((d.calls for d in days), default=0), language),
        line_max_text=format_money(max((d.cost for d in days), default=Decimal(0)), language),
        chart_id="calls-chart",
    )


@router.get(PREFIX + "/calls")
def call_history(request: Request, session: Session, db: Db, cursor: str = "") -> Response:
    language = session.language
    query, errors = CallQuery.of(request)
    context: dict[str, Any] = {
        "session": session, "section": "calls", "query": query,
        "lines": _lines(db, session.account),
        "dispositions": DISPOSITION_TITLES, "directions": DIRECTION_TITLES,
        "errors": [], "rows": [], "totals": None, "chart": None, "next_url": None,
        "first_url": None, "csv_url": None,
    }
    try:
        if errors:
            raise ValidationFailed(errors)
        f = query.filter(db, session.account)
        with db.uow(write=False) as uow:
            page = history.cdr_page(
                uow, session.account, f, cursor=cursor or None, limit=PAGE_SIZE
            )
            days = history.cdr_daily(uow, session.account, f)  # one pass: totals and chart
        totals = history.totals_of(days)
    except ValidationFailed as exc:
        context["errors"] = field_errors(language, exc)
        return render(request, "calls.html", language=language, status_code=422, **context)
    base = query_without(request, "cursor")
    context.update(
        rows=page.rows,
        totals=totals,
        chart=_chart(language, days),
        next_url=(f"{PREFIX}/calls?{base}&{urlencode({'cursor': page.next_cursor})}"
                  if page.next_cursor else None),
        first_url=f"{PREFIX}/calls?{base}" if cursor else None,
        csv_url=f"{PREFIX}/calls.csv?{base}",
        minutes=lambda s: number((Decimal(s) / 60).quantize(Decimal("0.01")), language),
        number=lambda v: number(v, language),
    )
    return render(request, "calls.html", language=language, **context)


def _cdr_csv_rows(db: Database, session: PortalSession, f: history.CdrFilter
                  ) -> Iterator[list[object]]:
    with db.uow(write=False) as uow:
        for v in history.iter_cdrs(uow, session.account, f):
            yield [
                v.started_at.isoformat(), v.subject, v.direction, v.dialed,
                v.caller_number or "", v.disposition, v.duration_s, v.billed_s,
                v.rate_per_minute, v.cost.quantize(b.LEDGER_PLACES), v.call_id,
            ]


@router.get(PREFIX + "/calls.csv")
def call_history_csv(request: Request, session: Session, db: Db) -> Response:
    query, errors = CallQuery.of(request)
    try:
        if errors:
            raise ValidationFailed(errors)
        f = query.filter(db, session.account)
    except ValidationFailed as exc:
        return Response("\n".join(field_errors(session.language, exc)), status_code=422,
                        media_type="text/plain; charset=utf-8", headers=SECURITY_HEADERS)
    name = f"calls-{session.account}-{query.date_from}-{query.date_to}.csv"
    return csv_response(name, CSV_FIELDS, lambda: _cdr_csv_rows(db, session, f))

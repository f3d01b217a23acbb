"""Balance & Transactions: the balance, the ledger for a date range (default: this month) with
deposits and charges per day, a chart of daily charges, keyset pages and the CSV export of
exactly the filtered entries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.entrypoints.portal import chart, routes_calls
from dialgate.entrypoints.portal.routes_calls import (
    csv_response,
    date_filter,
    day_label,
    field_errors,
    number,
    query_without,
    today,
)
from dialgate.entrypoints.portal.web import (
    PREFIX,
    SECURITY_HEADERS,
    Db,
    Session,
    format_money,
    gettext,
    render,
)
from dialgate.services import billing, history
from dialgate.services.uow import Database

router = APIRouter()

KIND_TITLES = {
    "deposit": "Deposit",
    "call": "Call",
    "did_fee": "DID fee",
    "adjustment": "Adjustment",
}
CSV_FIELDS = ("at", "type", "description", "amount", "uniqueid")


def _filter(request: Request) -> tuple[date, date, list[str], history.TransactionFilter]:
    errors: list[FieldError] = []
    try:
        date_from, date_to = date_filter(request)
    except ValidationFailed as exc:
        errors += exc.errors
        date_from, date_to = history.month_start(today()), today()
    kinds = [k for k in request.query_params.getlist("type") if k]
    try:
        start, end = history.day_range(date_from, date_to)
        f = history.make_transaction_filter(start=start, end=end, kinds=kinds)
    except ValidationFailed as exc:
        errors += exc.errors
    if errors:
        raise _Invalid(date_from, date_to, kinds, ValidationFailed(errors))
    return date_from, date_to, kinds, f


class _Invalid(Exception):
    def __init__(self, date_from: date, date_to: date, kinds: list[str],
                 exc: ValidationFailed) -> None:
        super().__init__(str(exc))
        self.date_from, self.date_to, self.kinds, self.exc = date_from, date_to, kinds, exc


def _chart(language: str, days: list[history.DayFigures]) -> Any:
    points = [
        chart.Point(
            label=day_label(d.day, language),
            bar=d.charges,
            line=d.deposits,
            tooltip=gettext(language, "%(day)s: charges %(charges)s, deposits %(deposits)s") % {
                "day": day_label(d.day, language),
                "charges": format_money(d.charges, language),
                "deposits": format_money(d.deposits, language),
            },
        )
        for d in days
    ]
    return chart.svg(
        points,
        title=gettext(language, "Charges and deposits per day"),
        bar_label=gettext(language, "Charges"),
        line_label=gettext(language, "Deposits"),
        bar_max_text=format_money(max((d.charges for d in days), default=Decimal(0)), language),
        line_max_text=format_money(max((d.deposits for d in days), default=Decimal(0)), language),
        chart_id="balance-chart",
    )


@router.get(PREFIX + "/balance")
def balance_page(request: Request, session: Session, db: Db, cursor: str = "") -> Response:
    language = session.language
    with db.uow(write=False) as uow:
        current = billing.current_balance(uow, session.account)
    context: dict[str, Any] = {
        "session": session, "section": "balance", "kinds": KIND_TITLES, "current": current,
        "errors": [], "rows": [], "days": [], "totals": None, "chart": None,
        "next_url": None, "first_url": None, "csv_url": None,
        "day_label": lambda d: day_label(d, language),
        "number": lambda v: number(v, language),
    }
    try:
        date_from, date_to, kinds, f = _filter(request)
        with db.uow(write=False) as uow:
            page = history.transaction_page(
                uow, session.account, f, cursor=cursor or None, limit=routes_calls.PAGE_SIZE
            )
            totals, days = history.transaction_totals(uow, session.account, f)
    except _Invalid as bad:
        context.update(date_from=bad.date_from, date_to=bad.date_to, selected=bad.kinds,
                       errors=field_errors(language, bad.exc))
        return render(request, "balance.html", language=language, status_code=422, **context)
    except ValidationFailed as exc:  # a bad cursor
        context.update(date_from=date_from, date_to=date_to, selected=kinds,
                       errors=field_errors(language, exc))
        return render(request, "balance.html", language=language, status_code=422, **context)
    base = query_without(request, "cursor")
    context.update(
        date_from=date_from, date_to=date_to, selected=kinds, rows=page.rows, totals=totals,
        days=[d for d in days if d.deposits or d.charges], chart=_chart(language, days),
        next_url=(f"{PREFIX}/balance?{base}&{urlencode({'cursor': page.next_cursor})}"
                  if page.next_cursor else None),
        first_url=f"{PREFIX}/balance?{base}" if cursor else None,
        csv_url=f"{PREFIX}/balance.csv?{base}",
    )
    return render(request, "balance.html", language=language, **context)


def _csv_rows(db: Database, account: str, f: history.TransactionFilter) -> Iterator[list[object]]:
    with db.uow(write=False) as uow:
        for e in history.iter_transactions(uow, account, f):
            yield [e.at.isoformat(), e.kind, e.description, e.amount, e.uniqueid]


@router.get(PREFIX + "/balance.csv")
def balance_csv(request: Request, session: Session, db: Db) -> Response:
    try:
        date_from, date_to, _kinds, f = _filter(request)
    except _Invalid as bad:
        return Response("\n".join(field_errors(session.language, bad.exc)), status_code=422,
                        media_type="text/plain; charset=utf-8", headers=SECURITY_HEADERS)
    name = f"transactions-{session.account}-{date_from}-{date_to}.csv"
    return csv_response(name, CSV_FIELDS, lambda: _csv_rows(db, session.account, f))

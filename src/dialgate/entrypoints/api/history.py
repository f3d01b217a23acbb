"""Call records and the ledger, paged: ``/v1/cdrs`` and ``/v1/transactions``.

Both page by cursor: a response holds at most ``limit`` rows and, when more match, a
``Link: <...&cursor=...>; rel="next"`` header (RFC 8288) with the URL of the next page (the
cursor is opaque). The filters are the portal's Call History filters.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from dialgate.entrypoints.amounts import amounts
from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import CdrPublic, TransactionPublic
from dialgate.services import history

router = APIRouter(prefix="/v1", tags=["history"], responses=problem_responses(401, 422))

LINK_DOC = {"Link": {"description": 'The next page: `<URL>; rel="next"` (absent on the last)',
                     "schema": {"type": "string"}}}


def _link_next(request: Request, response: Response, cursor: str | None) -> None:
    if cursor is not None:
        url = request.url.include_query_params(cursor=cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'


def _today() -> date:
    return datetime.now(UTC).date()


@router.get(
    "/cdrs",
    response_model=list[CdrPublic],
    summary="Call records, newest first, filtered and paged by cursor",
    responses={200: {"headers": LINK_DOC}},
)
def list_cdrs(
    request: Request,
    response: Response,
    db: DbDep,
    caller: ApiCaller,
    date_from: Annotated[
        date | None, Query(alias="from", description="YYYY-MM-DD (UTC); default: this month")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="YYYY-MM-DD (UTC), included; default today")
    ] = None,
    account: Annotated[
        str | None, Query(description="The main account or one sub account, e.g. 100000_office")
    ] = None,
    direction: Annotated[str | None, Query(description="outbound or inbound")] = None,
    disposition: Annotated[
        list[str] | None, Query(description="answered, busy, noanswer, failed (repeatable)")
    ] = None,
    q: Annotated[
        str | None, Query(description="Digits found in the dialed or the caller's number")
    ] = None,
    cursor: Annotated[str | None, Query(description="From the previous page's Link")] = None,
    limit: Annotated[int, Query(description="Rows per page, 1 to 500")] = history.DEFAULT_PAGE,
) -> list[dict[str, Any]]:
    today = _today()
    start, end = history.day_range(date_from or history.month_start(today), date_to or today)
    with db.uow(write=False) as uow:
        f = history.make_filter(
            uow, caller.account, start=start, end=end, subject=account, direction=direction,
            dispositions=disposition, search=q,
        )
        page = history.cdr_page(uow, caller.account, f, cursor=cursor, limit=limit)
    _link_next(request, response, page.next_cursor)
    return [row.to_json() for row in page.rows]


@router.get(
    "/transactions",
    response_model=list[TransactionPublic],
    summary="Ledger entries between two UTC dates (both included), oldest first, paged",
    responses={200: {"headers": LINK_DOC}},
)
def get_transactions(
    request: Request,
    response: Response,
    db: DbDep,
    caller: ApiCaller,
    date_from: Annotated[date, Query(alias="from", description="YYYY-MM-DD (UTC)")],
    date_to: Annotated[date, Query(alias="to", description="YYYY-MM-DD (UTC), not before from")],
    type_: Annotated[
        list[str] | None,
        Query(alias="type", description="deposit, call, did_fee, adjustment (repeatable)"),
    ] = None,
    cursor: Annotated[str | None, Query(description="From the previous page's Link")] = None,
    limit: Annotated[int, Query(description="Rows per page, 1 to 500")] = history.MAX_PAGE,
) -> list[dict[str, Any]]:
    # No range cap here: the ledger is small next to call records, and pages bound the answer.
    start, end = history.day_range(date_from, date_to, max_days=None)
    f = history.make_transaction_filter(start=start, end=end, kinds=type_)
    with db.uow(write=False) as uow:
        page = history.transaction_page(
            uow, caller.account, f, cursor=cursor, limit=limit, oldest_first=True
        )
    _link_next(request, response, page.next_cursor)
    return [amounts(row.to_json(), ("amount", "balance_after")) for row in page.rows]

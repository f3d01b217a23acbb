"""The admin REST API, ``/admin/v1/...``: the operator console's operations for billing systems
and CRMs. Authentication is an admin API key (``dialgate operator key create EMAIL``) sent as
``Authorization: Bearer dgadm_...``; it acts as its operator, with its role. Customer keys are
refused here (401), as admin keys are on ``/v1``. Every request is written to the operator
audit log with the operator's identity (method and path; changes add their own row with the
details). Errors are problem+json like the customer API.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from dialgate.entrypoints.api.deps import DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import CdrPublic
from dialgate.services import admin, history, operators, suspension
from dialgate.services.operators import Operator

_admin_key = HTTPBearer(
    auto_error=False,
    scheme_name="AdminKey",
    description="An admin API key from `dialgate operator key create EMAIL`.",
)


def require_admin_key(
    request: Request,
    db: DbDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_admin_key)],
) -> Operator:
    token = credentials.credentials if credentials else None
    return operators.admin_api_request(db, token, f"api.{request.method}", request.url.path[:64])


AdminCaller = Annotated[Operator, Depends(require_admin_key)]
router = APIRouter(prefix="/admin/v1", tags=["admin"], responses=problem_responses(401))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountSummaryOut(BaseModel):
    number: str
    email: str
    enabled: bool
    language: str
    balance: str = Field(description="USD, decimal string")


class AccountDetailOut(AccountSummaryOut):
    settings: dict[str, Any] = Field(description="Every setting (secrets read ***)")
    subaccounts: list[str]
    dids: list[str]
    suspension_reason: str | None


class AccountIn(Strict):
    number: str = Field(description="4 to 10 digits")
    email: str
    password: str = Field(description="The customer's portal password")
    language: str = Field("en", description="en, fr or es")


class ReasonIn(Strict):
    reason: str = Field("", description="Why (required to suspend; 1 to 200 characters)")


class SuspensionOut(BaseModel):
    account: str
    changed: bool = Field(description="False: the account already was in that state")
    registrations_removed: int
    calls_ended: int
    errors: list[str] = Field(description="SIP servers that could not be reached")


class MoneyIn(Strict):
    kind: str = Field(description="deposit (the customer paid) or credit (the provider gives)")
    amount: str = Field(description="USD, 0.01 to 100000")
    reason: str = Field(description="Why (1 to 150 characters); kept on the ledger line")


class BalanceOut(BaseModel):
    account: str
    balance: str


class AuditOut(BaseModel):
    at: datetime
    operator: str
    via: str
    action: str
    target: str
    detail: str


@router.get("/accounts", response_model=list[AccountSummaryOut],
            summary="Find accounts by number, email or DID")
def find_accounts(db: DbDep, operator: AdminCaller,
                  q: Annotated[str, Query(description="Number prefix, email part or DID")] = ""
                  ) -> list[dict[str, Any]]:
    with db.uow(write=False) as uow:
        return [a.to_json() for a in admin.search_accounts(uow, q)]


@router.post("/accounts", response_model=AccountSummaryOut, status_code=201,
             summary="Create a customer account", responses=problem_responses(409, 422))
def create_account(body: AccountIn, db: DbDep, operator: AdminCaller) -> dict[str, Any]:
    made = admin.create_account(db, operator, number=body.number, email=body.email,
                                password=body.password, language=body.language)
    return made.to_json()


@router.get("/accounts/{number}", response_model=AccountDetailOut,
            summary="An account with its settings (read-only)", responses=problem_responses(404))
def get_account(number: str, db: DbDep, operator: AdminCaller) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        return admin.account_detail(uow, number).to_json()


def _suspension(request: Request, outcome: suspension.Outcome, kick: bool) -> dict[str, Any]:
    report = suspension.KickReport()
    if kick and outcome.changed:
        addresses = suspension.rpc_addresses(request.app.state.settings.kamailio_rpc)
        report = suspension.kick(addresses, outcome.lines)
    return {"account": outcome.account, "changed": outcome.changed,
            "registrations_removed": outcome.registrations_removed,
            "calls_ended": report.calls_ended, "errors": report.errors}


@router.post("/accounts/{number}/suspend", response_model=SuspensionOut,
             summary="Suspend: refuse calls and registrations, end calls, email the customer",
             responses=problem_responses(404, 422))
def suspend(number: str, body: ReasonIn, request: Request, db: DbDep,
            operator: AdminCaller) -> dict[str, Any]:
    outcome = suspension.suspend(db, operator, number, body.reason)
    return _suspension(request, outcome, kick=True)


@router.post("/accounts/{number}/restore", response_model=SuspensionOut,
             summary="Restore a suspended account and email the customer",
             responses=problem_responses(404, 422))
def restore(number: str, body: ReasonIn, request: Request, db: DbDep,
            operator: AdminCaller) -> dict[str, Any]:
    outcome = suspension.restore(db, operator, number, body.reason)
    return _suspension(request, outcome, kick=False)


@router.post("/accounts/{number}/money", response_model=BalanceOut,
             summary="Deposit or credit with a reason (admin role only)",
             responses=problem_responses(403, 404, 422))
def move_money(number: str, body: MoneyIn, db: DbDep, operator: AdminCaller) -> dict[str, Any]:
    after = admin.move_money(db, operator, number, kind=body.kind, amount=body.amount,
                             reason=body.reason)
    return {"account": number, "balance": str(Decimal(after))}


@router.get("/cdrs", response_model=list[CdrPublic],
            summary="Call records of every account, newest first, paged by cursor",
            responses=problem_responses(422))
def list_cdrs(
    request: Request, response: Response, db: DbDep, operator: AdminCaller,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    account: Annotated[str | None, Query(description="One line: 100000 or 100000_office")] = None,
    direction: str | None = None,
    disposition: Annotated[list[str] | None, Query()] = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = history.DEFAULT_PAGE,
) -> list[dict[str, Any]]:
    today = datetime.now(UTC).date()
    start, end = history.day_range(date_from or history.month_start(today), date_to or today)
    f = history.operator_filter(start=start, end=end, subject=account, direction=direction,
                                dispositions=disposition, search=q)
    with db.uow(write=False) as uow:
        page = history.cdr_page(uow, None, f, cursor=cursor, limit=limit)
    if page.next_cursor is not None:
        url = request.url.include_query_params(cursor=page.next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'
    return [row.to_json() for row in page.rows]


@router.get("/audit", response_model=list[AuditOut], summary="The operator audit log, newest first")
def audit_log(db: DbDep, operator: AdminCaller,
              target: Annotated[str | None, Query(description="An account number")] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
    with db.uow(write=False) as uow:
        return [asdict(e) for e in operators.audit_log(uow, limit=limit, target=target)]

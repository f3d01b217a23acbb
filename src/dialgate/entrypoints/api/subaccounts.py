"""Sub accounts of the caller's account: ``/v1/subaccounts``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from dialgate.domain import settings as s
from dialgate.domain.errors import NotFound
from dialgate.domain.settings import Tab
from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import (
    SUB_PUBLIC_KEYS,
    HistoryEntryPublic,
    SubAccountCreate,
    SubAccountPublic,
    SubSettingsUpdate,
)
from dialgate.services import accounts, audit, lookups
from dialgate.services.uow import UnitOfWork

router = APIRouter(
    prefix="/v1/subaccounts", tags=["sub accounts"], responses=problem_responses(401, 422)
)


def subject_of(
    caller: ApiCaller,
    username: Annotated[
        str, Path(description="The username (office) or full name (100000_office)")
    ],
) -> str:
    """The sub account's full name, scoped to the caller: anything else does not exist."""
    main, sep, user = username.partition("_")
    if not sep:
        main, user = caller.account, username
    if main != caller.account or not accounts.SUB_USERNAME.fullmatch(user):
        raise NotFound("sub account", username)
    return f"{caller.account}_{user}"


Subject = Annotated[str, Depends(subject_of)]


def sub_public(uow: UnitOfWork, subject: str) -> dict[str, Any]:
    view = accounts.show_settings(uow, subject)
    main, user = lookups.split_subject(subject)
    row = lookups.get_subaccount(uow, lookups.get_account(uow, main), user or "")
    return {
        "id": row.id,
        "account": subject,
        "username": row.username,
        "settings": {k: s.to_json(k, view.values.get(k)) for k in SUB_PUBLIC_KEYS},
        "sources": {k: view.sources.get(k, "sub") for k in SUB_PUBLIC_KEYS},
    }


@router.get("", response_model=list[SubAccountPublic], summary="All sub accounts")
def list_subaccounts(db: DbDep, caller: ApiCaller) -> list[dict[str, Any]]:
    with db.uow(write=False) as uow:
        account = lookups.get_account(uow, caller.account)
        return [sub_public(uow, sub.name) for sub in lookups.list_subaccounts(uow, account)]


@router.post(
    "",
    response_model=SubAccountPublic,
    status_code=201,
    summary="Create a sub account",
    responses=problem_responses(409),
)
def create_subaccount(db: DbDep, caller: ApiCaller, body: SubAccountCreate) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True)
    username = data.pop("username")
    password = data.pop("sip_password")
    sub = accounts.create_subaccount(
        db, caller.account, username, password=password, changes=data, actor=caller.actor
    )
    with db.uow(write=False) as uow:
        return sub_public(uow, sub.name)


@router.get(
    "/{username}",
    response_model=SubAccountPublic,
    summary="One sub account",
    responses=problem_responses(404),
)
def get_subaccount(db: DbDep, subject: Subject) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        return sub_public(uow, subject)


@router.patch(
    "/{username}",
    response_model=SubAccountPublic,
    summary="Change any subset of a sub account's settings, all or nothing",
    description='`null` or `""` on an override key makes it inherit the main account again.',
    responses=problem_responses(404),
)
def patch_subaccount(
    db: DbDep, caller: ApiCaller, subject: Subject, body: SubSettingsUpdate
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    accounts.update_settings(db, subject, changes, actor=caller.actor)
    with db.uow(write=False) as uow:
        return sub_public(uow, subject)


@router.delete(
    "/{username}",
    status_code=204,
    summary="Delete a sub account (refused while a DID routes to it)",
    responses=problem_responses(404, 409),
)
def delete_subaccount(db: DbDep, caller: ApiCaller, subject: Subject) -> Response:
    accounts.delete_subaccount(db, subject, actor=caller.actor)
    return Response(status_code=204)


@router.get(
    "/{username}/settings/history",
    response_model=list[HistoryEntryPublic],
    summary="Settings changes of one sub account, newest first",
    responses=problem_responses(404),
)
def get_history(
    db: DbDep,
    subject: Subject,
    tab: Annotated[Tab | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, str]]:
    with db.uow(write=False) as uow:
        entries = audit.settings_history(
            uow, subject, tab=tab.value if tab else None, limit=limit
        )
    return [e.to_json() for e in entries]

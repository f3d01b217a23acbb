"""The main account and its settings: ``/v1/account``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dialgate.domain.settings import Tab
from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import (
    AccountPublic,
    HistoryEntryPublic,
    MainSettingsUpdate,
    SettingsPublic,
)
from dialgate.services import accounts

router = APIRouter(prefix="/v1/account", tags=["account"], responses=problem_responses(401, 422))


def settings_public(view: accounts.SettingsView) -> dict[str, Any]:
    data = view.to_json()
    return {"account": data["account"], "settings": data["settings"]}


@router.get("", response_model=AccountPublic, summary="The account of this API key")
def get_account(db: DbDep, caller: ApiCaller) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        row = accounts.get_account(uow, caller.account)
        return {
            "account": row.number,
            "email": row.email,
            "language": row.language,
            "enabled": row.enabled,
            "balance": str(row.balance),
            "created_at": row.created_at,
            "subaccounts": [sub.name for sub in accounts.list_subaccounts(uow, row)],
        }


@router.get("/settings", response_model=SettingsPublic, summary="Every setting of the account")
def get_settings(db: DbDep, caller: ApiCaller) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        return settings_public(accounts.show_settings(uow, caller.account))


@router.patch(
    "/settings",
    response_model=SettingsPublic,
    summary="Change any subset of the settings, all or nothing",
    description='Send only the keys to change. `null` or `""` resets a key to its default. '
    "If any value is invalid nothing changes and every broken rule is listed.",
)
def patch_settings(db: DbDep, caller: ApiCaller, body: MainSettingsUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    with db.uow() as uow:
        accounts.update_settings(uow, caller.account, changes, actor=caller.actor)
        view = accounts.show_settings(uow, caller.account)
        uow.commit()
    return settings_public(view)


@router.get(
    "/settings/history",
    response_model=list[HistoryEntryPublic],
    summary="Settings changes of the account and its sub accounts, newest first",
)
def get_history(
    db: DbDep,
    caller: ApiCaller,
    tab: Annotated[Tab | None, Query(description="Only this tab of the settings page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, str]]:
    with db.uow(write=False) as uow:
        entries = accounts.settings_history(
            uow, caller.account, tab=tab.value if tab else None, limit=limit
        )
    return [e.to_json() for e in entries]

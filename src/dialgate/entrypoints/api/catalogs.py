"""Catalogs of the choices a customer can make: ``/v1/catalogs/...``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from dialgate.domain import catalogs as domain_catalogs
from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import (
    ChoicePublic,
    CountryPublic,
    MusicOnHoldPublic,
    PopPublic,
)
from dialgate.services import catalogs

router = APIRouter(prefix="/v1/catalogs", tags=["catalogs"], responses=problem_responses(401))


@router.get("/pops", response_model=list[PopPublic], summary="Points of presence (servers)")
def pops(db: DbDep, caller: ApiCaller) -> list[dict[str, Any]]:
    with db.uow(write=False) as uow:
        return [asdict(p) for p in catalogs.list_pops(uow)]


@router.get(
    "/countries",
    response_model=list[CountryPublic],
    summary="Countries (for allowed_countries) with their region, localized",
    responses=problem_responses(422),
)
def countries(
    caller: ApiCaller,
    language: Annotated[Literal["en", "fr", "es"], Query()] = "en",
) -> list[dict[str, Any]]:
    return [asdict(c) for c in catalogs.list_countries(language)]


@router.get("/music-on-hold", response_model=list[MusicOnHoldPublic], summary="Music on hold")
def music_on_hold(caller: ApiCaller) -> list[dict[str, Any]]:
    return [asdict(m) for m in domain_catalogs.MUSIC_ON_HOLD]


def _choice_route(name: str, summary: str) -> None:
    path = "/" + name.replace("_", "-")

    def endpoint(caller: ApiCaller) -> list[dict[str, str]]:
        return [{"value": k, "label": v} for k, v in catalogs.choices(name).items()]

    endpoint.__name__ = f"catalog_{name}"
    router.add_api_route(
        path, endpoint, methods=["GET"], response_model=list[ChoicePublic], summary=summary
    )


for _name, _summary in (
    ("codecs", "Codecs (for allowed_codecs)"),
    ("dtmf_modes", "DTMF modes"),
    ("nat", "NAT modes"),
    ("device_types", "Device types"),
    ("protocols", "Inbound protocols"),
    ("routes", "Routes (value, premium)"),
    ("tollfree_carriers", "Toll-free carriers"),
    ("dialing_modes", "Dialing modes"),
    ("languages", "Languages"),
):
    _choice_route(_name, _summary)

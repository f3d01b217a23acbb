"""DID numbers: the account's list, and one DID's routing, failovers, POP, plan, CNAM, e911 and
dial time. Saves are all or nothing (``services.dids.set_did``); new DIDs take the Default DID
Routing tab's values, which the pages link to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from dialgate.domain import catalogs
from dialgate.domain.errors import FieldError, NotFound, ValidationFailed
from dialgate.entrypoints.portal import forms
from dialgate.entrypoints.portal.messages import translate_error
from dialgate.entrypoints.portal.routes_settings import account_options, words_for
from dialgate.entrypoints.portal.web import PREFIX, CheckedSession, Db, Form, Session, render
from dialgate.services import dids
from dialgate.services.portal_auth import PortalSession

router = APIRouter()

ROUTING_KEYS = ("routing", "failover_busy", "failover_unreachable", "failover_noanswer")
CHECKBOX_KEYS = ("cnam_lookup", "e911_enabled")

LABELS = {
    "description": "Description",
    "routing": "Routing",
    "failover_busy": "Failover when busy",
    "failover_unreachable": "Failover when unreachable",
    "failover_noanswer": "Failover on no answer",
    "pop": "DID POP",
    "plan": "Select Plan",
    "cnam_lookup": "CallerID Name Lookup",
    "e911_enabled": "e911",
    "dial_time": "Dial time",
}
HELP = {
    "description": "A name for this number, shown in your lists.",
    "routing": "Where calls to this number go.",
    "failover_busy": "Where the call goes when the destination is busy.",
    "failover_unreachable": "Where the call goes when the destination is unreachable.",
    "failover_noanswer": "Where the call goes when nobody answers.",
    "pop": "The server your device registers to; register to the same server to receive calls.",
    "plan": "How this number is charged: per minute or flat rate.",
    "cnam_lookup": "Look up the caller's name (CNAM) for US/Canadian caller IDs.",
    "e911_enabled": (
        "This number has a registered e911 address: emergency calls may use it as caller ID."
    ),
    "dial_time": "Seconds the destination rings before the call counts as not answered (5 to 120).",
}


@dataclass(frozen=True, slots=True)
class DidField:
    key: str
    value: Any  # str, or bool for checkboxes
    error: str | None = None

    @property
    def label(self) -> str:
        return LABELS[self.key]

    @property
    def help(self) -> str:
        return HELP[self.key]


def _stored(values: dict[str, Any], key: str) -> Any:
    value = values[key]
    if key in CHECKBOX_KEYS:
        return bool(value)
    return "" if value is None else str(value)


def _checkbox(form: FormData, key: str) -> str | None:
    # The hidden "false" comes first, the ticked box's "true" last; a forged value reaches the
    # rules as is and is refused there.
    values = form.getlist(key)
    return str(values[-1]) if values else None


def changes_from_form(form: FormData) -> dict[str, str]:
    changes: dict[str, str] = {}
    for key in dids.DID_KEYS:
        if key in CHECKBOX_KEYS:
            raw = _checkbox(form, key)
        elif key in ROUTING_KEYS:
            raw = forms.target_from_form(form, key)
        else:
            value = form.get(key)
            raw = value if isinstance(value, str) else None
        if isinstance(raw, str):
            changes[key] = raw.strip()
    return changes


def did_fields(
    values: dict[str, Any],
    *,
    form: FormData | None = None,
    errors: dict[str, str] | None = None,
) -> list[DidField]:
    errors = errors or {}
    out = []
    for key in dids.DID_KEYS:
        if form is None:
            value: Any = _stored(values, key)
        elif key in CHECKBOX_KEYS:
            value = _checkbox(form, key) == "true"
        elif key in ROUTING_KEYS:
            value = forms.target_from_form(form, key) or ""
        else:
            raw = form.get(key)
            value = raw if isinstance(raw, str) else ""
        out.append(DidField(key, value, errors.get(key)))
    return out


def _edit_page(
    request: Request,
    session: PortalSession,
    db: Db,
    number: str,
    *,
    form: FormData | None = None,
    errors: list[FieldError] | None = None,
    saved: bool = False,
) -> Response:
    with db.uow(write=False) as uow:
        try:
            row = dids.get_did(uow, number, account=session.account)
        except (NotFound, ValidationFailed):
            raise HTTPException(status_code=404) from None
        view = dids.view(session.account, row)
    options = account_options(db, session.account)
    lang = session.language
    error_map = {e.field: translate_error(lang, e) for e in errors or []}
    return render(
        request,
        "did.html",
        language=lang,
        status_code=422 if errors else 200,
        session=session,
        section="dids",
        number=view.number,
        fields=did_fields(view.values, form=form, errors=error_map),
        errors=[(e.field, error_map[e.field]) for e in errors or []],
        field_labels=LABELS,
        saved=saved,
        options=options,
        plans=catalogs.DID_PLANS,
        routing_keys=ROUTING_KEYS,
        failover_keys=ROUTING_KEYS[1:],
        failovers_open=any(e.field in ROUTING_KEYS[1:] for e in errors or []),
        words=words_for(db, session),
    )


@router.get(PREFIX + "/dids")
def list_dids(request: Request, session: Session, db: Db) -> Response:
    with db.uow(write=False) as uow:
        numbers = dids.list_dids(uow, session.account)
    return render(
        request,
        "dids.html",
        language=session.language,
        session=session,
        section="dids",
        dids=numbers,
        plans=catalogs.DID_PLANS,
        words=words_for(db, session),
    )


@router.get(PREFIX + "/dids/{number}")
def edit_did(request: Request, number: str, session: Session, db: Db) -> Response:
    return _edit_page(request, session, db, number)


@router.post(PREFIX + "/dids/{number}")
def save_did(
    request: Request, number: str, session: CheckedSession, db: Db, form: Form
) -> Response:
    try:
        dids.set_did(
            db,
            number,
            changes_from_form(form),
            actor=f"portal:{session.account}",
            account=session.account,
        )
    except NotFound:
        raise HTTPException(status_code=404) from None
    except ValidationFailed as exc:
        if any(e.field == "number" for e in exc.errors):
            raise HTTPException(status_code=404) from None
        return _edit_page(request, session, db, number, form=form, errors=exc.errors)
    return _edit_page(request, session, db, number, saved=True)

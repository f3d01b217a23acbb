"""Call Forwarding: the account's forwarding entries (list, add, edit, delete). DIDs route or
fail over to one as ``fwd:<id>``, picked on the DID page. Saves are all or nothing
(``services.forwardings``); deleting one a DID still uses is refused with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from dialgate.domain import forwarding as f
from dialgate.domain.errors import Conflict, FieldError, NotFound, ValidationFailed
from dialgate.entrypoints.portal.messages import translate_error
from dialgate.entrypoints.portal.web import (
    PREFIX,
    CheckedSession,
    Db,
    Form,
    Session,
    redirect,
    render,
)
from dialgate.services import forwardings, lookups
from dialgate.services.portal_auth import PortalSession

router = APIRouter()

TEXT_KEYS = ("phone_number", "description", "callerid_override", "dtmf_digits", "pause")
LABELS = {
    "phone_number": "Phone Number",
    "description": "Description",
    "callerid_override": "Caller ID Override",
    "dtmf_digits": "DTMF digits",
    "pause": "Pause",
    "diversion_header": "Diversion header",
    "forwarding": "Call Forwarding",
}
HELP = {
    "phone_number": "The number calls are forwarded to, dialed as your Dialing Mode says (for "
    "example 5145550199, or 011 and the number abroad). Forwarded calls are outbound calls: "
    "your restrictions apply and they are charged.",
    "description": "A name for this entry, shown in the DID routing picker.",
    "callerid_override": "The caller ID forwarded calls show; leave empty to show the caller's.",
    "dtmf_digits": "Digits sent when the call is answered (0-9, *, #).",
    "pause": "Seconds to wait after the answer before sending the digits (0 to 10, by 0.5).",
    "diversion_header": "Add a Diversion header to forwarded calls.",
}


@dataclass(frozen=True, slots=True)
class FwdField:
    key: str
    value: str | bool
    error: str | None = None

    @property
    def label(self) -> str:
        return LABELS[self.key]

    @property
    def help(self) -> str:
        return HELP[self.key]


def _fields(
    entry: f.Forwarding | None, form: FormData | None, errors: dict[str, str]
) -> list[FwdField]:
    out: list[FwdField] = []
    stored = entry.to_json() if entry else {}
    for key in TEXT_KEYS:
        raw = form.get(key) if form is not None else stored.get(key, "")
        out.append(FwdField(key, raw if isinstance(raw, str) else "", errors.get(key)))
    if form is not None:
        ticked = form.getlist("diversion_header")
        checked = bool(ticked) and ticked[-1] == "true"
    else:
        checked = bool(stored.get("diversion_header", False))
    out.append(FwdField("diversion_header", checked, errors.get("diversion_header")))
    return out


def changes_from_form(form: FormData) -> dict[str, str]:
    changes = {k: v.strip() for k in TEXT_KEYS if isinstance(v := form.get(k), str)}
    ticked = form.getlist("diversion_header")
    if ticked:
        changes["diversion_header"] = str(ticked[-1])
    return changes


def _page(
    request: Request,
    session: PortalSession,
    db: Db,
    *,
    editing: int | None = None,
    form: FormData | None = None,
    errors: list[FieldError] | None = None,
    saved: bool = False,
) -> Response:
    with db.uow(write=False) as uow:
        entries = forwardings.list_forwardings(uow, session.account)
    entry = None
    if editing is not None:
        entry = next((e for e in entries if e.id == editing), None)
        if entry is None:
            raise HTTPException(status_code=404)
    lang = session.language
    error_map = {e.field: translate_error(lang, e) for e in errors or []}
    return render(
        request,
        "forwardings.html" if editing is None else "forwarding.html",
        language=lang,
        status_code=(409 if any(e.field == "forwarding" for e in errors or []) else 422)
        if errors else 200,
        session=session,
        section="forwardings",
        entries=entries,
        entry=entry,
        fields=_fields(entry, form, error_map),
        errors=[(e.field, error_map[e.field]) for e in errors or []],
        labels=LABELS,
        saved=saved,
    )


@router.get(PREFIX + "/forwardings")
def list_forwardings(request: Request, session: Session, db: Db) -> Response:
    return _page(request, session, db)


@router.post(PREFIX + "/forwardings")
def add_forwarding(request: Request, session: CheckedSession, db: Db, form: Form) -> Response:
    changes = changes_from_form(form)
    if not changes.get("pause"):
        changes.pop("pause", None)
    try:
        forwardings.add_forwarding(
            db, session.account, changes, actor=f"portal:{session.account}"
        )
    except ValidationFailed as exc:
        return _page(request, session, db, form=form, errors=exc.errors)
    return redirect(request, f"{PREFIX}/forwardings")


def _ident(forwarding: str) -> int:
    if not forwarding.isdigit() or len(forwarding) > 18:
        raise HTTPException(status_code=404)
    return int(forwarding)


@router.get(PREFIX + "/forwardings/{forwarding}")
def edit_forwarding(request: Request, forwarding: str, session: Session, db: Db) -> Response:
    return _page(request, session, db, editing=_ident(forwarding))


@router.post(PREFIX + "/forwardings/{forwarding}")
def save_forwarding(
    request: Request, forwarding: str, session: CheckedSession, db: Db, form: Form
) -> Response:
    ident = _ident(forwarding)
    try:
        forwardings.set_forwarding(
            db, session.account, ident, changes_from_form(form),
            actor=f"portal:{session.account}",
        )
    except NotFound:
        raise HTTPException(status_code=404) from None
    except ValidationFailed as exc:
        return _page(request, session, db, editing=ident, form=form, errors=exc.errors)
    return _page(request, session, db, editing=ident, saved=True)


@router.post(PREFIX + "/forwardings/{forwarding}/delete")
def delete_forwarding(
    request: Request, forwarding: str, session: CheckedSession, db: Db
) -> Response:
    ident = _ident(forwarding)
    try:
        forwardings.delete_forwarding(
            db, session.account, ident, actor=f"portal:{session.account}"
        )
    except NotFound:
        raise HTTPException(status_code=404) from None
    except Conflict as exc:
        with db.uow(write=False) as uow:
            account = lookups.get_account(uow, session.account)
            users = ", ".join(forwardings.users(uow, account, f"fwd:{ident}"))
        params = (("target", f"fwd:{ident}"), ("users", users))
        error = FieldError("forwarding", exc.code, str(exc), params)
        return _page(request, session, db, errors=[error])
    return redirect(request, f"{PREFIX}/forwardings")

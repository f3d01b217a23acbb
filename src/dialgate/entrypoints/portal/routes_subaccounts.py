"""Sub accounts: list, create, edit (own settings and per-key overrides of the main account's
values, each resettable to "inherit"), delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from dialgate.domain import settings as s
from dialgate.domain.errors import Conflict, FieldError, NotFound, ValidationFailed
from dialgate.entrypoints.portal import forms, present
from dialgate.entrypoints.portal.messages import translate_error
from dialgate.entrypoints.portal.routes_settings import account_options, words_for
from dialgate.entrypoints.portal.web import (
    PREFIX,
    CheckedSession,
    Db,
    Form,
    Session,
    redirect,
    render,
)
from dialgate.services import accounts, lookups
from dialgate.services.portal_auth import PortalSession

router = APIRouter()

OWN_SPECS = [s.spec_for(k) for k in s.SUB_OWN_KEYS]
CREATE_LABELS = {
    "username": "Username",
    "sip_password": "SIP/IAX Password",
    "description": "Description",
    "delete": "Delete",
}
LABELS = {spec.key: spec.label for spec in (*s.SPECS, s.DESCRIPTION_SPEC)}
OVERRIDE_SPECS = [s.spec_for(k) for k in s.SUB_OVERRIDE_KEYS]


def _list_page(
    request: Request,
    session: PortalSession,
    db: Db,
    *,
    errors: list[FieldError] | None = None,
    form: FormData | None = None,
    message: str | None = None,
    deleted: str | None = None,
) -> Response:
    with db.uow(write=False) as uow:
        account = lookups.get_account(uow, session.account)
        subs = [
            (row.username, row.name, lookups.load_settings(row))
            for row in lookups.list_subaccounts(uow, account)
        ]
    lang = session.language
    return render(
        request,
        "subaccounts.html",
        language=lang,
        status_code=422 if errors else 200,
        session=session,
        section="subaccounts",
        subs=subs,
        errors=[(e.field, translate_error(lang, e)) for e in errors or []],
        error_map={e.field: translate_error(lang, e) for e in errors or []},
        form=form,
        message=message,
        deleted=deleted,
        labels=CREATE_LABELS,
    )


def _sub_field(field: forms.Field) -> forms.Field:
    """A field as a sub account's page names it (its own SIP password, its voicemail)."""
    return replace(
        field,
        label=present.SUB_LABELS.get(field.key, ""),
        help=present.SUB_HELP.get(field.key, ""),
    )


def _override_field(
    spec: s.SettingSpec,
    own: dict[str, Any],
    main: dict[str, Any],
    *,
    form: FormData | None,
    error: str | None,
    words: present.Words,
) -> forms.Field:
    kind = forms.widget(spec)
    if kind == "checkbox":
        kind = "tristate"
    if kind == "codecs":
        if form is not None:
            value: Any = (
                [] if form.get(f"{spec.key}_inherit") == "1" else forms.submitted_value(spec, form)
            )
        else:
            value = list(own.get(spec.key) or ())
    elif form is not None:
        raw = form.get(spec.key)
        value = raw if isinstance(raw, str) else ""
    elif spec.key in own:
        value = s.display(spec.key, own[spec.key])
    else:
        value = ""
    inherited = words.value(spec.key, s.display(spec.key, main.get(spec.key)))
    return _sub_field(forms.Field(spec, kind, value, error, inherited=inherited))


def _edit_page(
    request: Request,
    session: PortalSession,
    db: Db,
    username: str,
    *,
    form: FormData | None = None,
    errors: list[FieldError] | None = None,
    saved: bool = False,
    created: bool = False,
) -> Response:
    with db.uow(write=False) as uow:
        account = lookups.get_account(uow, session.account)
        try:
            sub = lookups.get_subaccount(uow, account, username)
        except NotFound:
            raise HTTPException(status_code=404) from None
        own = lookups.load_settings(sub)
        main = lookups.load_settings(account)
        name = sub.name
    lang = session.language
    error_map = {e.field: translate_error(lang, e) for e in errors or []}
    words = words_for(db, session)
    own_fields = [_sub_field(f) for f in forms.fields(OWN_SPECS, own, form=form, errors=error_map)]
    override_fields = [
        _override_field(spec, own, main, form=form, error=error_map.get(spec.key), words=words)
        for spec in OVERRIDE_SPECS
    ]
    return render(
        request,
        "subaccount.html",
        language=lang,
        status_code=422 if errors else 200,
        session=session,
        section="subaccounts",
        name=name,
        username=username,
        own_fields=own_fields,
        override_fields=override_fields,
        errors=[(e.field, error_map[e.field]) for e in errors or []],
        saved=saved,
        created=created,
        options=account_options(db, session.account),
        words=words,
        labels={**LABELS, **present.SUB_LABELS},
    )


@router.get(PREFIX + "/subaccounts")
def list_subaccounts(request: Request, session: Session, db: Db, deleted: str = "") -> Response:
    # Shown once after a delete; only a plausible username is echoed (it is escaped anyway).
    shown = deleted if accounts.SUB_USERNAME.fullmatch(deleted) else None
    return _list_page(request, session, db, deleted=shown)


@router.post(PREFIX + "/subaccounts")
def create_subaccount(request: Request, session: CheckedSession, db: Db, form: Form) -> Response:
    username = str(form.get("username") or "").strip()
    changes = {"description": str(form.get("description") or "")}
    try:
        accounts.create_subaccount(
            db,
            session.account,
            username,
            password=str(form.get("sip_password") or ""),
            changes=changes,
            actor=f"portal:{session.account}",
        )
    except ValidationFailed as exc:
        return _list_page(request, session, db, errors=exc.errors, form=form)
    except Conflict as exc:
        error = FieldError(exc.field or "username", exc.code, str(exc))
        return _list_page(request, session, db, errors=[error], form=form)
    return redirect(request, f"{PREFIX}/subaccounts/{username}?created=1")


@router.get(PREFIX + "/subaccounts/{username}")
def edit_subaccount(
    request: Request, username: str, session: Session, db: Db, created: str = ""
) -> Response:
    return _edit_page(request, session, db, username, created=created == "1")


@router.post(PREFIX + "/subaccounts/{username}")
def save_subaccount(
    request: Request, username: str, session: CheckedSession, db: Db, form: Form
) -> Response:
    changes: dict[str, str] = forms.changes_from_form(OWN_SPECS, form)
    for spec in OVERRIDE_SPECS:
        if forms.widget(spec) == "codecs":
            codecs = forms.codecs_from_form(form, spec.key)
            if codecs is not None:
                changes[spec.key] = codecs
            continue
        raw = form.get(spec.key)
        if isinstance(raw, str):
            changes[spec.key] = raw  # empty = inherit the main account's value
    try:
        accounts.update_settings(
            db, f"{session.account}_{username}", changes, actor=f"portal:{session.account}"
        )
    except NotFound:
        raise HTTPException(status_code=404) from None
    except ValidationFailed as exc:
        return _edit_page(request, session, db, username, form=form, errors=exc.errors)
    return _edit_page(request, session, db, username, saved=True)


@router.post(PREFIX + "/subaccounts/{username}/delete")
def delete_subaccount(request: Request, username: str, session: CheckedSession, db: Db) -> Response:
    try:
        accounts.delete_subaccount(
            db, f"{session.account}_{username}", actor=f"portal:{session.account}"
        )
    except NotFound:
        raise HTTPException(status_code=404) from None
    except Conflict as exc:
        return _list_page(request, session, db, errors=[FieldError("delete", exc.code, str(exc))])
    return redirect(request, f"{PREFIX}/subaccounts?deleted={username}")

"""Account Settings: the seed's tabs, each a form that saves on its own."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from dialgate.adapters import geo
from dialgate.domain import catalogs
from dialgate.domain import settings as s
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.entrypoints.portal import forms, present
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
from dialgate.services import accounts, billing, lookups, names
from dialgate.services.portal_auth import PortalSession

router = APIRouter()


@dataclass(frozen=True, slots=True)
class CountryOption:
    code: str
    name: str
    calling_code: int
    search: str  # lower case, accents removed: what the search box matches


@dataclass(frozen=True, slots=True)
class RegionGroup:
    region: str
    name: str
    countries: tuple[CountryOption, ...]


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=8)
def country_groups(language: str) -> tuple[RegionGroup, ...]:
    """Countries by region, named and sorted in the reader's language (CLDR)."""
    groups = []
    for region in catalogs.Region:
        options = [
            CountryOption(
                c.code,
                c.name(language),
                c.calling_code,
                fold(f"{c.name(language)} {c.names['en']} {c.code}"),
            )
            for c in geo.countries()
            if c.region == region
        ]
        options.sort(key=lambda o: fold(o.name))
        groups.append(RegionGroup(region.value, geo.region_name(region, language), tuple(options)))
    return tuple(sorted(groups, key=lambda g: fold(g.name)))


def country_names(codes: list[str], language: str) -> str:
    """The chosen countries, named in the reader's language, in its alphabetical order."""
    by_code = geo.countries_by_code()
    names = [by_code[c].name(language) if c in by_code else c for c in codes]
    return ", ".join(sorted(names, key=fold))


@dataclass(frozen=True, slots=True)
class Options:
    """Choices that depend on the account: mailboxes, routing targets, POPs."""

    mailboxes: tuple[str, ...]
    targets: tuple[str, ...]
    pops: tuple[str, ...]


def account_options(db: Db, account: str) -> Options:
    with db.uow(write=False) as uow:
        ctx = lookups.validation_context(uow, lookups.get_account(uow, account))
    targets = [f"account:{ctx.account}", *(f"account:{n}" for n in sorted(ctx.subaccounts))]
    targets += [f"vm:{m}" for m in sorted(ctx.mailboxes)]
    for kind in ("fwd", "ivr", "queue", "grp", "tc"):
        targets += [f"{kind}:{ref}" for ref in sorted(ctx.targets.get(kind, ()), key=_ref_order)]
    targets += [f"sys:{a}" for a in catalogs.SYSTEM_ACTIONS]
    targets.append("none:")
    pops = tuple(p.name for p in catalogs.DEFAULT_POPS if p.name in ctx.pops)
    return Options(tuple(sorted(ctx.mailboxes)), tuple(targets), pops)


def _ref_order(ref: str) -> tuple[int, str]:
    return (int(ref), "") if ref.isdigit() else (1 << 62, ref)


def words_for(db: Db, session: PortalSession) -> present.Words:
    """Customer words for this reader: their language and their account's names."""
    with db.uow(write=False) as uow:
        account_names = names.account_names(uow, session.account)
    return present.Words(session.language, account_names)


def _tab(tab: str) -> s.Tab:
    try:
        return s.Tab(tab)
    except ValueError:
        raise HTTPException(status_code=404) from None


def render_tab(
    request: Request,
    session: PortalSession,
    *,
    tab: s.Tab,
    values: dict[str, Any],
    options: Options,
    form: FormData | None = None,
    errors: list[FieldError] | None = None,
    saved: bool = False,
    balance: billing.BalanceView | None = None,
    words: present.Words,
) -> Response:
    lang = session.language
    error_map = {e.field: translate_error(lang, e) for e in errors or []}
    fields = forms.fields(forms.tab_specs(tab), values, form=form, errors=error_map)
    allow_intl = (
        forms.submitted_value(s.SPECS_BY_KEY["allow_international"], form)
        if form is not None and tab == s.Tab.RESTRICTIONS
        else bool(values.get("allow_international"))
    )
    return render(
        request,
        "settings_tab.html" if request.headers.get("hx-request") == "true" else "settings.html",
        language=lang,
        status_code=422 if errors else 200,
        session=session,
        section="settings",
        tabs=list(s.TAB_TITLES.items()),
        tab=tab,
        fields=fields,
        errors=[(e.field, error_map[e.field]) for e in errors or []],
        saved=saved,
        options=options,
        country_groups=country_groups(lang),
        country_names=lambda codes: country_names(codes, lang),
        allow_international=allow_intl,
        sub=None,
        balance=balance,
        words=words,
        failover_keys=present.ROUTING_SETTING_KEYS[1:],
        failovers_open=any(e.field in present.ROUTING_SETTING_KEYS[1:] for e in errors or []),
    )


@router.get(PREFIX + "/settings")
def settings_home(request: Request, session: Session) -> Response:
    return redirect(request, f"{PREFIX}/settings/{s.Tab.ROUTING.value}")


@router.get(PREFIX + "/settings/{tab}")
def settings_tab(request: Request, tab: str, session: Session, db: Db) -> Response:
    the_tab = _tab(tab)
    with db.uow(write=False) as uow:
        view = accounts.show_settings(uow, session.account)
        balance = billing.balance(uow, session.account)
    return render_tab(
        request,
        session,
        tab=the_tab,
        values=view.values,
        options=account_options(db, session.account),
        balance=balance,
        words=words_for(db, session),
    )


@router.post(PREFIX + "/settings/{tab}")
def save_tab(request: Request, tab: str, session: CheckedSession, db: Db, form: Form) -> Response:
    the_tab = _tab(tab)
    changes = forms.changes_from_form(forms.tab_specs(the_tab), form)
    options = account_options(db, session.account)
    try:
        accounts.update_settings(
            db, session.account, changes, actor=f"portal:{session.account}"
        )
    except ValidationFailed as exc:
        with db.uow(write=False) as uow:
            view = accounts.show_settings(uow, session.account)
        return render_tab(
            request,
            session,
            tab=the_tab,
            values=view.values,
            options=options,
            form=form,
            errors=exc.errors,
            words=words_for(db, session),
        )
    with db.uow(write=False) as uow:
        view = accounts.show_settings(uow, session.account)
    return render_tab(
        request,
        session,
        tab=the_tab,
        values=view.values,
        options=options,
        saved=True,
        words=words_for(db, session),
    )

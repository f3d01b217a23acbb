"""Test a number: the decision the SIP server would get for a call, with its trace.

The page calls ``services.authorize.authorize_call`` with the app's one ``PolicyCache``, the same
path as the switch endpoint, so what the customer sees here is what their calls get. It changes
nothing, so it is a GET form (bookmarkable, no CSRF token needed).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dialgate.domain import catalogs
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.domain.policy import TRANSPORTS, AuthorizeRequest, Decision
from dialgate.entrypoints.policy_cache import get_policy_cache
from dialgate.entrypoints.portal.decision_words import Context, DecisionWords, duration
from dialgate.entrypoints.portal.messages import translate_error
from dialgate.entrypoints.portal.web import PREFIX, Db, Session, render
from dialgate.services import accounts, billing, lookups
from dialgate.services.authorize import authorize_call

router = APIRouter()

POP_NAMES = tuple(p.name for p in catalogs.DEFAULT_POPS)

FIELD_LABELS = {
    "dialed": "Number to dial",
    "subaccount": "Calling account",
    "source_ip": "Source IP address (optional)",
    "pop": "POP (optional)",
    "transport": "Transport",
}
ACTIONS = {
    "call": "Call",
    "emergency": "Emergency call",
    "voicemail": "Voicemail",
    "moh_test": "Music on hold test",
    "reject": "Refused",
}


@dataclass(frozen=True, slots=True)
class TestForm:
    dialed: str = ""
    subaccount: str = ""
    source_ip: str = ""
    pop: str = ""
    transport: str = "udp"
    srtp: bool = False


def _read_form(request: Request) -> TestForm:
    q = request.query_params
    return TestForm(
        dialed=q.get("dialed", "").strip(),
        subaccount=q.get("subaccount", "").strip(),
        source_ip=q.get("source_ip", "").strip(),
        pop=q.get("pop", "").strip(),
        transport=q.get("transport", "udp").strip() or "udp",
        srtp=q.get("srtp") == "true",
    )


def _check(
    form: TestForm, account: str, subs: list[str], pops: tuple[str, ...]
) -> AuthorizeRequest:
    errors: list[FieldError] = []
    if form.subaccount and form.subaccount not in subs:
        errors.append(
            FieldError(
                "subaccount",
                "invalid_choice",
                f"must be one of {', '.join(subs)}; got {form.subaccount!r}",
                (("choices", ", ".join(subs)), ("value", form.subaccount)),
            )
        )
    if form.pop and form.pop not in pops:
        errors.append(
            FieldError(
                "pop",
                "invalid_pop",
                f"must be a POP name from the catalog; got {form.pop!r}",
                (("value", form.pop),),
            )
        )
    subject = f"{account}_{form.subaccount}" if form.subaccount else account
    try:
        request = AuthorizeRequest.checked(
            subject,
            form.dialed,
            source_ip=form.source_ip or None,
            pop=form.pop or None,
            transport=form.transport,
            srtp=form.srtp,
        )
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        request = None
    if errors or request is None:
        raise ValidationFailed(errors)
    return request


@router.get(PREFIX + "/test")
def test_a_number(request: Request, session: Session, db: Db) -> Response:
    with db.uow(write=False) as uow:
        account = lookups.get_account(uow, session.account)
        subs = [row.username for row in lookups.list_subaccounts(uow, account)]
    form = _read_form(request)
    lang = session.language
    decision: Decision | None = None
    errors: list[FieldError] = []
    if "dialed" in request.query_params:
        try:
            call = _check(form, session.account, subs, POP_NAMES)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            decision = authorize_call(get_policy_cache(request), call)
    error_map = {e.field: translate_error(lang, e) for e in errors}
    said = None
    if decision is not None:
        with db.uow(write=False) as uow:
            subject = f"{session.account}_{form.subaccount}" if form.subaccount else session.account
            max_rate = accounts.show_settings(uow, subject).values.get("international_max_rate")
            balance = billing.balance(uow, session.account).current_balance
        said = DecisionWords(
            lang,
            decision,
            Context(form.dialed, form.source_ip, form.pop, balance, max_rate),
        )
    return render(
        request,
        "test_number.html",
        language=lang,
        status_code=422 if errors else 200,
        session=session,
        section="test",
        form=form,
        subs=subs,
        pops=catalogs.DEFAULT_POPS,
        transports=TRANSPORTS,
        errors=[(e.field, error_map[e.field]) for e in errors],
        error_map=error_map,
        decision=decision,
        said=said,
        duration=duration,
        field_labels=FIELD_LABELS,
        actions=ACTIONS,
    )

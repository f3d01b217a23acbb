"""Test a number: the decision the SIP server would get for a call, with its trace.

The page calls ``services.authorize.authorize_call`` with the app's one ``PolicyCache``, the same
path as the switch endpoint, so what the customer sees here is what their calls get. It changes
nothing, so it is a GET form (bookmarkable, no CSRF token needed).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dialgate.adapters import geo
from dialgate.domain import catalogs
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.domain.policy import TRANSPORTS, AuthorizeRequest, Decision
from dialgate.entrypoints.policy_cache import get_policy_cache
from dialgate.entrypoints.portal.messages import translate_error
from dialgate.entrypoints.portal.web import PREFIX, Db, Session, gettext, render
from dialgate.services import accounts
from dialgate.services.authorize import authorize_call

router = APIRouter()

POP_NAMES = tuple(p.name for p in catalogs.DEFAULT_POPS)

# Why a call was refused or allowed, in words a translator can take (the domain's own message
# quotes values and stays English; it is shown to English readers as is).
REASONS = {
    "ok": "The call is allowed.",
    "unknown_account": "This account does not exist.",
    "account_disabled": "This account is disabled.",
    "encryption_required": "Encrypted SIP is on for this account: call over TLS with SRTP.",
    "ip_not_allowed": "Calls from this address are not allowed by the account's IP restriction.",
    "pop_not_allowed": "Calls through this POP are not allowed by the account's POP restriction.",
    "invalid_number": "This is not a number that can be dialed.",
    "blocked_number": (
        "NPA-555-1212 is blocked: the only way to reach directory assistance is by dialing 411."
    ),
    "directory_assistance_disabled": "411 directory assistance is disabled for this account.",
    "international_disabled": "International calls are disabled for this account.",
    "country_not_allowed": "Calls to this country are not allowed for this account.",
    "no_rate": "There is no rate for this destination on the chosen route.",
    "rate_above_limit": "The rate to this destination is above the account's limit.",
    "insufficient_balance": "The balance does not cover this call.",
    "e911_no_callerid": (
        "Emergency call refused: the caller ID is not an e911-enabled DID and no e911 default "
        "caller ID is set."
    ),
}
STEP_TITLES = {
    "account": "Account",
    "encryption": "Encrypted SIP",
    "ip_restriction": "IP restriction",
    "pop_restriction": "POP restriction",
    "normalize": "Normalize the number",
    "classify": "Classify the number",
    "special_numbers": "Special numbers",
    "international_lock": "International calls",
    "allowed_countries": "Allowed countries",
    "route": "Route",
    "rate": "Rate",
    "international_max_rate": "International max rate",
    "balance": "Balance",
    "max_duration": "Maximum duration",
    "caller_id": "Caller ID",
}
FIELD_LABELS = {
    "dialed": "Number to dial",
    "subaccount": "Calling account",
    "source_ip": "Source IP address (optional)",
    "pop": "POP (optional)",
    "transport": "Transport",
}
OUTCOMES = {"pass": "passed", "deny": "refused", "skip": "skipped"}
ACTIONS = {
    "call": "Call",
    "emergency": "Emergency call",
    "voicemail": "Voicemail",
    "moh_test": "Music on hold test",
    "reject": "Refused",
}
CLASSES = {
    "us48": "United States (48 states)",
    "us_other": "United States (other)",
    "canada": "Canada",
    "tollfree": "Toll free",
    "international": "International",
    "emergency": "Emergency (911)",
    "directory_assistance": "Directory assistance (411)",
    "voicemail": "Voicemail",
    "moh_test": "Music on hold test",
    "invalid": "Invalid",
}


@dataclass(frozen=True, slots=True)
class TestForm:
    dialed: str = ""
    subaccount: str = ""
    source_ip: str = ""
    pop: str = ""
    transport: str = "udp"
    srtp: bool = False


def duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def reason_text(decision: Decision, language: str) -> str:
    if language == "en" or decision.reason not in REASONS:
        return decision.message
    return gettext(language, REASONS[decision.reason])


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
        account = accounts.get_account(uow, session.account)
        subs = [row.username for row in accounts.list_subaccounts(uow, account)]
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
    destination = decision.destination if decision else None
    country = country_en = None
    if destination is not None and destination.country:
        country = geo.country_name(destination.country, lang)
        country_en = geo.country_name(destination.country, "en")
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
        reason_text=reason_text(decision, lang) if decision else "",
        country=country,
        country_en=country_en,
        duration=duration,
        field_labels=FIELD_LABELS,
        step_titles=STEP_TITLES,
        outcomes=OUTCOMES,
        actions=ACTIONS,
        classes=CLASSES,
    )

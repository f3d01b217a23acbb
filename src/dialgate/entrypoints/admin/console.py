"""The operator console at ``/admin/``: log-in (argon2id password, then a TOTP code for admins),
CSRF on every form, the portal's failed-login delays and lockout; pages for accounts (search by
number, email or DID; create; suspend and restore with a reason; deposit or credit with a reason,
admins only; a customer's settings and history read-only), call records across accounts, the
operator audit log and a live overview. In English, French or Spanish (the portal's catalogs):
the operator's choice (a cookie) or the browser's Accept-Language.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import os
import re
import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload

from dialgate.domain.deck_csv import parse_deck_csv
from dialgate.domain.errors import DialgateError, PermissionDenied, ValidationFailed
from dialgate.domain.rating import ROUTES
from dialgate.entrypoints.guards import DECK_UPLOAD_PATH
from dialgate.entrypoints.portal import i18n
from dialgate.entrypoints.portal.messages import translate_error
from dialgate.entrypoints.portal.web import (
    SECURITY_HEADERS,
    database,
    form_data,
    format_money,
    is_secure,
    redirect,
)
from dialgate.services import (
    admin,
    deck_review,
    history,
    operators,
    suspension,
)
from dialgate.services.audit import settings_history
from dialgate.services.operators import AccountLocked, ConsoleSession, LoginFailed
from dialgate.services.uow import Database

PREFIX = "/admin"
COOKIE = "dg_admin"
LOGIN_CSRF = "dg_admin_login_csrf"
TEMPLATES = Path(__file__).parent / "templates"
router = APIRouter(include_in_schema=False)

LANGUAGE_COOKIE = "dg_admin_lang"


def N_(message: str) -> str:  # noqa: N802 - marks a msgid for extraction, translated later
    return message


# Words the templates translate from data (``_(value)``), so the extractor cannot see them;
# tests/support/msgids.py adds them to the catalog check. Only these values are translated:
# anything else (e.g. a query parameter) is never handed to gettext.
WORDS = {w: N_(w) for w in (
    "admin", "support", "outbound", "inbound", "answered", "busy", "noanswer", "failed",
)}
DONE = {
    "created": N_("account created"),
    "suspended": N_("account suspended"),
    "suspended-rpc-errors": N_("account suspended (Kamailio did not answer every request)"),
    "restored": N_("account restored"),
    "money": N_("funds added"),
}


@lru_cache(maxsize=len(i18n.LANGUAGES))
def _environment(language: str) -> Environment:
    """The console's templates in one language (the portal's catalogs: en, fr, es)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(language), newstyle=True
    )
    env.globals.update(prefix=PREFIX, lang=language, words=WORDS)
    env.filters["money"] = lambda v: format_money(v, language)
    env.filters["when"] = lambda v: f"{v.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    return env


def language_of(request: Request) -> str:
    """The operator's language: the one they chose (a cookie), else the browser's
    Accept-Language among en, fr and es."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in i18n.LANGUAGES:
        return chosen
    return i18n.negotiate(request.headers.get("accept-language"))


def tr(request: Request, message: str, **values: Any) -> str:
    """A message the Python side shows, in the operator's language."""
    text = i18n.translations(language_of(request)).gettext(message)
    return text % values if values else text


class ConsoleLogin(Exception):
    """No session (or the TOTP step is still due): to the right log-in page."""

    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


class ConsoleCsrf(Exception):
    pass


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env = _environment(language_of(request))
    html = env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=True,
                        samesite="strict", secure=is_secure(request))


def _resolve(request: Request) -> ConsoleSession | None:
    with database(request).uow(write=False) as uow:
        return operators.resolve(uow, request.cookies.get(COOKIE))


def current(request: Request) -> ConsoleSession:
    session = _resolve(request)
    if session is None:
        raise ConsoleLogin(f"{PREFIX}/login")
    if not session.complete:
        raise ConsoleLogin(f"{PREFIX}/totp")
    return session


def checked(
    request: Request,
    session: Annotated[ConsoleSession, Depends(current)],
    form: Annotated[FormData, Depends(form_data)],
) -> ConsoleSession:
    token = form.get("csrf_token")
    if not isinstance(token, str) or not session.csrf_ok(token):
        raise ConsoleCsrf
    return session


Console = Annotated[ConsoleSession, Depends(current)]
Checked = Annotated[ConsoleSession, Depends(checked)]
Form = Annotated[FormData, Depends(form_data)]
Db = Annotated[Database, Depends(database)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _errors(request: Request, exc: DialgateError) -> list[str]:
    """The services' refusals in the operator's language (the portal's error translations:
    by code and parameters, else the message's own catalog entry, else English)."""
    language = language_of(request)
    if isinstance(exc, ValidationFailed):
        return [f"{e.field}: {translate_error(language, e)}" for e in exc.errors]
    return [i18n.translations(language).gettext(str(exc))]


# --- log-in ---------------------------------------------------------------------------------


def _login_page(request: Request, *, error: str | None = None, email: str = "",
                status: int = 200) -> Response:
    token = request.cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(32)
    response = page(request, "login.html", status, csrf_token=token, error=error, email=email)
    _cookie(request, response, LOGIN_CSRF, token, 3600)
    return response


@router.get(PREFIX + "/")
def home(request: Request) -> Response:
    session = _resolve(request)
    if session is None:
        return redirect(request, f"{PREFIX}/login")
    return redirect(request, f"{PREFIX}/accounts" if session.complete else f"{PREFIX}/totp")


@router.get(PREFIX + "/language")
def choose_language(request: Request, lang: str = "") -> Response:
    """Keep the operator's language choice (a year-long cookie), then back to the console."""
    response = redirect(request, f"{PREFIX}/")
    if lang in i18n.LANGUAGES:
        _cookie(request, response, LANGUAGE_COOKIE, lang, 365 * 86400)
    return response


@router.get(PREFIX + "/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


async def _throttle(request: Request, outcome: LoginFailed | AccountLocked) -> str:
    await asyncio.sleep(outcome.delay)  # slows guessing without holding a thread
    if isinstance(outcome, AccountLocked):
        until = outcome.until.strftime("%H:%M")
        return tr(request, "Too many failed attempts: locked until %(time)s UTC.", time=until)
    if isinstance(outcome, operators.CodeReused):
        return tr(request, "This code was already used. Wait for the next code of your app.")
    return tr(request, "Wrong email, password or code.")


@router.post(PREFIX + "/login")
async def login(request: Request, db: Db, form: Form) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF)
    sent = form.get("csrf_token")
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(cookie, sent):
        raise ConsoleCsrf
    email, password = _text(form, "email"), str(form.get("password") or "")

    outcome = await run_in_threadpool(operators.attempt_login, db, email, password)
    if isinstance(outcome, LoginFailed | AccountLocked):
        return _login_page(request, error=await _throttle(request, outcome), email=email,
                           status=401)
    token, session = outcome
    response = redirect(request, f"{PREFIX}/accounts" if session.complete else f"{PREFIX}/totp")
    _cookie(request, response, COOKIE, token, operators.SESSION_HOURS * 3600)
    response.delete_cookie(LOGIN_CSRF, path=PREFIX)
    return response


@router.get(PREFIX + "/totp")
def totp_form(request: Request) -> Response:
    session = _resolve(request)
    if session is None:
        return redirect(request, f"{PREFIX}/login")
    return page(request, "totp.html", csrf_token=session.csrf_token, error=None)


@router.post(PREFIX + "/totp")
async def totp(request: Request, db: Db, form: Form) -> Response:
    session = _resolve(request)
    if session is None:
        return redirect(request, f"{PREFIX}/login")
    sent = form.get("csrf_token")
    if not session.csrf_ok(sent if isinstance(sent, str) else None):
        raise ConsoleCsrf
    token, code = request.cookies.get(COOKIE), _text(form, "code")

    outcome = await run_in_threadpool(operators.attempt_totp, db, token, code)
    if isinstance(outcome, LoginFailed | AccountLocked):
        return page(request, "totp.html", 401, csrf_token=session.csrf_token,
                    error=await _throttle(request, outcome))
    return redirect(request, f"{PREFIX}/accounts")


@router.post(PREFIX + "/logout")
def logout(request: Request, session: Checked, db: Db) -> Response:
    operators.logout(db, request.cookies.get(COOKIE))
    response = redirect(request, f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# --- accounts -------------------------------------------------------------------------------


@router.get(PREFIX + "/accounts")
def account_list(request: Request, session: Console, db: Db, q: str = "") -> Response:
    with db.uow(write=False) as uow:
        found = admin.search_accounts(uow, q)
    return page(request, "accounts.html", session=session, section="accounts", q=q,
                found=found, errors=[], values={})


@router.post(PREFIX + "/accounts")
def account_create(request: Request, session: Checked, db: Db, form: Form) -> Response:
    values = {k: _text(form, k) for k in ("number", "email", "language")}
    try:
        admin.create_account(db, session.operator, number=values["number"],
                             email=values["email"], password=str(form.get("password") or ""),
                             language=values["language"] or "en")
    except DialgateError as exc:
        with db.uow(write=False) as uow:
            found = admin.search_accounts(uow, "")
        return page(request, "accounts.html", 422, session=session, section="accounts", q="",
                    found=found, errors=_errors(request, exc), values=values)
    return redirect(request, f"{PREFIX}/accounts/{values['number']}?done=created")


def _account_page(request: Request, session: ConsoleSession, db: Database, number: str, *,
                  errors: list[str] | None = None, status: int = 200) -> Response:
    with db.uow(write=False) as uow:
        detail = admin.account_detail(uow, number)
        changes = settings_history(uow, number, limit=50)
        today = datetime.now(UTC).date()
        start, end = history.day_range(today - timedelta(days=30), today)
        calls = history.cdr_page(uow, number, history.make_filter(uow, number, start=start,
                                                                 end=end), limit=20).rows
        audit = operators.audit_log(uow, target=number, limit=50)
    return page(request, "account.html", status, session=session, section="accounts",
                a=detail, changes=changes, calls=calls, audit=audit, errors=errors or [],
                done=DONE.get(request.query_params.get("done") or ""))


@router.get(PREFIX + "/accounts/{number}")
def account_view(number: str, request: Request, session: Console, db: Db) -> Response:
    return _account_page(request, session, db, number)


@router.post(PREFIX + "/accounts/{number}/suspend")
def account_suspend(number: str, request: Request, session: Checked, db: Db,
                    form: Form) -> Response:
    try:
        outcome = suspension.suspend(db, session.operator, number, _text(form, "reason"))
    except DialgateError as exc:
        return _account_page(request, session, db, number, errors=_errors(request, exc), status=422)
    report = suspension.kick(
        suspension.rpc_addresses(request.app.state.settings.kamailio_rpc), outcome.lines)
    done = "suspended" if not report.errors else "suspended-rpc-errors"
    return redirect(request, f"{PREFIX}/accounts/{number}?done={done}")


@router.post(PREFIX + "/accounts/{number}/restore")
def account_restore(number: str, request: Request, session: Checked, db: Db,
                    form: Form) -> Response:
    try:
        suspension.restore(db, session.operator, number, _text(form, "reason"))
    except DialgateError as exc:
        return _account_page(request, session, db, number, errors=_errors(request, exc), status=422)
    return redirect(request, f"{PREFIX}/accounts/{number}?done=restored")


@router.post(PREFIX + "/accounts/{number}/money")
def account_money(number: str, request: Request, session: Checked, db: Db,
                  form: Form) -> Response:
    try:
        admin.move_money(db, session.operator, number, kind=_text(form, "kind"),
                         amount=_text(form, "amount"), reason=_text(form, "reason"))
    except PermissionDenied as exc:
        return _account_page(request, session, db, number, errors=_errors(request, exc), status=403)
    except DialgateError as exc:
        return _account_page(request, session, db, number, errors=_errors(request, exc), status=422)
    return redirect(request, f"{PREFIX}/accounts/{number}?done=money")


# --- call records, audit log, overview -------------------------------------------------------


@router.get(PREFIX + "/calls")
def calls(request: Request, session: Console, db: Db) -> Response:
    params = request.query_params
    errors: list[str] = []
    rows: list[history.CdrView] = []
    next_url = None
    today = datetime.now(UTC).date()
    try:
        date_from = history.parse_date(params.get("from"), "from", history.month_start(today))
        date_to = history.parse_date(params.get("to"), "to", today)
        start, end = history.day_range(date_from, date_to)
        f = history.operator_filter(start=start, end=end, subject=params.get("account"),
                                    direction=params.get("direction"),
                                    dispositions=params.getlist("disposition"),
                                    search=params.get("q"))
        with db.uow(write=False) as uow:
            found = history.cdr_page(uow, None, f, cursor=params.get("cursor") or None)
        rows = found.rows
        if found.next_cursor:
            next_url = str(request.url.include_query_params(cursor=found.next_cursor))
    except ValidationFailed as exc:
        errors = _errors(request, exc)
        date_from, date_to = history.month_start(today), today
    return page(request, "calls.html", 422 if errors else 200, session=session,
                section="calls", rows=rows, errors=errors, next_url=next_url,
                date_from=date_from, date_to=date_to, params=params)


@router.get(PREFIX + "/audit")
def audit(request: Request, session: Console, db: Db, target: str = "") -> Response:
    with db.uow(write=False) as uow:
        entries = operators.audit_log(uow, target=target or None, limit=300)
    return page(request, "audit.html", session=session, section="audit", entries=entries,
                target=target)


@router.get(PREFIX + "/overview")
def overview(request: Request, session: Console, db: Db) -> Response:
    """Calls recorded in the last 15 minutes (per second and by outcome), call decisions by
    reason (every worker's, from ``decision_log``) and the email outbox; the page refreshes
    itself every 15 s."""
    seen = admin.overview(db)
    cache = getattr(request.app.state, "policy_cache", None)
    return page(request, "overview.html", session=session, section="overview",
                by_outcome=seen.by_outcome, total=seen.calls, per_second=seen.calls_per_second,
                pending=seen.pending_emails, failing=seen.failing_emails, pid=os.getpid(),
                decisions=seen.decisions, decisions_total=sum(seen.decisions.values()),
                cache=cache.stats() if cache is not None else None)


def install(app: FastAPI) -> None:
    app.include_router(router)
    # The console's own script (the deck upload's progress): same origin, so the CSP holds.
    app.mount(PREFIX + "/static", StaticFiles(directory=Path(__file__).parent / "static"),
              name="admin-static")

    @app.exception_handler(ConsoleLogin)
    async def _to_login(request: Request, exc: ConsoleLogin) -> Response:
        return redirect(request, exc.to)

    @app.exception_handler(ConsoleCsrf)
    async def _csrf(request: Request, exc: ConsoleCsrf) -> Response:
        return HTMLResponse("<!doctype html><title>Forbidden</title><h1>403 Forbidden</h1>"
                            "<p>This form has expired. Reload the page and try again.</p>",
                            status_code=403, headers=SECURITY_HEADERS)


# --- rate decks ---------------------------------------------------------------------------------
# An uploaded deck waits in a private directory under a random name until it is published (the
# review page and the publish form are two requests); a deck-versions table can replace this.

DECK_DIR = Path(tempfile.gettempdir()) / "dialgate-decks"


def _staged(token: str) -> Path | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", token):
        return None
    path = DECK_DIR / f"{token}.csv"
    return path if path.is_file() else None


@router.get(PREFIX + "/rates")
def rates_page(request: Request, session: Console) -> Response:
    return page(request, "rates.html", session=session, section="rates", routes=ROUTES,
                errors=[], review=None, token=None, route="value")


@router.post(DECK_UPLOAD_PATH)
async def rates_review(request: Request, session: Console, db: Db) -> Response:
    errors: list[str] = []
    review = None
    token = None
    limit = request.app.state.settings.max_deck_upload_bytes  # the guards allow this path that
    async with request.form(max_part_size=limit) as form:  # closes the upload
        sent = form.get("csrf_token")
        if not session.csrf_ok(sent if isinstance(sent, str) else None):
            raise ConsoleCsrf
        raw_route = form.get("route")
        route = raw_route if isinstance(raw_route, str) else ""
        upload = form.get("deck")
        text = None
        if isinstance(upload, StarletteUpload):
            text = (await upload.read()).decode("utf-8", errors="replace")
    if text is None:
        errors = [tr(request, "deck: choose a CSV file")]
    else:
        try:
            parsed = parse_deck_csv(io.StringIO(text, newline=""))
            with db.uow(write=False) as uow:
                review = deck_review.diff(uow, route, parsed)
            DECK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
            token = secrets.token_urlsafe(24)
            (DECK_DIR / f"{token}.csv").write_text(text, encoding="utf-8")
        except ValidationFailed as exc:
            errors = _errors(request, exc)
    return page(request, "rates.html", 422 if errors else 200, session=session,
                section="rates", routes=ROUTES, errors=errors, review=review, token=token,
                route=route)


@router.post(PREFIX + "/rates/publish")
def rates_publish(request: Request, session: Checked, db: Db, form: Form) -> Response:
    route, token = _text(form, "route"), _text(form, "token")
    staged = _staged(token)
    if staged is None:
        return page(request, "rates.html", 422, session=session, section="rates",
                    routes=ROUTES,
                    errors=[tr(request, "deck: upload it again (the review expired)")],
                    review=None, token=None, route=route)
    try:
        parsed = parse_deck_csv(io.StringIO(staged.read_text(encoding="utf-8"), newline=""))
        count = deck_review.publish(db, session.operator, route, parsed)
    except PermissionDenied as exc:
        return page(request, "rates.html", 403, session=session, section="rates",
                    routes=ROUTES, errors=_errors(request, exc), review=None, token=None,
                    route=route)
    except ValidationFailed as exc:
        return page(request, "rates.html", 422, session=session, section="rates",
                    routes=ROUTES, errors=_errors(request, exc), review=None, token=None,
                    route=route)
    staged.unlink(missing_ok=True)
    return redirect(request, f"{PREFIX}/rates?published={route}&count={count}")

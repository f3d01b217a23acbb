"""Log in, log out, change password, choose the language."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from dialgate.adapters import metrics, passwords, ratelimit
from dialgate.domain.errors import ValidationFailed
from dialgate.entrypoints import guards
from dialgate.entrypoints.portal import i18n
from dialgate.entrypoints.portal.messages import translate_error
from dialgate.entrypoints.portal.web import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    CheckedSession,
    CsrfRejected,
    Db,
    Form,
    Session,
    gettext,
    redirect,
    render,
    set_cookie,
)
from dialgate.services import lookups, portal_auth, suspension
from dialgate.services.portal_auth import NewSession

log = logging.getLogger(__name__)
router = APIRouter()


def _login_language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if lang in i18n.LANGUAGES:
        return lang
    return i18n.negotiate(request.headers.get("accept-language"))


def _chosen_language(request: Request, form: FormData | None = None) -> str | None:
    """A language the visitor picked on the login page (``?lang=``): kept after logging in."""
    picked = form.get("language") if form is not None else request.query_params.get("lang")
    return picked if isinstance(picked, str) and picked in i18n.LANGUAGES else None


def _login_page(
    request: Request,
    *,
    language: str,
    error: str | None = None,
    login: str = "",
    status: int = 200,
    chosen_language: str | None = None,
) -> Response:
    # Login CSRF: a double-submit token, since there is no session yet.
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        language=language,
        status_code=status,
        csrf_token=token,
        error=error,
        login=login,
        section="login",
        chosen_language=chosen_language,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    set_cookie(request, response, LANG_COOKIE, language, max_age=365 * 86400)
    return response


@router.get(PREFIX + "/login")
def login_form(request: Request) -> Response:
    return _login_page(
        request, language=_login_language(request), chosen_language=_chosen_language(request)
    )


# Throttles (docs/architecture.md, "Abuse"). Failed attempts count against their source address
# and against the login name (from every source); a spent login budget still lets in the
# browsers that logged in to that account before (the device cookie), so neither budget is a
# lock a stranger can put on someone else's account. Successful logins count nowhere (an
# office behind one NAT address logs in as often as it likes).
FAILURES_PER_SOURCE = ratelimit.parse("10/minute")
SOURCE_FAILURES = "portal-login-src"  # the counter's name (shed.py reads it too)
FAILURES_PER_LOGIN = ratelimit.parse("20/hour")
DEVICE_COOKIE = "dg_device"
DEVICE_DAYS = 365


def _throttled(request: Request, language: str, login_name: str, retry_after: int) -> Response:
    metrics.LOGIN_LOCKOUTS.inc()  # throttled: the closest thing to a lockout there is now
    message = gettext(language, "Too many login attempts. Wait a few minutes, then try again.")
    response = _login_page(
        request, language=language, error=message, login=login_name, status=429
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


@router.post(PREFIX + "/login")
async def login(request: Request, db: Db, form: Form) -> Response:
    chosen = _chosen_language(request, form)
    language = chosen or _login_language(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    sent = form.get("csrf_token")
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(cookie, sent):
        raise CsrfRejected
    login_name = str(form.get("login") or "")[:320]
    password = str(form.get("password") or "")[:1024]
    throttle = guards.throttle(request)
    source = ratelimit.source_key(guards.client_ip(request))
    login_key = portal_auth.login_key(login_name)

    if throttle.exhausted(FAILURES_PER_SOURCE, SOURCE_FAILURES, source):
        retry = throttle.retry_after(FAILURES_PER_SOURCE, SOURCE_FAILURES, source)
        return _throttled(request, language, login_name, retry)

    def find() -> portal_auth.LoginTarget:
        with db.uow(write=False) as uow:
            return portal_auth.find_login(uow, login_name)

    target = await run_in_threadpool(find)
    secret = request.app.state.settings.secret_key
    known_device = portal_auth.device_ok(
        secret, target.account, request.cookies.get(DEVICE_COOKIE)
    )
    if not known_device and throttle.exhausted(FAILURES_PER_LOGIN, "portal-login-fail", login_key):
        retry = throttle.retry_after(FAILURES_PER_LOGIN, "portal-login-fail", login_key)
        return _throttled(request, language, login_name, retry)

    pool = guards.hash_pool(request)
    new: NewSession | None = None
    try:
        # Unknown logins are checked against a dummy hash: same work, same answer, same time.
        verified = await pool.verify(target.password_hash, password)
        if verified and target.can_log_in:
            new_hash = (
                await pool.hash(password) if passwords.needs_rehash(target.password_hash) else None
            )

            def open_session() -> NewSession:
                return portal_auth.open_session(db, target, new_hash=new_hash, language=chosen)

            new = await run_in_threadpool(open_session)
        elif verified and target.account_id is not None and not target.enabled:
            # Like REGISTER's "Account Disabled": only the right password learns of the
            # suspension, and then the customer is told why.
            def reason() -> str:
                with db.uow(write=False) as uow:
                    account = lookups.get_account(uow, target.account)
                    return suspension.suspension_reason(uow, account) or ""

            why = await run_in_threadpool(reason)
            message = gettext(language, "This account is suspended: calls and registrations are "
                              "refused. Contact support to restore it.")
            if why:
                message += " " + gettext(language, "Reason: %(reason)s") % {"reason": why}
            return _login_page(request, language=language, error=message, login=login_name,
                               status=403)
    except passwords.HashPoolBusy:
        return _throttled(request, language, login_name, 1)
    except ValidationFailed:
        new = None  # disabled or changed between the read and the write: a failed login
    if new is None:
        metrics.LOGIN_FAILURES.inc()
        log.info("portal login refused", extra={"account": target.account or None})
        throttle.hit(FAILURES_PER_SOURCE, SOURCE_FAILURES, source)
        throttle.hit(FAILURES_PER_LOGIN, "portal-login-fail", login_key)
        # Slow down guessing without holding a worker thread.
        await asyncio.sleep(portal_auth.FAILURE_DELAY)
        message = gettext(language, "Wrong account number, email or password.")
        return _login_page(
            request,
            language=language,
            error=message,
            login=login_name,
            status=401,
            chosen_language=chosen,
        )
    response = redirect(request, f"{PREFIX}/settings")
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        new.token,
        max_age=portal_auth.SESSION_HOURS * 3600,
    )
    set_cookie(
        request,
        response,
        DEVICE_COOKIE,
        portal_auth.device_token(secret, target.account),
        max_age=DEVICE_DAYS * 86400,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post(PREFIX + "/logout")
def logout(request: Request, session: CheckedSession, db: Db) -> Response:
    portal_auth.logout(db, request.cookies.get(SESSION_COOKIE))
    response = redirect(request, f"{PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get(PREFIX)
@router.get(PREFIX + "/")
@router.get("/")
def home(request: Request, db: Db) -> Response:
    """One redirect: to the first settings tab, or to the login page without a session."""
    with db.uow(write=False) as uow:
        session = portal_auth.resolve(uow, request.cookies.get(SESSION_COOKIE))
    return redirect(request, f"{PREFIX}/settings/routing" if session else f"{PREFIX}/login")


@router.post(PREFIX + "/language")
def choose_language(request: Request, session: CheckedSession, db: Db, form: Form) -> Response:
    language = str(form.get("language") or "")
    back = str(form.get("next") or "")
    # Only our own pages: never an open redirect.
    if not back.startswith(PREFIX + "/") or back.startswith("//"):
        back = f"{PREFIX}/settings"
    with contextlib.suppress(ValidationFailed):  # an unknown language changes nothing
        portal_auth.set_language(db, session, language)
    response = redirect(request, back)
    if language in i18n.LANGUAGES:
        set_cookie(request, response, LANG_COOKIE, language, max_age=365 * 86400)
    return response


@router.get(PREFIX + "/password")
def password_form(request: Request, session: Session) -> Response:
    return render(
        request, "password.html", language=session.language, session=session, section="password"
    )


@router.post(PREFIX + "/password")
async def change_password(
    request: Request, session: CheckedSession, db: Db, form: Form
) -> Response:
    current = str(form.get("current_password") or "")[:1024]
    new = str(form.get("new_password") or "")[:1024]
    confirm = str(form.get("confirm_password") or "")[:1024]
    errors: dict[str, str] = {}
    lang = session.language
    if new != confirm:
        errors["confirm_password"] = gettext(lang, "The two new passwords differ.")
    else:

        def stored_hash() -> str:
            with db.uow(write=False) as uow:
                return portal_auth.password_hash_of(uow, session.account)

        # argon2 runs in the bounded pool, outside every transaction.
        pool = guards.hash_pool(request)
        try:
            current_ok = await pool.verify(await run_in_threadpool(stored_hash), current)
            new_hash = await pool.hash(new) if current_ok else None
        except passwords.HashPoolBusy:
            current_ok, new_hash = False, None
            errors["current_password"] = gettext(
                lang, "Too many login attempts. Wait a few minutes, then try again."
            )

        def change() -> None:
            portal_auth.change_password(
                db,
                session,
                current_ok=current_ok,
                new=new,
                new_hash=new_hash,
                keep_token=request.cookies.get(SESSION_COOKIE) or "",
            )

        if not errors:
            try:
                await run_in_threadpool(change)
            except ValidationFailed as exc:
                for err in exc.errors:
                    field = "new_password" if err.field == "portal_password" else err.field
                    errors[field] = translate_error(lang, err)
    return render(
        request,
        "password.html",
        language=lang,
        session=session,
        section="password",
        errors=errors,
        saved=not errors,
        status_code=422 if errors else 200,
    )

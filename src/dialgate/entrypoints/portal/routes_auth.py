"""Log in, log out, change password, choose the language."""

from __future__ import annotations

import asyncio
import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from dialgate.domain.errors import ValidationFailed
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
from dialgate.services import accounts, portal_auth, suspension
from dialgate.services.portal_auth import (
    AccountLocked,
    AccountSuspended,
    LoginFailed,
    NewSession,
)

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


@router.post(PREFIX + "/login")
async def login(request: Request, db: Db, form: Form) -> Response:
    chosen = _chosen_language(request, form)
    language = chosen or _login_language(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    sent = form.get("csrf_token")
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(cookie, sent):
        raise CsrfRejected
    login_name = str(form.get("login") or "")
    password = str(form.get("password") or "")

    def attempt() -> NewSession | LoginFailed | AccountLocked | str:
        with db.uow() as uow:
            try:
                new = portal_auth.login(uow, login_name, password)
            except (LoginFailed, AccountLocked) as exc:
                uow.commit()  # the failure count is part of the answer
                return exc
            except AccountSuspended as exc:
                account = accounts.get_account(uow, exc.number)
                return suspension.suspension_reason(uow, account) or ""
            if chosen is not None:
                portal_auth.set_language(uow, new.session, chosen)
            uow.commit()
            return new

    outcome = await run_in_threadpool(attempt)
    if isinstance(outcome, str):  # suspended: say so clearly, with the provider's reason
        message = gettext(language, "This account is suspended: calls and registrations are "
                          "refused. Contact support to restore it.")
        if outcome:
            message += " " + gettext(language, "Reason: %(reason)s") % {"reason": outcome}
        return _login_page(request, language=language, error=message, login=login_name,
                           status=403)
    if isinstance(outcome, LoginFailed | AccountLocked):
        # Slow down guessing without holding a worker thread.
        await asyncio.sleep(outcome.delay)
        if isinstance(outcome, AccountLocked):
            message = gettext(
                language,
                "Too many failed attempts: this account is locked until %(time)s UTC. "
                "Try again later.",
            ) % {"time": f"{outcome.until:%H:%M}"}
        else:
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
        outcome.token,
        max_age=portal_auth.SESSION_HOURS * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post(PREFIX + "/logout")
def logout(request: Request, session: CheckedSession, db: Db) -> Response:
    with db.uow() as uow:
        portal_auth.logout(uow, request.cookies.get(SESSION_COOKIE))
        uow.commit()
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
    try:
        with db.uow() as uow:
            portal_auth.set_language(uow, session, language)
            uow.commit()
    except ValidationFailed:
        pass  # an unknown language changes nothing
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
def change_password(request: Request, session: CheckedSession, db: Db, form: Form) -> Response:
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    confirm = str(form.get("confirm_password") or "")
    errors: dict[str, str] = {}
    lang = session.language
    if new != confirm:
        errors["confirm_password"] = gettext(lang, "The two new passwords differ.")
    else:
        try:
            with db.uow() as uow:
                portal_auth.change_password(
                    uow,
                    session,
                    current=current,
                    new=new,
                    keep_token=request.cookies.get(SESSION_COOKIE) or "",
                )
                uow.commit()
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

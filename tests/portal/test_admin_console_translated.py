"""The operator console in French and Spanish: its words come from the portal's catalogs (the
completeness test in test_portal_translated.py covers the console's msgids too); the language
is the browser's Accept-Language unless the operator chose one (a cookie); every console page,
and the log-in errors, show none of the console's English phrases."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from babel.messages.extract import extract_from_dir
from fastapi.testclient import TestClient

from dialgate.entrypoints.admin import console
from dialgate.services.uow import Database
from tests.portal.test_admin_console_http import PASSWORD, csrf_of, password_step, secret
from tests.portal.test_portal_customer_words import visible_text
from tests.support import msgids

__all__ = ["secret"]  # the fixture, used by name below

CONSOLE_PAGES = ("/admin/accounts", "/admin/accounts/100000", "/admin/calls", "/admin/rates",
                 "/admin/audit", "/admin/overview")


def _console_phrases(language: str) -> set[str]:
    """The console's own English phrases (several words, translated differently)."""
    ids: set[str] = set()
    for root in (msgids.CONSOLE,):
        for _f, _l, message, _c, _x in extract_from_dir(
            str(root), msgids.METHODS, keywords=msgids.KEYWORDS, options_map=msgids.OPTIONS
        ):
            ids.update(m for m in (message if isinstance(message, tuple) else (message,)) if m)
    # The outcome words are data too (an account's own history may say "account created"):
    # the done notice is checked on its own below.
    ids -= set(console.DONE.values()) | set(console.WORDS.values())
    translated = msgids.translated(language)
    return {m for m in ids if "%(" not in m and " " in m and translated.get(m, m) != m}


def _pages(client: TestClient) -> Iterator[tuple[str, str]]:
    for path in CONSOLE_PAGES:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        yield path, r.text


@pytest.mark.parametrize("language", ["fr", "es"])
def test_console_pages_speak_the_browser_language(
    client: TestClient, demo_db: Database, secret: str, language: str
) -> None:
    client.headers["Accept-Language"] = f"{language}-CA,{language};q=0.9,en;q=0.5"
    login = client.get("/admin/login")
    assert f'<html lang="{language}">' in login.text
    wrong = client.post("/admin/login", data={"email": "root@provider.test",
                                               "password": "not-the-password",
                                               "csrf_token": csrf_of(login.text)})
    assert wrong.status_code == 401
    expected = msgids.translated(language)["Wrong email, password or code."]
    assert expected in visible_text(wrong.text)
    password_step(client, "root@provider.test")
    token = csrf_of(client.get("/admin/totp").text)
    r = client.post("/admin/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert r.status_code == 200
    phrases = _console_phrases(language)
    assert len(phrases) > 40
    for name, html in _pages(client):
        text = visible_text(html)
        leaked = sorted(p for p in phrases if p in text)
        assert not leaked, (name, leaked)
    words = msgids.translated(language)
    overview = visible_text(client.get("/admin/overview").text)
    assert words["Call decisions by reason"] in overview
    done = visible_text(client.get("/admin/accounts/100000", params={"done": "restored"}).text)
    assert words["Done: %(what)s."] % {"what": words["account restored"]} in done


def test_the_operator_choice_beats_the_browser_and_is_kept(
    client: TestClient, demo_db: Database, secret: str
) -> None:
    client.headers["Accept-Language"] = "fr"
    chosen = client.get("/admin/language", params={"lang": "es"}, follow_redirects=False)
    assert chosen.status_code == 303
    assert console.LANGUAGE_COOKIE in chosen.headers["set-cookie"]
    page = client.get("/admin/login").text
    assert '<html lang="es">' in page and "Inicio de sesión de operador" in page
    # an unknown language changes nothing
    client.get("/admin/language", params={"lang": "xx"})
    assert '<html lang="es">' in client.get("/admin/login").text
    del client.headers["Accept-Language"]
    client.cookies.delete(console.LANGUAGE_COOKIE, path="/admin")
    assert '<html lang="en">' in client.get("/admin/login").text


def test_a_done_notice_names_only_known_outcomes(
    client: TestClient, demo_db: Database, secret: str
) -> None:
    password_step(client, "root@provider.test")
    token = csrf_of(client.get("/admin/totp").text)
    client.post("/admin/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    known = client.get("/admin/accounts/100000", params={"done": "restored"}).text
    assert re.search(r'id="done">Done: account restored\.<', known)
    forged = client.get("/admin/accounts/100000",
                        params={"done": "<script>x</script>%d"}).text
    assert 'id="done"' not in forged and "<script>x" not in forged
    assert PASSWORD not in forged


def test_a_refused_change_is_explained_in_the_operator_language(
    client: TestClient, demo_db: Database, secret: str
) -> None:
    from dialgate.services import billing
    from tests.portal.test_admin_console_http import admin_session

    client.headers["Accept-Language"] = "fr"
    token = admin_session(client, secret)
    with demo_db.uow(write=False) as uow:
        before = billing.current_balance(uow, "100000")
    english = client.post("/admin/accounts/100000/money",
                          data={"kind": "deposit", "amount": "abc", "reason": "test",
                                "csrf_token": token}, headers={"Accept-Language": "en"})
    french = client.post("/admin/accounts/100000/money",
                         data={"kind": "deposit", "amount": "abc", "reason": "test",
                               "csrf_token": token})
    assert english.status_code == french.status_code == 422
    said = [e for e in re.findall(r"amount: ([^<]+)<", english.text)]
    assert said, english.text[:3000]
    assert said[0] not in french.text  # the service's English sentence is not shown in French
    assert re.search(r"amount: [^<]+<", french.text)
    with demo_db.uow(write=False) as uow:
        assert billing.current_balance(uow, "100000") == before

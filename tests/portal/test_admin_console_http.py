"""The operator console over HTTP: sessions, CSRF, the TOTP step and its lockout, roles, and the
customer portal's view of a suspension (only the right password learns of it)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from dialgate.services import billing, lookups, operators, suspension
from dialgate.services.uow import Database
from tests.portal.test_portal_http import csrf_of, log_in

PASSWORD = "Operator-pass-123"


@pytest.fixture
def secret(demo_db: Database) -> str:
    with demo_db.uow() as uow:
        _row, key = operators.create_operator(uow, "root@provider.test", "admin", PASSWORD)
        operators.create_operator(uow, "desk@provider.test", "support", PASSWORD)
        uow.commit()
    assert key is not None
    return key


def password_step(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_of(client.get("/admin/login").text)
    r = client.post("/admin/login", data={"email": email, "password": password,
                                          "csrf_token": token}, follow_redirects=False)
    return r


def console_csrf(client: TestClient) -> str:
    return csrf_of(client.get("/admin/accounts").text)


def test_pages_need_a_console_session(client: TestClient, secret: str) -> None:
    r = client.get("/admin/accounts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    log_in(client)  # a customer's portal session is no console session
    assert client.get("/admin/accounts", follow_redirects=False).status_code == 303
    forged = client.post("/admin/login", data={"email": "root@provider.test",
                                               "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 403


def test_admins_need_the_code_and_wrong_codes_lock(
    client: TestClient, demo_db: Database, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = password_step(client, "root@provider.test")
    assert r.status_code == 303 and r.headers["location"] == "/admin/totp"
    assert client.get("/admin/accounts", follow_redirects=False).headers["location"] == (
        "/admin/totp")
    page = client.get("/admin/totp")
    token = csrf_of(page.text)
    good = pyotp.TOTP(secret).now()
    wrong = "999999" if good != "999999" else "888888"
    for _ in range(operators.MAX_FAILED_LOGINS - 1):
        bad = client.post("/admin/totp", data={"code": wrong, "csrf_token": token})
        assert bad.status_code == 401 and "Wrong email, password or code" in bad.text
    locked = client.post("/admin/totp", data={"code": wrong, "csrf_token": token})
    assert "locked until" in locked.text
    still = client.post("/admin/totp", data={"code": good, "csrf_token": token})
    assert still.status_code == 401 and "locked until" in still.text
    assert client.get("/admin/accounts", follow_redirects=False).status_code == 303


def test_forms_need_the_session_csrf_token_and_support_moves_no_money(
    client: TestClient, demo_db: Database, secret: str
) -> None:
    password_step(client, "desk@provider.test")
    token = console_csrf(client)
    r = client.post("/admin/accounts/100000/suspend", data={"reason": "x", "csrf_token": "no"})
    assert r.status_code == 403
    with demo_db.uow(write=False) as uow:
        before = billing.current_balance(uow, "100000")
        assert lookups.get_account(uow, "100000").enabled
    money = client.post("/admin/accounts/100000/money",
                        data={"kind": "deposit", "amount": "5", "reason": "x",
                              "csrf_token": token})
    assert money.status_code == 403 and "cannot move money" in money.text
    no_reason = client.post("/admin/accounts/100000/suspend",
                            data={"reason": " ", "csrf_token": token})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    with demo_db.uow(write=False) as uow:
        assert billing.current_balance(uow, "100000") == before
        assert lookups.get_account(uow, "100000").enabled


def test_a_suspended_customer_is_told_only_with_the_right_password(
    client: TestClient, demo_db: Database
) -> None:
    with demo_db.uow() as uow:
        suspension.suspend(uow, operators.CLI, "100000", "unpaid invoice 9")
        uow.commit()
    token = csrf_of(client.get("/portal/login?lang=en").text)
    right = client.post("/portal/login", data={"login": "100000", "password": "DemoPass123",
                                               "csrf_token": token})
    assert right.status_code == 403
    assert "This account is suspended" in right.text and "Reason: unpaid invoice 9" in right.text
    wrong = client.post("/portal/login", data={"login": "100000", "password": "Nope12345",
                                               "csrf_token": token})
    assert wrong.status_code == 401 and "suspended" not in wrong.text
    assert re.search("Wrong account number, email or password", wrong.text)
    with demo_db.uow(write=False) as uow:
        assert billing.current_balance(uow, "100000") == Decimal("25.000000")


def admin_session(client: TestClient, secret: str) -> str:
    password_step(client, "root@provider.test")
    token = csrf_of(client.get("/admin/totp").text)
    r = client.post("/admin/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    return console_csrf(client)


def test_rate_deck_review_diff_and_publish(
    client: TestClient, demo_db: Database, secret: str
) -> None:
    from dialgate.services import rates

    token = admin_session(client, secret)
    with demo_db.uow(write=False) as uow:
        live = sorted(rates.load_deck(uow, "premium").rates.values(), key=lambda r: r.prefix)
    assert len(live) > 3
    kept, dropped, changed = live[2:], live[0], live[1]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["prefix", "destination", "rate", "increment"])
    out.writerow(["99887", "Testland", "0.5", "60"])
    for r in kept:
        out.writerow([r.prefix, r.destination, r.per_minute, r.increment_s])
    out.writerow([changed.prefix, changed.destination, changed.per_minute + 1,
                  changed.increment_s])
    deck = buf.getvalue()
    bad = client.post("/admin/rates/review", data={"route": "premium", "csrf_token": token},
                      files={"deck": ("deck.csv", "prefix,destination,rate\nabc,X,-1\n")})
    assert bad.status_code == 422 and "line 2" in bad.text
    review = client.post("/admin/rates/review", data={"route": "premium", "csrf_token": token},
                         files={"deck": ("deck.csv", deck)})
    assert review.status_code == 200, review.text
    assert re.search(r'id="n-added">1<', review.text)
    assert re.search(r'id="n-removed">1<', review.text)
    assert re.search(r'id="n-repriced">1<', review.text)
    staged = re.search(r'name="token" value="([^"]+)"', review.text)
    assert staged is not None
    def live_prefixes() -> set[str]:
        with demo_db.uow(write=False) as uow:
            return set(rates.load_deck(uow, "premium").rates)

    assert "99887" not in live_prefixes()  # nothing is live before publishing
    done = client.post("/admin/rates/publish", data={"route": "premium", "csrf_token": token,
                                                     "token": staged.group(1)},
                       follow_redirects=False)
    assert done.status_code == 303
    after = live_prefixes()
    assert "99887" in after and dropped.prefix not in after
    with demo_db.uow(write=False) as uow:
        repriced = rates.lookup(uow, "premium", changed.prefix)
    assert repriced is not None and repriced.per_minute == changed.per_minute + 1
    log = client.get("/admin/audit").text
    assert "rates.publish" in log
    with demo_db.uow(write=False) as uow:  # a new deck version, so it can be rolled back
        newest = rates.versions(uow, "premium")[0]
    assert newest.actor.startswith("operator:")


def test_a_totp_code_is_good_for_one_log_in(
    client: TestClient, demo_db: Database, secret: str
) -> None:
    code = pyotp.TOTP(secret).now()
    password_step(client, "root@provider.test")
    token = csrf_of(client.get("/admin/totp").text)
    first = client.post("/admin/totp", data={"code": code, "csrf_token": token},
                        follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/admin/accounts"
    with demo_db.uow(write=False) as uow:
        row = operators.find(uow, "root@provider.test")
        assert row is not None
        step = row.totp_last_step
    assert step is not None
    # Someone who saw the code (and knows the password) tries it in its 30 s window.
    client.cookies.clear()
    password_step(client, "root@provider.test")
    token = csrf_of(client.get("/admin/totp").text)
    replay = client.post("/admin/totp", data={"code": code, "csrf_token": token})
    assert replay.status_code == 401
    assert "This code was already used. Wait for the next code of your app." in replay.text
    assert client.get("/admin/accounts", follow_redirects=False).headers["location"] == (
        "/admin/totp")
    with demo_db.uow(write=False) as uow:
        row = operators.find(uow, "root@provider.test")
        assert row is not None and row.totp_last_step == step and row.failed_logins == 1


def test_a_deck_larger_than_the_request_body_limit_can_be_uploaded(
    client: TestClient, demo_db: Database, secret: str
) -> None:
    """Every other request stops at DIALGATE_MAX_BODY_BYTES (1 MB); a provider's A-Z deck is
    tens of MB, so the console's deck upload has its own limit."""
    token = admin_session(client, secret)
    rows = ["prefix,destination,rate,increment"]
    rows += [f"{990000000 + n},Testland {n},0.{n % 9000 + 1000:04d},60" for n in range(60_000)]
    deck = ("\n".join(rows) + "\n").encode()
    assert len(deck) > 1_500_000
    review = client.post("/admin/rates/review", data={"route": "premium", "csrf_token": token},
                         files={"deck": ("deck.csv", deck)})
    assert review.status_code == 200, review.text[:500]
    assert re.search(r'id="n-added">60000<', review.text), review.text[:2000]
    elsewhere = client.post("/admin/accounts", data={"csrf_token": token},
                            files={"deck": ("deck.csv", deck)})
    assert elsewhere.status_code == 413

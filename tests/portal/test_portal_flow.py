"""The portal's flow: one redirect to the right page, HEAD answered, a favicon, the login page's
language kept after logging in, sub account creation and deletion confirmed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dialgate.services import demo, lookups
from dialgate.services.uow import Database
from tests.portal.test_portal_http import csrf_of, log_in


def test_portal_root_is_one_redirect(client: TestClient) -> None:
    for path in ("/portal", "/portal/", "/"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/portal/login", path
    log_in(client)
    r = client.get("/portal/", follow_redirects=False)
    assert r.headers["location"] == "/portal/settings/routing"
    assert client.get(r.headers["location"], follow_redirects=False).status_code == 200


def test_head_is_answered_like_get_without_a_body(client: TestClient) -> None:
    for path in ("/portal/login", "/openapi.json", "/portal/static/portal.css"):
        get = client.get(path)
        head = client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


def test_favicon(client: TestClient) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon"' in client.get("/portal/login").text


def test_language_picked_on_the_login_page_is_kept(client: TestClient, demo_db: Database) -> None:
    page = client.get("/portal/login?lang=fr").text
    assert '<html lang="fr">' in page
    r = client.post(
        "/portal/login",
        data={
            "login": "100000",
            "password": demo.DEMO_PASSWORD,
            "csrf_token": csrf_of(page),
            "language": "fr",
        },
    )
    assert r.status_code == 200 and '<html lang="fr">' in r.text
    assert "Restrictions du compte" in r.text
    with demo_db.uow(write=False) as uow:
        assert lookups.get_account(uow, "100000").language == "fr"


def test_sub_account_creation_and_deletion_are_confirmed(client: TestClient) -> None:
    token = log_in(client)
    r = client.post(
        "/portal/subaccounts",
        data={"csrf_token": token, "username": "lab", "sip_password": "LabPass1234"},
    )
    assert r.status_code == 200 and 'id="created"' in r.text
    assert "Sub account 100000_lab created." in r.text
    r = client.post("/portal/subaccounts/lab/delete", data={"csrf_token": token})
    assert r.status_code == 200 and 'id="deleted"' in r.text
    assert "Sub account 100000_lab deleted." in r.text and 'id="sub-lab"' not in r.text

"""The portal answers its own errors: HTML pages in the customer's language (never the REST
API's problem+json), and a 500 page that shows no traceback while the log keeps it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from dialgate.entrypoints.web import create_app
from dialgate.services import accounts
from dialgate.services.uow import Database
from tests.portal.test_portal_http import log_in


def _in_french(client: TestClient) -> str:
    csrf = log_in(client)
    r = client.post(
        "/portal/language", data={"csrf_token": csrf, "language": "fr"}, follow_redirects=False
    )
    assert r.status_code == 303
    return csrf


def _is_portal_page(r: httpx.Response) -> None:
    headers = r.headers
    assert headers["content-type"].startswith("text/html")
    assert "problem+json" not in headers["content-type"]
    assert headers["content-security-policy"].startswith("default-src 'self'")


def test_unknown_portal_page_is_a_french_404_page(client: TestClient) -> None:
    _in_french(client)
    r = client.get("/portal/no-such-page")
    assert r.status_code == 404
    _is_portal_page(r)
    assert "Page introuvable" in r.text and "Erreur 404" in r.text
    assert "Page not found" not in r.text
    assert 'href="/portal/settings"' in r.text  # logged in: the navigation is there


def test_another_accounts_did_is_a_french_404_page(client: TestClient) -> None:
    _in_french(client)
    r = client.get("/portal/dids/15145550000")
    assert r.status_code == 404
    _is_portal_page(r)
    assert "Page introuvable" in r.text


def test_anonymous_404_follows_the_browser_language(client: TestClient) -> None:
    r = client.get("/portal/nothing-here", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert r.status_code == 404
    _is_portal_page(r)
    assert "Página no encontrada" in r.text
    assert 'href="/portal/login"' in r.text


def test_wrong_method_is_a_405_page_with_allow(client: TestClient) -> None:
    _in_french(client)
    r = client.put("/portal/password")
    assert r.status_code == 405
    _is_portal_page(r)
    assert "GET" in r.headers["allow"] and "Erreur 405" in r.text


def test_forged_form_is_a_french_403_page_and_changes_nothing(
    client: TestClient, demo_db: Database
) -> None:
    _in_french(client)
    r = client.post("/portal/settings/advanced", data={"nat": "never", "csrf_token": "forged"})
    assert r.status_code == 403
    _is_portal_page(r)
    assert "Ce formulaire a expiré" in r.text
    with demo_db.uow(write=False) as uow:
        assert accounts.show_settings(uow, "100000").values["nat"] == "yes"


def test_the_rest_api_keeps_problem_json(client: TestClient) -> None:
    r = client.get("/v1/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404


@pytest.fixture
def lenient_client(demo_db: Database) -> Iterator[TestClient]:
    """A client that returns the 500 response instead of raising the server's exception."""
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def test_a_bug_is_a_500_page_without_a_traceback(
    lenient_client: TestClient, demo_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    client = lenient_client
    _in_french(client)
    assert client.get("/portal/dids").status_code == 200
    with demo_db.uow() as uow:  # a real fault: the table the page reads is gone
        uow.session.execute(text("DROP TABLE dids"))
        uow.commit()
    with caplog.at_level(logging.ERROR, logger="dialgate.portal"):
        r = client.get("/portal/dids")
    assert r.status_code == 500
    _is_portal_page(r)
    assert "Une erreur interne" in r.text and "Erreur 500" in r.text
    for leak in ("Traceback", "OperationalError", "no such table", "dids.py", "SELECT"):
        assert leak not in r.text
    logged = [rec for rec in caplog.records if rec.name == "dialgate.portal"]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log
    assert "/portal/dids" in logged[0].getMessage()


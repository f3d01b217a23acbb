"""A real uvicorn server on a fresh demo database, and Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dialgate.adapters.db import migrate
from dialgate.services import accounts, demo
from dialgate.services.uow import Database
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCK_ACCOUNT = "200000"
LOCK_PASSWORD = "LockPass123"


def _free_port() -> int:
    for port in range(20000 + os.getpid() % 10000, 32768):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


@pytest.fixture(scope="session")
def e2e_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'dialgate.db'}"
    migrate.upgrade(url)
    db = Database(url)
    with db.uow() as uow:
        demo.load_demo(uow)
        accounts.create_account(
            uow,
            number=LOCK_ACCOUNT,
            email="lock@example.com",
            password=LOCK_PASSWORD,
            actor="test",
        )
        uow.commit()
    db.dispose()
    return url


@pytest.fixture(scope="session")
def e2e_db(e2e_db_url: str) -> Iterator[Database]:
    database = Database(e2e_db_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def base_url(e2e_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("e2e-log") / "server.log"
    with running_server(e2e_db_url, _free_port(), log) as url:
        yield url


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Package scope: Playwright's sync API keeps an asyncio loop marked as running in the main
    # thread while it is open, so it must be closed before the tests that call asyncio.run().
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    # Script errors and CSP refusals fail the test; 4xx answers the tests ask for do not.
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    yield pg
    context.close()
    assert not errors, errors  # no CSP violations or script errors


def log_in(page: Page, login: str = demo.DEMO_ACCOUNT, password: str = demo.DEMO_PASSWORD) -> None:
    page.goto("/portal/login?lang=en")
    page.get_by_label("Account number or email").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portal/settings/routing")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

"""``/docs`` works with no internet: every request the page makes stays on the Dialgate server,
and Swagger UI renders the API's operations."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.e2e


def test_swagger_ui_loads_everything_from_the_server(page: Page, base_url: str) -> None:
    here = urlsplit(base_url).netloc
    outside: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).netloc == here:
            route.continue_()
        else:  # what a machine without internet would get
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(page.locator(".swagger-ui")).to_contain_text("/v1/account/settings")
    assert outside == []

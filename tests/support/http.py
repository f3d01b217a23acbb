"""What HTTP tests share: the response shape both TestClient and httpx's ASGI client return,
and the check of an RFC 9457 problem answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

PROBLEM = "application/problem+json"


class Reply(Protocol):
    """An HTTP response (TestClient's and httpx's ASGI client's are typed apart)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def content(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    def json(self, **kwargs: Any) -> Any: ...


def problem(response: Reply, status: int) -> dict[str, Any]:
    """The body of a problem+json answer with this status (asserted)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body

"""The VoIP.ms wire rules: where parameters come from, what "empty" and "true" mean, and what a
response looks like (HTTP 200, JSON, every scalar a string, ``status`` always present)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class VoipmsError(Exception):
    """Ends a call with ``{"status": <code>}`` (one of the API's documented status codes)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def read_params(request: Request) -> dict[str, str]:
    """Query string and body (urlencoded or multipart) merged, the body winning; empty values
    are dropped because the API treats an empty parameter as one not given."""
    params: dict[str, str] = {k: v for k, v in request.query_params.multi_items()}
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.startswith(_FORM_TYPES):
        try:
            form = await request.form()
        except HTTPException:  # e.g. the body limit's 413: not a malformed body
            raise
        except Exception:  # a malformed body is treated as an empty one, like unknown params
            form = None
        if form is not None:
            for key, value in form.multi_items():
                if isinstance(value, str):
                    params[key] = value
    return {k: v for k, v in params.items() if v.strip() != ""}


def flag(value: str, *, invalid: str) -> bool:
    """1/0, true/false (any case), yes/no."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise VoipmsError(invalid)


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def one_zero(value: bool) -> str:
    return "1" if value else "0"


def stringify(value: Any) -> Any:
    """Every scalar in a response is a JSON string, as the real API sends them."""
    if isinstance(value, Mapping):
        return {str(k): stringify(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stringify(v) for v in value]
    if value is None:
        return ""
    if isinstance(value, bool):
        return one_zero(value)
    if isinstance(value, Decimal | int | float):
        return str(value)
    return str(value)

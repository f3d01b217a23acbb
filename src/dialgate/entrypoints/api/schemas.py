"""Request and response bodies of the native REST API (``XCreate / XUpdate / XPublic``).

The settings models are built from the settings registry, so their field names are exactly the
public settings keys and a new key appears here (and in /openapi.json) without code changes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from dialgate.domain import settings as s

# What a client may send for any setting; the registry's parsers do the real validation.
SettingInput = str | int | float | bool | list[str] | None

_SAMPLE = s.ValidationContext(account="100000", email="sample@example.com")


def _value_type(key: str) -> Any:
    spec = s.spec_for(key)
    default = spec.default_for(_SAMPLE)
    if isinstance(default, Decimal) or key == "international_max_rate":
        return str | None  # decimal strings; null = no value (the seed's "empty")
    if isinstance(default, bool):
        return bool
    if isinstance(default, int):
        return int
    if isinstance(default, tuple):
        return list[str]
    return str


def _field(key: str, *, required: bool) -> tuple[Any, Any]:
    spec = s.spec_for(key)
    description = f"{spec.label}: {spec.help}"
    if spec.choices:
        description += f" One of: {', '.join(spec.choices)}."
    if required:
        return _value_type(key), Field(description=description)
    return SettingInput, Field(default=None, description=description)


_STRICT = ConfigDict(extra="forbid")
SUB_PUBLIC_KEYS = tuple(k for k in s.SUB_KEYS if k not in s.SECRET_KEYS)

MainSettingsPublic: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "MainSettingsPublic",
    __config__=_STRICT,
    **{k: _field(k, required=True) for k in s.STORED_MAIN_KEYS},
)
MainSettingsUpdate: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "MainSettingsUpdate",
    __config__=_STRICT,
    **{k: _field(k, required=False) for k in s.MAIN_KEYS},
)
SubSettingsPublic: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "SubSettingsPublic",
    __config__=_STRICT,
    **{k: _field(k, required=True) for k in SUB_PUBLIC_KEYS},
)
SubSettingsUpdate: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "SubSettingsUpdate",
    __config__=_STRICT,
    **{k: _field(k, required=False) for k in s.SUB_KEYS},
)
SubAccountCreate: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "SubAccountCreate",
    __config__=_STRICT,
    username=(
        str,
        Field(
            description="1 to 12 letters or digits; the sub account is <main>_<username>.",
            examples=["office"],
        ),
    ),
    **{
        k: (
            _field(k, required=False)
            if k != "sip_password"
            else (str, Field(description="SIP password (write-only)."))
        )
        for k in s.SUB_KEYS
    },
)

Source = Literal["main", "sub", "override"]


class AccountPublic(BaseModel):
    account: str
    email: str
    language: str
    enabled: bool
    balance: str = Field(description="USD, decimal string")
    created_at: datetime
    subaccounts: list[str]


class SettingsPublic(BaseModel):
    account: str
    settings: MainSettingsPublic


class SubAccountPublic(BaseModel):
    id: int
    account: str = Field(description="<main>_<username>")
    username: str
    settings: SubSettingsPublic
    sources: dict[str, Source] = Field(
        description="Where each effective value comes from: sub (its own), override (it "
        "overrides the main account) or main (inherited; set the key to null or '' to inherit)."
    )


class HistoryEntryPublic(BaseModel):
    at: datetime
    account: str
    actor: str
    key: str
    old: str
    new: str
    tab: str


class PopPublic(BaseModel):
    name: str
    id: int
    city: str
    hostname: str
    country: str


class CountryPublic(BaseModel):
    code: str
    name: str
    region: str
    region_name: str
    calling_code: int


class MusicOnHoldPublic(BaseModel):
    key: str
    label: str
    test_code: str
    description: str


class ChoicePublic(BaseModel):
    value: str
    label: str


class ProblemFieldError(BaseModel):
    field: str
    code: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with one entry per offending field."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = None
    errors: list[ProblemFieldError] = Field(default_factory=list)

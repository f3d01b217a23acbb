"""Value kinds: how a raw value from a person or a client becomes its one canonical Python form.

A setting (and a DID field, a deposit, a new account's email) has a *kind*. The kind parses and
validates raw input (text from a form or the CLI, JSON from an API), converts the canonical value
to and from what the database stores, and tells the faces what to offer: the REST schema's type,
the portal's widget and input mode, the choices of a select. Everything that used to be special
cased per key ("is this key money?") is asked of its kind instead.

Canonical forms: ``str`` for choices and text, ``bool``, ``int``, ``Decimal | None`` for money,
``tuple[str, ...]`` for lists. Parsers raise ``InvalidValue``; the caller turns it into a
``FieldError`` that names the key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from dialgate.domain import catalogs
from dialgate.domain.errors import FieldError


@dataclass(frozen=True, slots=True)
class ValidationContext:
    """What validation needs to know about the world, gathered by the service beforehand."""

    account: str  # main account number
    email: str
    mailboxes: frozenset[str] = frozenset()
    subaccounts: frozenset[str] = frozenset()  # full names, e.g. 100000_office
    # Routing targets the account has defined, per header (fwd, ivr, queue, grp, tc).
    targets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    pops: frozenset[str] = frozenset(p.name for p in catalogs.DEFAULT_POPS)
    countries: frozenset[str] = frozenset()


# For values that need no account to check (a deposit amount, a DID number).
NO_CONTEXT = ValidationContext(account="", email="")


class InvalidValue(Exception):
    """Raised by a parser; becomes a FieldError naming the key."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # The values quoted in ``message``, for translations (see ``FieldError.params``).
        self.params = tuple((k, str(v)) for k, v in params.items())

    def field_error(self, key: str) -> FieldError:
        return FieldError(key, self.code, self.message, self.params)


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _text(raw: object) -> str:
    if isinstance(raw, bool | int | Decimal | float):
        return str(raw)
    if not isinstance(raw, str):
        raise InvalidValue("invalid_type", f"expected text, got {type(raw).__name__}")
    return raw.strip()


def _items(raw: object) -> list[str]:
    if isinstance(raw, list | tuple | set | frozenset):
        return [_text(x) for x in raw if _text(x)]
    return [p.strip() for p in re.split(r"[,;]", _text(raw)) if p.strip()]


class ValueKind:
    """The common face of every kind. Subclasses set the class attributes and ``parse``."""

    # The portal widget (see entrypoints/portal/forms.py) and the keyboard a phone shows.
    widget: ClassVar[str] = "text"
    inputmode: ClassVar[str | None] = None
    # The JSON type a REST client reads for a stored value.
    json_type: ClassVar[Any] = str

    def parse(self, raw: object, ctx: ValidationContext) -> Any:
        raise NotImplementedError

    @property
    def choices(self) -> Mapping[str, str] | None:
        """The fixed options (code -> label) of a choice, or None."""
        return None

    def to_json(self, value: Any) -> Any:
        return value

    def from_json(self, raw: Any) -> Any:
        return raw

    def display(self, value: Any) -> str:
        """How a value reads in the CLI, the audit log and emails."""
        return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Boolean(ValueKind):
    widget: ClassVar[str] = "checkbox"
    json_type: ClassVar[Any] = bool

    def parse(self, raw: object, ctx: ValidationContext) -> bool:
        if isinstance(raw, bool):
            return raw
        value = _text(raw).lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise InvalidValue(
            "invalid_boolean", f"must be true/false, yes/no or 1/0; got {raw!r}", value=raw
        )

    def display(self, value: Any) -> str:
        return "" if value is None else ("true" if value else "false")


@dataclass(frozen=True, slots=True)
class IntRange(ValueKind):
    low: int
    high: int
    unit: str = ""  # e.g. " seconds", quoted in the error

    widget: ClassVar[str] = "text"
    inputmode: ClassVar[str | None] = "numeric"
    json_type: ClassVar[Any] = int

    def parse(self, raw: object, ctx: ValidationContext) -> int:
        if isinstance(raw, bool):
            raise InvalidValue("invalid_integer", f"must be a whole number; got {raw!r}", value=raw)
        text = _text(raw)
        if not re.fullmatch(r"[+-]?\d+", text):
            raise InvalidValue("invalid_integer", f"must be a whole number; got {raw!r}", value=raw)
        value = int(text)
        if not self.low <= value <= self.high:
            raise InvalidValue(
                "out_of_range",
                f"must be between {self.low} and {self.high}{self.unit}; got {value}",
                low=self.low,
                high=self.high,
                value=value,
                **({"unit": self.unit.strip()} if self.unit else {}),
            )
        return value


@dataclass(frozen=True, slots=True)
class Money(ValueKind):
    """A USD amount; stored as a decimal string, ``None`` where the setting allows no value."""

    low: Decimal
    high: Decimal | None
    places: int

    inputmode: ClassVar[str | None] = "decimal"
    json_type: ClassVar[Any] = str | None  # decimal strings; null = no value (the seed's "empty")

    def parse(self, raw: object, ctx: ValidationContext) -> Decimal:
        if isinstance(raw, bool):
            raise InvalidValue("invalid_decimal", f"must be a number; got {raw!r}", value=raw)
        text = _text(raw).lstrip("$")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise InvalidValue(
                "invalid_decimal", f"must be a number; got {raw!r}", value=raw
            ) from None
        if not value.is_finite():
            raise InvalidValue("invalid_decimal", f"must be a number; got {raw!r}", value=raw)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.places:
            raise InvalidValue(
                "too_many_decimals",
                f"must have at most {self.places} decimals; got {text}",
                places=self.places,
                value=text,
            )
        if value < self.low or (self.high is not None and value > self.high):
            if self.high is not None:
                bound = f"between {self.low} and {self.high}"
                bounds = {"low": self.low, "high": self.high}
            else:
                bound, bounds = f"at least {self.low}", {"low": self.low}
            raise InvalidValue("out_of_range", f"must be {bound}; got {text}", value=text, **bounds)
        return value

    def to_json(self, value: Any) -> Any:
        return None if value is None else str(value)

    def from_json(self, raw: Any) -> Any:
        return None if raw is None else Decimal(raw)


@dataclass(frozen=True, slots=True)
class Choice(ValueKind):
    options: Mapping[str, str]  # code -> label

    widget: ClassVar[str] = "select"

    @property
    def choices(self) -> Mapping[str, str]:
        return self.options

    def parse(self, raw: object, ctx: ValidationContext) -> str:
        value = _text(raw).lower()
        if value not in self.options:
            raise InvalidValue(
                "invalid_choice",
                f"must be one of {', '.join(self.options)}; got {raw!r}",
                choices=", ".join(self.options),
                value=raw,
            )
        return value


class ChoiceList(ValueKind):
    """A list of codes; stored as a JSON list."""

    json_type: ClassVar[Any] = list[str]

    def to_json(self, value: Any) -> Any:
        return None if value is None else list(value)

    def from_json(self, raw: Any) -> Any:
        return tuple(raw) if isinstance(raw, list) else raw

    def display(self, value: Any) -> str:
        return "" if value is None else ",".join(value)


@dataclass(frozen=True, slots=True)
class Countries(ChoiceList):
    """ISO 3166 codes of dialable countries, or ALL; sorted."""

    widget: ClassVar[str] = "countries"

    def parse(self, raw: object, ctx: ValidationContext) -> tuple[str, ...]:
        codes = [c.upper() for c in _items(raw)]
        if not codes:
            raise InvalidValue("empty_list", "must list at least one country code, or ALL")
        if "ALL" in codes:
            if len(codes) > 1:
                raise InvalidValue("invalid_country", "ALL cannot be combined with country codes")
            return ("ALL",)
        bad = [c for c in codes if c not in ctx.countries]
        if bad:
            hint = " (the US and Canada are always allowed)" if set(bad) & {"US", "CA"} else ""
            raise InvalidValue(
                "invalid_country",
                f"must be ISO 3166 alpha-2 codes of dialable countries or ALL; "
                f"not valid: {', '.join(bad)}{hint}",
                value=", ".join(bad),
            )
        return tuple(sorted(set(codes)))


@dataclass(frozen=True, slots=True)
class Pops(ChoiceList):
    """POP names from the catalog; sorted."""

    widget: ClassVar[str] = "pops"

    def parse(self, raw: object, ctx: ValidationContext) -> tuple[str, ...]:
        names = [n.lower() for n in _items(raw)]
        bad = [n for n in names if n not in ctx.pops]
        if bad:
            raise InvalidValue(
                "invalid_pop",
                f"must be POP names from the catalog; not valid: {', '.join(bad)}",
                value=", ".join(bad),
            )
        return tuple(sorted(set(names)))


@dataclass(frozen=True, slots=True)
class Codecs(ChoiceList):
    """Codecs from the catalog in the customer's order of preference, or all."""

    widget: ClassVar[str] = "codecs"

    @property
    def choices(self) -> Mapping[str, str]:
        return catalogs.CODECS

    def parse(self, raw: object, ctx: ValidationContext) -> tuple[str, ...]:
        items = [c.lower() for c in _items(raw)]
        if not items:
            raise InvalidValue("empty_list", "choose at least one codec, or all codecs")
        if "all" in items:
            if len(items) > 1:
                raise InvalidValue("invalid_codec", "all cannot be combined with codec names")
            return ("all",)
        bad = [c for c in items if c not in catalogs.CODECS]
        if bad:
            raise InvalidValue(
                "invalid_codec",
                f"must be all or codecs from {', '.join(catalogs.CODECS)}; "
                f"not valid: {', '.join(bad)}",
            )
        # Keep the customer's order: it is the order of preference in SDP.
        return tuple(dict.fromkeys(items))


@dataclass(frozen=True, slots=True)
class EmailList(ChoiceList):
    """Email addresses, normalized, in the customer's order (the first one matters)."""

    max_items: int = 10

    def parse(self, raw: object, ctx: ValidationContext) -> tuple[str, ...]:
        # Imported on use: email_validator's tables cost every CLI command 0.1 s otherwise.
        from email_validator import EmailNotValidError, validate_email

        items = _items(raw)
        if not items:
            raise InvalidValue("empty_list", "must list at least one email address")
        if len(items) > self.max_items:
            # The balance alert goes to every address: a long list would make Dialgate a mailer
            # for whoever holds an API key.
            raise InvalidValue(
                "too_many_emails", f"at most {self.max_items} addresses; got {len(items)}"
            )
        out = []
        for item in items:
            try:
                out.append(validate_email(item, check_deliverability=False).normalized)
            except EmailNotValidError as exc:
                raise InvalidValue(
                    "invalid_email", f"{item!r} is not a valid email address: {exc}", value=item
                ) from None
        return tuple(dict.fromkeys(out))


_HOSTNAME = re.compile(r"(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")


@dataclass(frozen=True, slots=True)
class AddressList(ChoiceList):
    """IPv4/IPv6 addresses, CIDR ranges and host names."""

    def parse(self, raw: object, ctx: ValidationContext) -> tuple[str, ...]:
        out: list[str] = []
        for item in _items(raw):
            try:
                if "/" in item:
                    out.append(str(ipaddress.ip_network(item, strict=False)))
                else:
                    out.append(str(ipaddress.ip_address(item)))
                continue
            except ValueError:
                pass
            name = item.lower().rstrip(".")
            if re.fullmatch(r"[\d.]+|[\d.]+/\d+", name) or not _HOSTNAME.fullmatch(name):
                raise InvalidValue(
                    "invalid_ip",
                    f"must be IPv4/IPv6 addresses, CIDR ranges or host names; not valid: {item!r}",
                    value=item,
                )
            out.append(name)
        return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class Pop(ValueKind):
    """One POP name from the catalog."""

    widget: ClassVar[str] = "pop"

    def parse(self, raw: object, ctx: ValidationContext) -> str:
        name = _text(raw).lower()
        if name not in ctx.pops:
            raise InvalidValue(
                "invalid_pop", f"must be a POP name from the catalog; got {raw!r}", value=raw
            )
        return name


@dataclass(frozen=True, slots=True)
class Mailbox(ValueKind):
    """One of the account's voicemail boxes."""

    widget: ClassVar[str] = "mailbox"

    def parse(self, raw: object, ctx: ValidationContext) -> str:
        value = _text(raw)
        if value not in ctx.mailboxes:
            raise InvalidValue(
                "unknown_mailbox", f"must be a mailbox of account {ctx.account}; got {value!r}"
            )
        return value


_NANP = re.compile(r"[2-9]\d{2}[2-9]\d{6}")


@dataclass(frozen=True, slots=True)
class NanpNumber(ValueKind):
    """A 10-digit North American number (an 11-digit one starting with 1 is accepted)."""

    inputmode: ClassVar[str | None] = "tel"

    def parse(self, raw: object, ctx: ValidationContext) -> str:
        digits = _text(raw).lstrip("+")
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if not _NANP.fullmatch(digits):
            raise InvalidValue(
                "invalid_nanp_number",
                f"must be a 10-digit North American number (NPA-NXX-XXXX); got {raw!r}",
                value=raw,
            )
        return digits


@dataclass(frozen=True, slots=True)
class CallerId(ValueKind):
    """A caller ID: a North American number or E.164 digits."""

    inputmode: ClassVar[str | None] = "tel"

    def parse(self, raw: object, ctx: ValidationContext) -> str:
        digits = _text(raw).lstrip("+")
        if _NANP.fullmatch(digits) or re.fullmatch(r"[1-9]\d{7,14}", digits):
            return digits
        raise InvalidValue(
            "invalid_callerid",
            f"must be a 10-digit North American number or E.164 digits (8 to 15); got {raw!r}",
            value=raw,
        )


@dataclass(frozen=True, slots=True)
class Target(ValueKind):
    """A DID routing target in the VoIP.ms notation ``header:value`` that exists on the account."""

    widget: ClassVar[str] = "target"

    def parse(self, raw: object, ctx: ValidationContext) -> str:
        text = _text(raw)
        header, sep, value = text.partition(":")
        header = header.lower()
        if not sep or header not in catalogs.ROUTING_HEADERS:
            raise InvalidValue(
                "invalid_target",
                f"must be header:value with a header from {', '.join(catalogs.ROUTING_HEADERS)}; "
                f"got {raw!r}",
                value=raw,
            )
        value = value.strip()
        if header == "none":
            if value:
                raise InvalidValue("invalid_target", "none: takes no value")
            return "none:"
        exists: bool
        if header == "account":
            exists = value == ctx.account or value in ctx.subaccounts
        elif header == "vm":
            exists = value in ctx.mailboxes
        elif header == "sys":
            exists = value in catalogs.SYSTEM_ACTIONS
        else:
            exists = value in ctx.targets.get(header, frozenset())
        if not exists:
            raise InvalidValue(
                "unknown_target",
                f"{header}:{value} does not exist on account {ctx.account}",
                target=f"{header}:{value}",
                account=ctx.account,
            )
        return f"{header}:{value}"


@dataclass(frozen=True, slots=True)
class Password(ValueKind):
    """A new password: never stored as given, never shown."""

    widget: ClassVar[str] = "password"

    def parse(self, raw: object, ctx: ValidationContext) -> str:
        if not isinstance(raw, str):
            raise InvalidValue("invalid_password", "must be text")
        value = raw
        if (
            len(value) < 8
            or not re.search(r"[a-z]", value)
            or not re.search(r"[A-Z]", value)
            or not re.search(r"\d", value)
        ):
            raise InvalidValue(
                "weak_password",
                "must be at least 8 characters with an upper-case letter, "
                "a lower-case letter and a digit",
            )
        if len(value) > 128 or any(ord(ch) < 32 for ch in value):
            raise InvalidValue("invalid_password", "must be at most 128 printable characters")
        return value


@dataclass(frozen=True, slots=True)
class Text(ValueKind):
    """Free text of printable characters up to a length."""

    max_length: int = 100

    def parse(self, raw: object, ctx: ValidationContext) -> str:
        value = _text(raw)
        if len(value) > self.max_length or any(ord(ch) < 32 for ch in value):
            raise InvalidValue(
                "invalid_description",
                f"must be at most {self.max_length} printable characters",
            )
        return value


Parser = Callable[[object, ValidationContext], Any]

"""The one exception tree of Dialgate.

Every transport maps these once: the REST API to RFC 9457 problem+json, the VoIP.ms facade to its
status codes, the CLI to a message on stderr and exit status 2.

- ``DialgateError``: base of everything below.
  - ``ValidationFailed``: bad input; carries one ``FieldError`` per offending field. Nothing was
    changed.
  - ``NotFound``: the thing does not exist *for this caller* (other tenants' data is reported the
    same way, never as "forbidden").
  - ``Conflict``: the request is valid but the current state forbids it (a username in use, a sub
    account that DIDs still route to).
  - ``AuthenticationFailed``: credentials missing or wrong.
  - ``PermissionDenied``: authenticated, but not allowed to do this.

Denied *calls* are not errors: the policy returns a Decision value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One rule broken by one field: ``code`` is stable, ``message`` is for people.

    ``params`` holds the values the English ``message`` quotes (``low``, ``high``, ``value``...),
    so that a translator can say the same rule in another language. Not part of equality.
    """

    field: str
    code: str
    message: str
    params: tuple[tuple[str, str], ...] = dataclasses.field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class DialgateError(Exception):
    """Base of all Dialgate errors."""

    code = "error"


class ValidationFailed(DialgateError):
    code = "validation_failed"

    def __init__(self, errors: list[FieldError]) -> None:
        if not errors:
            raise ValueError("ValidationFailed needs at least one FieldError")
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    @classmethod
    def single(cls, field: str, code: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, code, message)])


class NotFound(DialgateError):
    code = "not_found"

    def __init__(self, what: str, ident: str) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"{what} {ident!r} not found")


class Conflict(DialgateError):
    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        self.code = code
        self.field = field
        super().__init__(message)


class AuthenticationFailed(DialgateError):
    code = "authentication_failed"


class PermissionDenied(DialgateError):
    code = "permission_denied"

"""What every CLI command shares: the database, key=value parsing, JSON output, error mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from dialgate.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DialgateError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate import bootstrap
    from dialgate.services.uow import Database, UnitOfWork
else:  # SQLAlchemy and pydantic-settings load only for commands that use the database
    bootstrap = lazy_import("dialgate.bootstrap")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
EXIT_USAGE = 2


@contextmanager
def database() -> Iterator[Database]:
    db = bootstrap.database()
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def uow(*, write: bool = True) -> Iterator[UnitOfWork]:
    with database() as db, db.uow(write=write) as unit:
        yield unit


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """``key=value`` arguments; an empty value (``key=``) is kept: it resets the key."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationFailed.single(pair, "invalid_argument", "expected key=value")
        if key.strip() in out:
            raise ValidationFailed.single(key, "duplicate_key", "given more than once")
        out[key.strip()] = value
    return out


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=_default))


def report_error(exc: DialgateError) -> None:
    if isinstance(exc, ValidationFailed):
        for error in exc.errors:
            err_console.print(f"error: {error.field}: {error.message} [{error.code}]", markup=False)
    elif isinstance(exc, NotFound | Conflict | AuthenticationFailed | PermissionDenied):
        err_console.print(f"error: {exc} [{exc.code}]", markup=False)
    else:
        err_console.print(f"error: {exc}", markup=False)


def run_guarded(app: typer.Typer) -> int:
    """Run the CLI, mapping Dialgate errors and usage errors to exit status 2."""
    try:
        # Without standalone mode, click hands back typer.Exit's code instead of exiting.
        result = app(standalone_mode=False)
    except DialgateError as exc:
        report_error(exc)
        return EXIT_USAGE
    except typer.Abort:
        return 1
    except typer.TyperException as exc:  # usage errors: unknown option, bad parameter, ...
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"error: {exc}", markup=False)
        code = getattr(exc, "exit_code", EXIT_USAGE)
        return code if isinstance(code, int) else EXIT_USAGE
    return result if isinstance(result, int) else 0

"""What every CLI command shares: the database, key=value parsing, JSON output, error mapping."""

from __future__ import annotations

import csv
import gc
import importlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from rich.console import Console
from typer.core import TyperGroup

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
    from sqlalchemy.exc import DBAPIError
    from typer._click.core import Command, Context

    from dialgate import bootstrap, config
    from dialgate.services.uow import Database, UnitOfWork
else:  # SQLAlchemy and the settings model load only for commands that use the database
    bootstrap = lazy_import("dialgate.bootstrap")
    config = lazy_import("dialgate.config")

# emoji=False: what is printed is data (names, destinations), never ":code:" shorthands to
# replace; and rich then does not load its emoji table (a few ms on every command).
console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)
EXIT_USAGE = 2


# A CLI run waits this long for another writer (the server, a worker, other CLI runs) before
# giving up: scripts run many commands at once, and on a busy machine a writer can hold
# SQLite's one write lock for seconds.
CLI_BUSY_TIMEOUT_MS = 60_000


class CliError(Exception):
    """A problem with what the command was given (its environment included): a clear message,
    exit status 2 (``code`` is shown in brackets, like the other errors')."""

    def __init__(self, message: str, code: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code
        self.exit_code = exit_code


def _check_sqlite_exists(url: str) -> None:
    from sqlalchemy.engine import make_url  # only for commands that use the database

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    if not Path(parsed.database).exists():
        raise CliError(
            f"no database at {parsed.database} (DIALGATE_DATABASE_URL); "
            "create it with `dialgate db upgrade`",
            "database_missing",
        )


@contextmanager
def database() -> Iterator[Database]:
    _check_sqlite_exists(config.get_settings().database_url)
    db = bootstrap.database(busy_timeout_ms=CLI_BUSY_TIMEOUT_MS)
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


def _database_error(exc: DBAPIError) -> CliError:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if "locked" in first or "busy" in first:
        return CliError(
            f"the database stayed busy for {CLI_BUSY_TIMEOUT_MS // 1000} s (another writer "
            "holds it); nothing was changed, try again",
            "database_busy",
            exit_code=1,
        )
    if "no such table" in first or ("relation" in first and "does not exist" in first):
        return CliError(
            "the database has no Dialgate schema; run `dialgate db upgrade` first",
            "database_not_migrated",
        )
    from sqlalchemy.exc import OperationalError  # loaded: exc is one of its errors

    if isinstance(exc, OperationalError):
        return CliError(f"cannot use the database: {first}", "database_unavailable")
    return CliError(f"the database refused the change: {first}", "database_error", exit_code=1)


def module_commands(module: str) -> dict[str, Command]:
    """The click commands that CLI module ``module`` registers (its ``register(app)``), by name.

    Registered on an app of their own with a callback, so even a module with one command gives
    a group (Typer would otherwise make that command the whole app)."""
    from typer.main import get_command  # the conversion to click objects, only when dispatching

    owner = importlib.import_module(f"{__package__}.{module}")
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    sub.callback()(_no_options)
    owner.register(sub)
    group = get_command(sub)
    assert isinstance(group, TyperGroup)
    return dict(group.commands)


def _no_options() -> None:
    """(The callback that makes ``module_commands``' app a group; it has no options.)"""


class LazyCommands(MutableMapping[str, "Command"]):
    """A group's commands, named up front by ``owners`` (command name -> CLI module), each
    module imported and converted to click objects when one of its commands is first looked up.

    Start-up time is mostly imports, and Typer converts every command it is given before it
    dispatches: a command run imports and converts its own module only. Listing the names
    (usage errors' suggestions) imports nothing; ``--help`` reads every command's help line, so
    it loads them all."""

    def __init__(self, owners: Mapping[str, str]) -> None:
        self._owners = dict(owners)
        self._loaded: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded and name in self._owners:
            module = self._owners[name]
            for command_name, command in module_commands(module).items():
                if self._owners.get(command_name) == module:
                    self._loaded.setdefault(command_name, command)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._owners.pop(name, None)
        self._loaded.pop(name, None)

    def __contains__(self, name: object) -> bool:  # without importing the owner
        return name in self._owners or name in self._loaded

    def __iter__(self) -> Iterator[str]:
        yield from self._owners
        yield from (name for name in self._loaded if name not in self._owners)

    def __len__(self) -> int:
        return len(self._owners.keys() | self._loaded.keys())


class GuardedGroup(TyperGroup):
    """The ``dialgate`` command group: its ``main`` maps errors (the CLI's one mapping), so the
    console script and ``typer.testing.CliRunner`` (the tests, in process) answer the same.

    ``command_modules`` (command name -> CLI module, in ``--help`` order) are the group's
    commands, loaded on first use (``LazyCommands``); a subclass sets it."""

    command_modules: ClassVar[Mapping[str, str]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        if self.command_modules:
            lazy = LazyCommands(self.command_modules)
            for name, command in self.commands.items():  # any command given the usual way
                lazy[name] = command
            self.commands = lazy

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # the names only: TyperGroup's reads every command

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        def invoke() -> Any:
            # Without standalone mode, click hands back typer.Exit's code instead of exiting.
            return super(GuardedGroup, self).main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )

        code = run_guarded(invoke)
        if standalone_mode:
            sys.exit(code)
        return code


def run_guarded(invoke: Callable[[], Any]) -> int:
    """Run the CLI, mapping Dialgate errors, bad input files and database problems to a clear
    message on stderr (no traceback) and exit status 2 (1 for a database that stayed busy)."""
    try:
        return _run(invoke)
    except CliError as exc:
        err_console.print(f"error: {exc} [{exc.code}]", markup=False)
        return exc.exit_code


def _run(invoke: Callable[[], Any]) -> int:
    try:
        result = invoke()
    except DialgateError as exc:
        report_error(exc)
        return EXIT_USAGE
    except UnicodeDecodeError as exc:
        raise CliError(
            f"the file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8",
            "not_utf8",
        ) from None
    except csv.Error as exc:
        raise CliError(f"the CSV file cannot be read: {exc}", "invalid_csv") from None
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
    except Exception as exc:
        # SQLAlchemy and pydantic are imported lazily: if either raised, it is loaded by now.
        database_errors = sys.modules.get("sqlalchemy.exc")
        if database_errors is not None and isinstance(exc, database_errors.DBAPIError):
            raise _database_error(exc) from None
        pydantic = sys.modules.get("pydantic")
        if pydantic is not None and isinstance(exc, pydantic.ValidationError):  # DIALGATE_*
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise CliError(f"configuration: {problems}", "invalid_configuration") from None
        raise
    return result if isinstance(result, int) else 0


def long_running() -> None:
    """For a command that keeps running (a server, a worker, a watcher, a benchmark): the cyclic
    collector back on (``main`` turns it off for the short commands), with what start-up built
    moved out of its sight (``gc.freeze``: never freed, so never worth scanning)."""
    gc.freeze()
    gc.enable()

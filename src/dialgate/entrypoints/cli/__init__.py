"""The ``dialgate`` command line. Thin: parse, call one service, print.

Errors print the field and rule to stderr and exit with status 2.

Each CLI module registers its commands (``register(app)``); ``COMMANDS`` says which module owns
which top-level command, so a run imports only the module of the command it runs (start-up time
is mostly imports). ``tests/integration/test_cli_imports.py`` checks that this table is exactly
what the modules register.
"""

from __future__ import annotations

import gc

import typer

from dialgate.entrypoints.cli.common import GuardedGroup, err_console

# Top-level command -> the module under entrypoints/cli/ that registers it, in `--help` order
# (Typer lists commands before groups, each in the order they were registered).
COMMANDS: dict[str, str] = {
    "demo": "db",
    "serve": "db",
    "catalog": "catalog",
    "authorize": "calls",
    "inbound": "dids",
    "balance": "billing",
    "deposit": "billing",
    "worker": "worker",
    "doctor": "ops",
    "db": "db",
    "account": "accounts",
    "subaccount": "accounts",
    "settings": "settings",
    "rates": "calls",
    "bench": "calls",
    "did": "dids",
    "cdr": "billing",
    "apikey": "apikeys",
    "switch": "apikeys",
    "api": "apikeys",
    "forwarding": "forwarding",
    "operator": "operators",
}


class DialgateGroup(GuardedGroup):
    command_modules = COMMANDS


app = typer.Typer(
    name="dialgate",
    help="Account settings and call policy for VoIP service providers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=DialgateGroup,  # maps errors to stderr and exit status 2, in tests too
)


@app.callback()
def _top() -> None:
    """(No options of its own: the commands come from ``COMMANDS``, loaded on use.)"""


def main() -> None:
    # A command is a short process that builds hundreds of thousands of long-lived objects
    # (modules, classes, SQLAlchemy's tables and mappers) and frees little: the cyclic
    # collector's passes over them were 15-20 % of a light command's CPU, for nothing to
    # collect. The commands that keep running turn it back on (``common.long_running``).
    gc.disable()
    app()  # GuardedGroup.main exits with the mapped status


__all__ = ["COMMANDS", "app", "err_console", "main"]

"""The ``dialgate`` command line. Thin: parse, call one service, print.

Errors print the field and rule to stderr and exit with status 2.
"""

from __future__ import annotations

import typer

from dialgate.entrypoints.cli import (
    accounts,
    apikeys,
    billing,
    calls,
    catalog,
    db,
    dids,
    forwarding,
    operators,
    ops,
    settings,
    worker,
)
from dialgate.entrypoints.cli.common import GuardedGroup, err_console

app = typer.Typer(
    name="dialgate",
    help="Account settings and call policy for VoIP service providers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,  # maps errors to stderr and exit status 2, in tests too
)
db.register(app)
accounts.register(app)
settings.register(app)
catalog.register(app)
calls.register(app)
dids.register(app)
billing.register(app)
worker.register(app)
apikeys.register(app)
forwarding.register(app)
operators.register(app)
ops.register(app)


def main() -> None:
    app()  # GuardedGroup.main exits with the mapped status


__all__ = ["app", "err_console", "main"]

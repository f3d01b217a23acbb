"""The layering rules that a reviewer would otherwise have to remember, read from the source.

- Entrypoints never commit: a use case (``@use_case``) opens and commits its unit of work, so
  that what one request changes is one transaction decided in the services.
- Services keep no clock of their own: the time comes from the unit of work (``uow.now()``) or
  a ``Clock`` argument, so tests choose it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dialgate

PACKAGE = Path(dialgate.__file__).parent


def _modules(layer: str) -> list[Path]:
    found = sorted((PACKAGE / layer).rglob("*.py"))
    assert found, f"no modules under {layer}/"
    return found


def commit_calls(source: str) -> list[int]:
    """Lines where ``<anything>.commit(...)`` is called."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def own_clocks(source: str) -> list[int]:
    """Lines where a module defines a private ``_now`` helper."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "_now"
    ]


def test_the_checks_see_what_they_look_for() -> None:
    # The rules below pass by finding nothing: prove here that they would find it.
    assert commit_calls("with db.uow() as uow:\n    uow.commit()\n") == [2]
    assert commit_calls("session.commit(); x = y.commit\n") == [1]
    assert commit_calls("billing.record_cdr(db, payload)\n") == []
    assert own_clocks("def _now():\n    return 1\n") == [1]
    assert own_clocks("def now(uow):\n    return uow.now()\n") == []


def test_no_entrypoint_commits_a_transaction() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in _modules("entrypoints")
        for line in commit_calls(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], (
        "entrypoints call a @use_case service instead of committing: " + ", ".join(offenders)
    )


def test_no_service_keeps_its_own_clock() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in _modules("services")
        for line in own_clocks(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "services take uow.now() or a Clock: " + ", ".join(offenders)

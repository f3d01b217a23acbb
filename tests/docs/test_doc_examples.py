"""The docs are tests: every ``sh`` block of README.md and docs/*.md runs as written against a
fresh demo server (``make run``'s data), with the real port and API key substituted.

Rules the docs follow: ``sh``/``bash`` blocks are runnable examples; untagged blocks are
synopses (``dialgate account create NUMBER ...``); ``bash production`` blocks are recipes for
another machine (packages, systemd, remote hosts) and are not run. Every ``curl`` must answer
below 400 and, from the VoIP.ms-compatible API, with ``"status":"success"``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import dialgate
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.S | re.M)
RUNNABLE = {"sh", "bash"}

# A curl that fails the script on an HTTP error or a VoIP.ms status other than success, and
# still prints the body like the real one.
PRELUDE = r"""
set -eu -o pipefail
curl() {
  local out code body
  out=$(command curl -sS -w '\n%{http_code}' "$@")
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  printf '%s\n' "$body"
  if [ "$code" -ge 400 ]; then echo "HTTP $code from curl $*" >&2; return 1; fi
  case "$body" in
    *'"status":"'*) case "$body" in *'"status":"success"'*) ;;
                      *) echo "VoIP.ms status not success from curl $*" >&2; return 1;; esac;;
  esac
}
"""


def blocks(doc: Path) -> list[tuple[int, str]]:
    """The runnable blocks of a document with their line numbers."""
    text = doc.read_text(encoding="utf-8")
    out = []
    for match in FENCE.finditer(text):
        info = match.group(1).split()
        if info and info[0] in RUNNABLE and "production" not in info:
            out.append((text.count("\n", 0, match.start()) + 1, match.group(2)))
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _key(url: str, name: str) -> str:
    out = dialgate(url, "apikey", "create", "100000", "--name", name)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def demo_server(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    out = dialgate(sqlite_url, "demo")
    assert out.returncode == 0, out.stderr
    key = _key(sqlite_url, "docs")
    spare = _key(sqlite_url, "spare")  # the one the docs' revoke example revokes
    with running_server(sqlite_url, _free_port(), tmp_path / "server.log") as url:
        subs = {
            "http://127.0.0.1:8000": url,
            "dg_xxxxxxxx.yyyy": key,
            "dg_xxxxxxxx": spare.partition(".")[0],
        }
        yield sqlite_url, url, subs


def test_the_docs_have_examples() -> None:
    counts = {doc.name: len(blocks(doc)) for doc in DOCS}
    assert counts["README.md"] >= 2 and counts["api.md"] >= 10, counts


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_shell_example_runs(
    doc: Path, demo_server: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    db_url, url, subs = demo_server
    script = [PRELUDE]
    for line, block in blocks(doc):
        for old, new in subs.items():
            block = block.replace(old, new)
        script.append(f'echo "--- {doc.name} line {line}" >&2\n{block}')
    if len(script) == 1:
        return  # nothing runnable here (an architecture map, a production recipe)
    env = {
        **os.environ,
        "DIALGATE_DATABASE_URL": db_url,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DG": url,
        "KEY": subs["dg_xxxxxxxx.yyyy"],
    }
    run = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, f"{run.stderr[-3000:]}\n--- stdout:\n{run.stdout[-2000:]}"

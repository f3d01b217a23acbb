"""Compiled rate decks kept as files in the cache folder and memory-mapped by every process.

A deck version's compiled bytes are named by their SHA-256, the version's ``checksum``, so a
file is right for every database that holds that version and can never be stale. The first
process on the host that needs a version reads it from the database (16 MB for a million
prefixes), checks it against the checksum and writes the file; every later process maps it:

- a CLI ``rates show`` or ``authorize`` touches the few pages its lookup walks instead of
  reading the whole blob (0.4 ms instead of 40 ms on a million-row deck);
- the web workers of a host share one copy of each deck in the page cache instead of holding
  one each.

A file is written under a temporary name and renamed, so a reader sees all of it or none. A
mapped deck stays valid when its file is replaced or pruned (Linux keeps the pages until the
last mapping goes). Anything wrong with the folder (unwritable, a file that will not map) costs
only the read from the database. The folder is trusted like the database credentials: whoever
can write it can change rates.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
from collections.abc import Callable
from pathlib import Path

from dialgate.adapters.files import write_atomically

log = logging.getLogger(__name__)

FOLDER = "decks"
KEEP = 12  # deck files kept per host (newest first): each route's live and recent versions
_SUFFIX = ".deck"


def deck_path(cache_dir: Path, checksum: str) -> Path:
    if len(checksum) != 64 or not all(c in "0123456789abcdef" for c in checksum):
        raise ValueError(f"not a SHA-256 checksum: {checksum!r}")  # it names a file
    return cache_dir / FOLDER / f"{checksum}{_SUFFIX}"


def mapped(path: Path) -> mmap.mmap | None:
    """The file mapped read-only; None when it is missing, empty or cannot be mapped."""
    try:
        with path.open("rb") as fh:
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # ValueError: an empty file
        log.warning("deck file not mapped; reading the database",
                    extra={"path": str(path), "error": str(exc)})
        return None


def deck_bytes(
    checksum: str, read: Callable[[], bytes | None], *, cache_dir: Path | None = None
) -> bytes | mmap.mmap | None:
    """A deck version's compiled bytes: the mapped file when there is one, else ``read()`` (from
    the database), kept as the file for the next process when it matches ``checksum``. None when
    the database has no bytes for it. ``cache_dir``: the configured cache folder by default."""
    if cache_dir is None:
        from dialgate import config

        cache_dir = Path(config.cache_dir())
    path = deck_path(cache_dir, checksum)
    found = mapped(path)
    if found is not None:
        return found
    blob = read()
    if blob is None:
        return None
    if hashlib.sha256(blob).hexdigest() != checksum:  # hashlib drops the GIL on big inputs
        log.warning("deck bytes do not match their checksum; not cached",
                    extra={"checksum": checksum})
        return blob
    try:
        write_atomically(path, blob)
        prune(path.parent, keep=KEEP)
    except OSError as exc:
        log.warning("deck file not written", extra={"path": str(path), "error": str(exc)})
        return blob
    return mapped(path) or blob


def prune(folder: Path, *, keep: int) -> None:
    """Remove all but the ``keep`` most recently written deck files (a process still mapping a
    removed one keeps its pages; the next one to need it reads the database again)."""
    files = []
    for entry in os.scandir(folder):
        if entry.name.endswith(_SUFFIX):
            try:
                files.append((entry.stat().st_mtime_ns, entry.path))
            except FileNotFoundError:  # pruned by another process meanwhile
                continue
    files.sort(reverse=True)
    for _mtime, name in files[keep:]:
        Path(name).unlink(missing_ok=True)

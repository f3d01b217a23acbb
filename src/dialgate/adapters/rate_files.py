"""Rate deck files as carriers send them: plain or gzip (``.csv.gz``), UTF-8 with or without a
BOM. Returns text lines for ``domain.deck_csv.parse_deck``; bytes that are not UTF-8 are
reported with their line numbers."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from dialgate.domain.errors import FieldError, ValidationFailed

_GZIP_MAGIC = b"\x1f\x8b"
MAX_FILE_BYTES = 2 * 1024**3  # decompressed; a 1M-row deck is about 40 MB


def read_deck_lines(path: Path) -> list[str]:
    """The file's lines (without line ends), decoded; ``ValidationFailed`` names the file when it
    is missing or unreadable and every line that is not UTF-8."""
    if not path.is_file():
        raise ValidationFailed.single("file", "not_found", f"no such file: {path}")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValidationFailed.single(
                "file", "invalid_gzip", f"{path.name} is not a readable gzip file: {exc}"
            ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ValidationFailed.single(
            "file", "too_large", f"a deck file must be at most {MAX_FILE_BYTES} bytes"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(_undecodable_lines(raw)) from None
    # splitlines() would also split on characters that are data inside a field (\x1c, \u2028).
    # CRLF ends are dropped with one replace, not a pass over a million lines.
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if lines and lines[-1].endswith("\r"):  # a last line ended by a lone CR
        lines[-1] = lines[-1][:-1]
    return lines


def _undecodable_lines(raw: bytes) -> list[FieldError]:
    errors = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(FieldError(
                f"line {number}", "invalid_encoding",
                f"not UTF-8 (byte {line[exc.start]:#04x} at column {exc.start + 1}); "
                "save the file as UTF-8",
            ))
    return errors

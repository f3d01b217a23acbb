"""Translations for the portal: Babel catalogs (``locale/<lang>/LC_MESSAGES/messages.po``).

The ``.po`` files are the source; ``.mo`` files are build products (gitignored), compiled here
when missing or older than their ``.po``. If the package directory is read-only the catalog is
compiled in memory instead. One Jinja environment per language, built once.
"""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from dialgate.domain import catalogs

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = tuple(catalogs.LANGUAGES)  # en, fr, es
DEFAULT_LANGUAGE = "en"


def compile_catalog(language: str) -> bytes:
    """The compiled ``.mo`` bytes of one language's ``.po``."""
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def ensure_compiled() -> None:
    """Write every ``.mo`` that is missing or stale; ignore read-only installs."""
    for language in LANGUAGES:
        po_path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
        if not po_path.exists():
            continue
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        data = compile_catalog(language)
        # On a read-only install, translations() compiles in memory instead.
        with contextlib.suppress(OSError):
            mo_path.write_bytes(data)


@lru_cache(maxsize=8)
def translations(language: str) -> NullTranslations:
    if language not in LANGUAGES or language == DEFAULT_LANGUAGE:
        return NullTranslations()
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    mo_path = po_path.with_suffix(".mo")
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as fh:
            return Translations(fh)
    return Translations(io.BytesIO(compile_catalog(language)))


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an Accept-Language header (login page only)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    weighted: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        weighted.append((weight, tag.split("-")[0].lower()))
    for _w, lang in sorted(weighted, key=lambda x: -x[0]):
        if lang in LANGUAGES:
            return lang
    return DEFAULT_LANGUAGE

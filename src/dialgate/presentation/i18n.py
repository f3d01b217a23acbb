"""Translations and locale formats: Babel catalogs (``locale/<lang>/LC_MESSAGES/messages.po``)
and Babel's money and date formats, for the portal and the emails alike.

The ``.po`` files are the source; ``.mo`` files are build products (gitignored), compiled here
when missing or older than their ``.po``. If the package directory is read-only the catalog is
compiled in memory instead. The catalogs stay beside the portal's templates (package data
that the portal's extraction and every branch adding msgids already know); this module is
their one reader.
"""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime as _babel_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

from dialgate.domain import catalogs

LOCALE_DIR = Path(__file__).parent.parent / "entrypoints" / "portal" / "locale"
LANGUAGES = tuple(catalogs.LANGUAGES)  # en, fr, es
DEFAULT_LANGUAGE = "en"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention: marks a msgid for extraction
    return message


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


def language_or_default(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def gettext(language: str, message: str) -> str:
    return str(translations(language).gettext(message))


def format_money(value: Decimal, language: str, *, places: int = 2) -> str:
    """Dollars in the reader's format (CLDR's currency pattern) with the precision that matters:
    balances and charges 2 decimals, per-minute rates 4."""
    language = language_or_default(language)
    pattern = Locale.parse(language).currency_formats["standard"].pattern
    pattern = pattern.replace("0.00", "0." + "0" * places)
    return str(
        format_currency(value, "USD", format=pattern, locale=language, currency_digits=False)
    )


def format_datetime(value: datetime, language: str) -> str:
    """A UTC time in the reader's medium format, said to be UTC."""
    language = language_or_default(language)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return str(_babel_datetime(value, "medium", tzinfo=None, locale=language)) + " UTC"

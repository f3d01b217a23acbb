"""The portal's languages: the catalogs and formats are ``presentation.i18n``'s (shared with the
notification emails); what only the portal needs, choosing a language from a browser's
Accept-Language, is here."""

from __future__ import annotations

from dialgate.presentation.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    LOCALE_DIR,
    compile_catalog,
    ensure_compiled,
    translations,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "compile_catalog",
    "ensure_compiled",
    "negotiate",
    "translations",
]


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

"""Every English msgid a customer (or an operator, in the console) can be shown: extracted with
Babel from the portal's and the console's templates and Python code and from ``presentation``
(the describer and the emails) (``_``, ``gettext``, ``N_``, the console's ``tr``), plus the texts
that live as data (settings labels,
help and choices, catalogs, error templates), which Babel's extractor cannot see."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from dialgate import presentation
from dialgate.domain import catalogs
from dialgate.domain import settings as s
from dialgate.entrypoints.admin import console
from dialgate.entrypoints.portal import decision_words as dw
from dialgate.entrypoints.portal import i18n, messages, present, routes_dids, web

PORTAL = Path(i18n.__file__).parent
PRESENTATION = Path(presentation.__file__).parent
CONSOLE = Path(console.__file__).parent
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "tr": (2,)}
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extracted() -> set[str]:
    """The portal's msgids and the operator console's (same catalogs)."""
    ids: set[str] = set()
    for root in (PORTAL, PRESENTATION, CONSOLE):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(root), METHODS, keywords=KEYWORDS, options_map=OPTIONS
        ):
            for part in message if isinstance(message, tuple) else (message,):
                if part:
                    ids.add(part)
    return ids


def data_msgids() -> set[str]:
    ids = {spec.label for spec in (*s.SPECS, s.DESCRIPTION_SPEC)}
    ids |= {spec.help for spec in (*s.SPECS, s.DESCRIPTION_SPEC)}
    ids |= {label for spec in s.SPECS for label in (spec.choices or {}).values()}
    ids |= set(s.TAB_TITLES.values()) | {item.title for item in web.NAV}
    ids |= set(catalogs.ROUTING_HEADERS.values()) | set(catalogs.SYSTEM_ACTIONS.values())
    ids |= set(catalogs.DID_PLANS.values()) | set(present.POP_CITIES.values())
    ids |= {t for templates in messages.TEMPLATES.values() for t in templates}
    ids |= set(messages.CUSTOMER_WORDS.values())
    ids |= set(routes_dids.LABELS.values()) | set(routes_dids.HELP.values())
    for table in (dw.SKIPPED, dw.REASONS, dw.STEP_TITLES, dw.OUTCOMES, dw.CLASSES, dw.DECK_PARTS):
        ids |= set(table.values())
    ids |= {msgid for _pattern, msgid in dw.INVALID_DETAILS}
    ids |= {"The call is refused.", "Not needed for this call."}
    ids |= set(console.WORDS.values()) | set(console.DONE.values())
    return ids


def all_msgids() -> set[str]:
    return extracted() | data_msgids()


def translated(language: str) -> dict[str, str]:
    po = i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def missing(language: str) -> set[str]:
    return all_msgids() - set(translated(language))


if __name__ == "__main__":
    for lang in ("fr", "es"):
        for msgid in sorted(missing(lang)):
            print(f"{lang}\t{msgid!r}")

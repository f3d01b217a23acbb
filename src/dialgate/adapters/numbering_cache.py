"""The compiled numbering plan, kept on disk so a process does not rebuild it.

Compiling the plan (``numbering_data.compile_numbering_plan``) imports phonenumbers' geodata,
Babel's locales and the country-converter table and walks them: about a second of CPU, which a
CLI ``dialgate authorize`` used to pay on every call. The result is small (a few hundred area
codes and country codes), so it is written once as JSON and read back in milliseconds.

The file is trusted only when

- its key equals the current one: the versions of the libraries the plan comes from
  (phonenumbers, country-converter, Babel), a format number, and a digest of the modules that
  compile and shape it (so a code change invalidates it like a library upgrade does), and
- the SHA-256 written beside the body matches the body (a truncated or altered file is rebuilt).

Anything else (missing, stale, corrupted, unreadable) compiles the plan again and replaces the
file atomically; a cache directory that cannot be written only costs the compile. JSON, not
pickle: reading a file must never run code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from dialgate.adapters.files import write_atomically
from dialgate.domain.numbering import (
    CountryCodeInfo,
    CountryInfo,
    Matcher,
    NpaInfo,
    NumberClass,
    NumberingPlan,
    full_matcher,
    prefix_matcher,
)

log = logging.getLogger(__name__)

FORMAT = 1
FILE_NAME = "numbering-plan.json"
LIBRARIES = ("phonenumbers", "country_converter", "babel")
_HERE = Path(__file__).resolve().parent
# The code whose changes must invalidate the file: the compiler, its country data, the shapes.
_SOURCES = (
    _HERE / "numbering_data.py",
    _HERE / "geo.py",
    _HERE.parent / "domain" / "numbering.py",
)
_MATCHERS: Mapping[str, Callable[[str], Matcher]] = {
    "match": prefix_matcher, "fullmatch": full_matcher,
}


def current_key() -> dict[str, str]:
    """What the cached plan depends on."""
    digest = hashlib.sha256()
    for source in _SOURCES:
        digest.update(source.read_bytes())
    key = {"format": str(FORMAT), "code": digest.hexdigest()}
    for library in LIBRARIES:
        key[library] = metadata.version(library)
    return key


def load_plan(
    directory: Path, *, build: Callable[[], NumberingPlan], key: Mapping[str, str]
) -> NumberingPlan:
    """The plan from ``directory`` if its file is intact and made for ``key``; else ``build()``,
    written there for the next process."""
    path = directory / FILE_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        log.warning("numbering plan cache unreadable; rebuilding", extra={"error": str(exc)})
        raw = None
    if raw is not None:
        try:
            return _decode(raw, key)
        except _StaleError:
            log.info("numbering plan cache is for other library versions; rebuilding")
        except (ValueError, KeyError, TypeError, IndexError, re.error) as exc:
            log.warning("numbering plan cache corrupted; rebuilding",
                        extra={"error": type(exc).__name__})
    plan = build()
    try:
        write_atomically(path, _encode(plan, key))
    except OSError as exc:
        log.warning("numbering plan cache not written", extra={"error": str(exc)})
    return plan


@lru_cache(maxsize=1)
def numbering_plan() -> NumberingPlan:
    """The process's numbering plan: from the cache when it is current, else compiled (once)."""
    from dialgate import config

    def build() -> NumberingPlan:
        # Imported only here: loading phonenumbers' data is most of what the cache saves.
        from dialgate.adapters.numbering_data import compile_numbering_plan

        return compile_numbering_plan()

    return load_plan(Path(config.cache_dir()), build=build, key=current_key())


class _StaleError(Exception):
    pass


def _encode(plan: NumberingPlan, key: Mapping[str, str]) -> bytes:
    body = {
        "npa": {npa: [i.klass.value, i.country, i.region, i.name] for npa, i in plan.npa.items()},
        "country_codes": {
            code: [info.code, info.main, sorted(info.lengths),
                   [[*_matcher_source(m), region] for m, region in info.regions]]
            for code, info in plan.country_codes.items()
        },
        "countries": {iso: [c.code, c.name, c.region] for iso, c in plan.countries.items()},
    }
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    head = json.dumps({"key": dict(key), "sha256": hashlib.sha256(data).hexdigest()},
                      sort_keys=True).encode()
    return head + b"\n" + data


def _matcher_source(matcher: Matcher) -> tuple[str, str]:
    """(``match`` or ``fullmatch``, pattern) of a matcher made by ``prefix_matcher`` or
    ``full_matcher``: a bound method of a compiled pattern."""
    pattern = getattr(matcher, "__self__", None)
    kind = getattr(matcher, "__name__", "")
    if not isinstance(pattern, re.Pattern) or kind not in _MATCHERS:
        raise TypeError(f"cannot store the matcher {matcher!r}")
    return kind, str(pattern.pattern)


def _decode(raw: bytes, key: Mapping[str, str]) -> NumberingPlan:
    head, newline, data = raw.partition(b"\n")
    if not newline:
        raise ValueError("no header line")
    header = json.loads(head)
    if header["key"] != dict(key):
        raise _StaleError
    if hashlib.sha256(data).hexdigest() != header["sha256"]:
        raise ValueError("checksum mismatch")
    body: dict[str, Any] = json.loads(data)
    npa = {
        code: NpaInfo(NumberClass(klass), country, region, name)
        for code, (klass, country, region, name) in body["npa"].items()
    }
    country_codes = {
        code: CountryCodeInfo(
            cc, main, frozenset(int(n) for n in lengths),
            tuple((_MATCHERS[kind](pattern), region) for kind, pattern, region in regions),
        )
        for code, (cc, main, lengths, regions) in body["country_codes"].items()
    }
    countries = {
        iso: CountryInfo(code, name, region)
        for iso, (code, name, region) in body["countries"].items()
    }
    return NumberingPlan(npa=npa, country_codes=country_codes, countries=countries)

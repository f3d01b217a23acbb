"""Rate deck CSVs as carriers send them: validated into columns, every bad row reported.

Accepted: ``,`` or ``;`` (or tab) delimiters, found from the header row; a header in any column
order with the common names (prefix/code/dial code, destination/description/name, rate/price/cost,
increment/billing increment); increments as ``60`` or ``initial/next`` (``60/60``, ``1/1``,
``30/6``). Columns with other names are ignored (carriers add effective dates, notes...).
Decoding (BOM, gzip, UTF-8) is the adapter's job: this module reads text lines and does no I/O.

All or nothing: every bad row is reported with its line number and rule in one
``ValidationFailed``; no columns are returned then.

The row loop is the import's hot path (a million rows must take a few seconds), so it checks
plain decimals and digits with string methods and falls back to ``Decimal`` only for unusual rate
spellings.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from dialgate.domain.deck import MAX_PREFIX, MAX_RATE_U, DeckColumns
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.domain.money import MAX_RATE_PER_MINUTE
from dialgate.domain.rating import DEFAULT_INCREMENT, Rate

MAX_FIELD = 256  # characters in any field
MAX_DESTINATION = 128
MAX_INCREMENT = 3600
# What spreadsheet programs run as a formula when the file is opened again (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Normalized header names (lower case, no spaces, "_" or "-") -> the column's role.
HEADER_NAMES = {
    **dict.fromkeys(
        ("prefix", "code", "dialcode", "dialingcode", "destinationcode", "areacode"), "prefix"
    ),
    **dict.fromkeys(
        ("destination", "description", "name", "destinationname", "country"), "destination"
    ),
    **dict.fromkeys(
        ("rate", "price", "cost", "rateperminute", "priceperminute", "ratemin", "perminute"),
        "rate",
    ),
    **dict.fromkeys(
        ("increment", "increments", "billingincrement", "billingincrements", "billing",
         "interval"),
        "increment",
    ),
}
REQUIRED = ("prefix", "destination", "rate")
_PAD = tuple("0" * (6 - k) for k in range(7))  # zeros that make k decimals micro-units


class _BadRowError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _normalized(name: str) -> str:
    name = name.strip().lstrip("\ufeff").lower()
    for ch in " _-/().$":
        name = name.replace(ch, "")
    return name


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for index, name in enumerate(header):
        role = HEADER_NAMES.get(_normalized(name))
        if role is None:
            continue
        if role in roles:
            raise ValidationFailed.single(
                "line 1", "invalid_header",
                f"two columns give the {role}: {header[roles[role]]!r} and {name!r}",
            )
        roles[role] = index
    missing = [role for role in REQUIRED if role not in roles]
    if missing:
        raise ValidationFailed.single(
            "line 1", "invalid_header",
            f"the header needs prefix, destination and rate columns (for example "
            f"prefix,destination,rate,increment); missing {', '.join(missing)} in {header}",
        )
    return roles


def parse_deck(
    lines: Iterable[str], *, progress: Callable[[int], None] | None = None
) -> DeckColumns:
    """Validate a deck CSV's lines (text, BOM allowed) into columns; ``ValidationFailed`` lists
    every bad row. ``progress`` hears the line number every 65,536 lines."""
    source = iter(lines)
    first = next(source, None)
    while first is not None and not first.strip().lstrip("\ufeff"):
        first = next(source, None)  # leading blank lines
    if first is None:
        raise ValidationFailed.single("line 1", "invalid_header", "the file is empty")
    # A field is never longer than its line: when no line is longer than MAX_FIELD (every real
    # deck), the per-row field length check is skipped (a tenth of the row loop's time).
    check_fields = not isinstance(lines, list) or max(map(len, lines), default=0) > MAX_FIELD
    reader = csv.reader(itertools.chain([first.lstrip("\ufeff")], source),
                        delimiter=_delimiter(first))
    roles = _columns(next(reader))
    header_lines = reader.line_num
    return _rows(reader, roles, header_lines, progress, check_fields=check_fields)


def _rows(
    reader: Any,
    roles: dict[str, int],
    header_lines: int,
    progress: Callable[[int], None] | None,
    *,
    check_fields: bool = True,
) -> DeckColumns:
    ip, idest, irate = roles["prefix"], roles["destination"], roles["rate"]
    iinc = roles.get("increment", -1)
    needed = max(ip, idest, irate) + 1
    cols = DeckColumns([], [], [], [], [], [], [])
    prefixes, rate_u, places_of = cols.prefixes, cols.rate_u, cols.places
    initial_of, increment_of, dest_of = cols.initial_s, cols.increment_s, cols.destination_of
    names: dict[str, int] = {}
    increments_seen: dict[str, tuple[int, int]] = {}
    lines: list[int] = []
    errors: list[FieldError] = []
    line = header_lines
    try:
        for row in reader:
            line = reader.line_num
            if progress is not None and not line & 0xFFFF:
                progress(line)
            try:
                if len(row) < needed:
                    if not any(c.strip() for c in row):
                        continue  # blank line
                    raise _BadRowError(
                        "wrong_columns", f"expected at least {needed} columns, got {len(row)}"
                    )
                if check_fields and max(map(len, row)) > MAX_FIELD:
                    raise _BadRowError(
                        "field_too_long", f"a field is longer than {MAX_FIELD} characters"
                    )
                prefix = row[ip].strip()
                if prefix[:1] == "+":
                    prefix = prefix[1:]
                if not (prefix.isdigit() and prefix.isascii()) or prefix[0] == "0" or len(
                    prefix
                ) > MAX_PREFIX:
                    if not prefix and not any(c.strip() for c in row):
                        continue  # a row of empty fields (",,,"), as spreadsheets save
                    raise _BadRowError(
                        "invalid_prefix",
                        f"prefix must be 1 to {MAX_PREFIX} digits starting with a country code;"
                        f" got {prefix!r}",
                    )
                destination = row[idest].strip()
                if not destination or len(destination) > MAX_DESTINATION:
                    raise _BadRowError(
                        "invalid_destination",
                        f"destination must be 1 to {MAX_DESTINATION} characters",
                    )
                if destination.startswith(FORMULA_START):
                    raise _BadRowError(
                        "formula_destination",
                        f"destination must not start with = + - @ (a spreadsheet formula); "
                        f"got {destination[:20]!r}",
                    )
                text = row[irate].strip()
                # The common spelling ("0.0125": at most 3 whole digits, so within
                # MAX_RATE_PER_MINUTE, and at most 6 decimals) inline, one int() call;
                # anything else through _rate, which reports what is wrong.
                whole, _dot, frac = text.partition(".")
                places = len(frac)
                if (0 < len(whole) <= 3 and places <= 6 and text.isascii()
                        and whole.isdigit() and (frac.isdigit() or not frac)):
                    micro = int(whole + frac + _PAD[places])
                else:
                    micro, places = _rate(text)
                raw_inc = row[iinc] if 0 <= iinc < len(row) else ""
                # A deck has a handful of distinct increments: parse each spelling once.
                pair = increments_seen.get(raw_inc)
                if pair is None:
                    pair = increments_seen[raw_inc] = _increments(raw_inc.strip())
                initial, increment = pair
            except _BadRowError as exc:
                errors.append(FieldError(f"line {line}", exc.code, exc.message))
                continue
            prefixes.append(prefix)
            rate_u.append(micro)
            places_of.append(places)
            initial_of.append(initial)
            increment_of.append(increment)
            index = names.get(destination)
            if index is None:
                index = names[destination] = len(names)
            dest_of.append(index)
            lines.append(line)
    except csv.Error as exc:  # an unterminated quote or a field over csv's own size limit
        errors.append(FieldError(f"line {reader.line_num}", "invalid_csv", str(exc)))
    if len(set(prefixes)) != len(prefixes):
        errors.extend(_duplicates(prefixes, lines))
        errors.sort(key=lambda e: int(e.field.split()[1]))
    if errors:
        raise ValidationFailed(errors)
    cols.destinations = list(names)
    return cols


def _duplicates(prefixes: list[str], lines: list[int]) -> list[FieldError]:
    first: dict[str, int] = {}
    errors = []
    for prefix, line in zip(prefixes, lines, strict=True):
        seen = first.setdefault(prefix, line)
        if seen != line:
            errors.append(FieldError(
                f"line {line}", "duplicate_prefix", f"prefix {prefix} already on line {seen}"
            ))
    return errors


def _rate(text: str) -> tuple[int, int]:
    """(micro-dollars, decimals written) of a rate in 0..999.999999 with at most 6 decimals.
    A decimal comma (``0,0125``, common in ``;`` files) is read as a decimal point."""
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")
    whole, _dot, frac = text.partition(".")
    if (
        text.isascii()
        and (whole.isdigit() or (not whole and frac))
        and (frac.isdigit() or not frac)
        and len(frac) <= 6
        and len(whole) <= 12
    ):
        micro = int(whole or "0") * 1_000_000 + (int(frac) * 10 ** (6 - len(frac)) if frac else 0)
        if micro <= MAX_RATE_U:
            return micro, len(frac)
        raise _BadRowError("invalid_rate", f"rate must be 0 to {MAX_RATE_PER_MINUTE}; got {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _BadRowError("invalid_rate", f"rate must be a number; got {text!r}") from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int) or -exponent > 6:
        raise _BadRowError(
            "invalid_rate", f"rate must be a number with at most 6 decimals; got {text!r}"
        )
    if not 0 <= value <= MAX_RATE_PER_MINUTE:
        raise _BadRowError("invalid_rate", f"rate must be 0 to {MAX_RATE_PER_MINUTE}; got {text!r}")
    return int(value.scaleb(6)), max(0, -exponent)


def _increments(text: str) -> tuple[int, int]:
    if not text:
        return DEFAULT_INCREMENT, DEFAULT_INCREMENT
    first, slash, second = text.partition("/")
    parts = (first.strip(), second.strip()) if slash else (first.strip(), first.strip())
    if all(p.isdigit() and p.isascii() and 1 <= int(p) <= MAX_INCREMENT for p in parts):
        return int(parts[0]), int(parts[1])
    raise _BadRowError(
        "invalid_increment",
        f"increment must be 1 to {MAX_INCREMENT} seconds, or initial/next like 30/6; "
        f"got {text!r}",
    )


def parse_deck_csv(lines: Iterable[str]) -> list[Rate]:
    """``parse_deck`` as ``Rate`` values (small decks: the demo data, tests)."""
    cols = parse_deck(lines)
    return [
        Rate(
            prefix,
            cols.destinations[cols.destination_of[i]],
            Decimal(cols.rate_u[i] // 10 ** (6 - cols.places[i])).scaleb(-cols.places[i]),
            cols.increment_s[i],
            initial_s=None if cols.initial_s[i] == cols.increment_s[i] else cols.initial_s[i],
        )
        for i, prefix in enumerate(cols.prefixes)
    ]

"""A compiled rate deck: longest-prefix match over up to millions of prefixes, in little memory.

Layout (chosen by measurement, see docs/architecture.md "Rate decks"):

- the prefixes are the keys of a static MARISA trie (``marisa-trie``): about 2.6 bytes a prefix
  for a million random international prefixes, and one C call (``iter_prefixes_with_ids``)
  returns every deck prefix of a dialed number with its key id;
- the rest of a row lives in typed arrays indexed by that key id: the rate in whole
  micro-dollars (uint32: at most 999.999999), the decimals it was written with, the initial and
  next billing increments (uint16) and the destination's number in a table of distinct
  destination names (UTF-8 bytes plus offsets).

No Python object exists per row: a ``Rate`` is made when a prefix is looked up and kept in a
small bounded cache. The whole deck serializes to one byte string (``to_bytes``) that is stored
once per deck version and loaded with zero-copy typed views (``from_bytes``), so a worker
(re)loads a million-row deck in a fraction of a second. The layout is canonical: the same rows in
any order give the same bytes, hence the same checksum.

A loaded deck's arrays are ``memoryview``s cast to the column's C type, not numpy arrays: reading
a deck then needs no numpy (about 0.15-0.2 s of import that every ``dialgate rates show`` and
``dialgate authorize`` used to pay), and indexing one gives a plain ``int`` (a numpy element is a
numpy scalar, slower to make and to convert). numpy is imported only to compile a deck and to
search it by destination.
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import marisa_trie

from dialgate.domain.money import MAX_RATE_PER_MINUTE, to_micros
from dialgate.domain.rating import DEFAULT_INCREMENT, Rate, to_micro

if TYPE_CHECKING:
    import mmap

    import numpy.typing as npt

MAX_PREFIX = 15  # E.164: a number has at most 15 digits, so a longer prefix never matches
MAX_RATE_U = to_micros(MAX_RATE_PER_MINUTE)  # fits the uint32 rate column
_MAGIC = b"DGDECK1\0"
_CACHE_LIMIT = 65_536  # Rates kept per deck; cleared when full (bounded, no LRU book-keeping)
# Numbers whose longest match is kept per deck, cleared when full like the Rates. A repeated
# number (redials, a PBX's usual destinations, a retry on another route) then costs one dict
# probe instead of a walk down the trie, which on a million-prefix trie is a few cache misses.
_NUMBER_CACHE_LIMIT = 16_384
_POW10 = tuple(10**k for k in range(7))
# The stored dtype of each column (numpy's spelling, kept so the bytes stay what they were) and
# the ``memoryview`` format that reads it. The stored form is little-endian.
_Format = Literal["I", "B", "H"]
_COLUMNS: dict[str, tuple[str, _Format]] = {
    "rate_u": ("<u4", "I"), "places": ("|u1", "B"), "initial": ("<u2", "H"),
    "increment": ("<u2", "H"), "destination_of": ("<u4", "I"), "dest_off": ("<u4", "I"),
}
_FORMAT: dict[str, _Format] = {dtype: fmt for dtype, fmt in _COLUMNS.values()}
_LITTLE = sys.byteorder == "little"


@dataclass(slots=True)
class DeckColumns:
    """A deck as columns, what the CSV parser produces: no object per row, so a million rows
    cost tens of megabytes while they are compiled, not a gigabyte."""

    prefixes: list[str]
    rate_u: list[int]  # whole micro-dollars per minute
    places: list[int]  # decimals the rate was written with (0..6), to show it as written
    initial_s: list[int]  # first billing increment
    increment_s: list[int]  # next billing increments
    destination_of: list[int]  # index into ``destinations``
    destinations: list[str]  # distinct destination names

    @classmethod
    def from_rates(cls, rates: Iterable[Rate]) -> DeckColumns:
        cols = cls([], [], [], [], [], [], [])
        names: dict[str, int] = {}
        for rate in rates:
            exponent = rate.per_minute.as_tuple().exponent
            places = min(6, max(0, -exponent)) if isinstance(exponent, int) else 6
            cols.prefixes.append(rate.prefix)
            cols.rate_u.append(to_micro(rate.per_minute))
            cols.places.append(places)
            cols.initial_s.append(rate.initial_s or rate.increment_s)
            cols.increment_s.append(rate.increment_s)
            index = names.setdefault(rate.destination, len(names))
            cols.destination_of.append(index)
        cols.destinations = list(names)
        return cols


class RateDeck:
    """One route's deck, immutable. ``lookup`` is safe from any number of threads."""

    __slots__ = (
        "_buffer", "_by_number", "_cache", "_dest_buf", "_dest_off", "_destination_of",
        "_increment", "_initial", "_places", "_rate_u", "_trie", "route",
    )

    def __init__(
        self,
        route: str,
        trie: marisa_trie.Trie,
        arrays: Mapping[str, memoryview],
        dest_buf: bytes,
        buffer: object = None,
    ) -> None:
        self.route = route
        # The bytes the trie and arrays are views of (``from_bytes``): kept alive with the deck.
        self._buffer = buffer
        self._trie = trie
        self._rate_u = arrays["rate_u"]
        self._places = arrays["places"]
        self._initial = arrays["initial"]
        self._increment = arrays["increment"]
        self._destination_of = arrays["destination_of"]
        self._dest_off = arrays["dest_off"]
        self._dest_buf = dest_buf
        self._cache: dict[int, Rate] = {}
        self._by_number: dict[str, Rate | None] = {}

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def build(cls, route: str, rates: Iterable[Rate]) -> RateDeck:
        """A deck from ``Rate`` values (small decks, tests); ``ValueError`` on a duplicate."""
        return cls.compile(route, DeckColumns.from_rates(rates))

    @classmethod
    def compile(cls, route: str, cols: DeckColumns) -> RateDeck:
        """Compile validated columns; ``ValueError`` if a prefix appears twice."""
        import numpy as np  # only to compile: loading and reading a deck need none

        n = len(cols.prefixes)
        trie = marisa_trie.Trie(cols.prefixes)
        if len(trie) != n:
            seen: set[str] = set()
            for prefix in cols.prefixes:
                if prefix in seen:
                    raise ValueError(f"duplicate prefix {prefix} in the {route} deck")
                seen.add(prefix)
        # row_of[key id] = the row that key came from: every array is reordered by key id.
        ids = np.fromiter(map(trie.key_id, cols.prefixes), dtype=np.int64, count=n)
        row_of = np.empty(n, dtype=np.int64)
        row_of[ids] = np.arange(n, dtype=np.int64)
        dest = np.asarray(cols.destination_of, dtype=np.uint32)[row_of]
        # Number the destinations by first use in key-id order, so equal decks are equal bytes.
        used, first, inverse = np.unique(dest, return_index=True, return_inverse=True)
        rank = np.argsort(first, kind="stable")
        relabel = np.empty(len(used), dtype=np.uint32)
        relabel[rank] = np.arange(len(used), dtype=np.uint32)
        encoded = [cols.destinations[int(used[k])].encode() for k in rank]
        offsets = np.zeros(len(encoded) + 1, dtype=np.uint32)
        if encoded:
            np.cumsum([len(e) for e in encoded], out=offsets[1:])
        columns: dict[str, npt.NDArray[Any]] = {
            "rate_u": np.asarray(cols.rate_u, dtype=np.uint32)[row_of],
            "places": np.asarray(cols.places, dtype=np.uint8)[row_of],
            "initial": np.asarray(cols.initial_s, dtype=np.uint16)[row_of],
            "increment": np.asarray(cols.increment_s, dtype=np.uint16)[row_of],
            "destination_of": relabel[inverse.reshape(-1)].astype(np.uint32),
            "dest_off": offsets,
        }
        arrays = {name: _typed(name, _COLUMNS[name][0], array.astype(_COLUMNS[name][0]).tobytes())
                  for name, array in columns.items()}
        return cls(route, trie, arrays, b"".join(encoded))

    # -- serialization -------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The deck as one byte string: magic, a JSON table of sections, 8-byte aligned parts."""
        parts: list[tuple[str, str, bytes]] = [("trie", "", self._trie.tobytes())]
        for name, (dtype, fmt) in _COLUMNS.items():
            array: memoryview = getattr(self, _ATTR[name])
            data = array.tobytes()
            if not _LITTLE and array.itemsize > 1:
                data = _swapped(data, fmt)
            parts.append((name, dtype, data))
        parts.append(("dest_buf", "", self._dest_buf))
        sections: list[tuple[str, str, int, int]] = []
        offset = 0
        for name, dtype, data in parts:
            sections.append((name, dtype, offset, len(data)))
            offset += _aligned(len(data))
        header = json.dumps({"sections": sections}).encode()
        head = _MAGIC + struct.pack("<I", len(header)) + header
        body = bytearray(_aligned(len(head)) + offset)
        body[: len(head)] = head
        base = _aligned(len(head))
        for (_name, _dtype, data), (_n, _d, start, _size) in zip(parts, sections, strict=True):
            body[base + start : base + start + len(data)] = data
        return bytes(body)

    @classmethod
    def from_bytes(cls, route: str, blob: bytes | mmap.mmap) -> RateDeck:
        """Load ``to_bytes`` output (bytes, or a memory-mapped file of them). The trie is mapped
        onto ``blob`` and the arrays are views of it: nothing is copied or parsed, so a worker
        swapping in a million-row deck holds the GIL for well under a millisecond here (the old
        ``frombytes`` copied and parsed the trie while requests waited)."""
        if blob[:8] != _MAGIC:
            raise ValueError("not a compiled rate deck")
        (size,) = struct.unpack_from("<I", blob, 8)
        header = json.loads(blob[12 : 12 + size])
        base = _aligned(12 + size)
        arrays: dict[str, memoryview] = {}
        trie = marisa_trie.Trie()
        dest_buf = b""
        view = memoryview(blob)
        for name, dtype, start, length in header["sections"]:
            chunk = view[base + start : base + start + length]
            if name == "trie":
                trie.map(chunk)
            elif name == "dest_buf":
                dest_buf = bytes(chunk)
            else:
                arrays[name] = _typed(name, dtype, chunk)
        return cls(route, trie, arrays, dest_buf, blob)

    # -- reading -------------------------------------------------------------------------------

    def lookup(self, digits: str) -> Rate | None:
        """The rate of the longest prefix of ``digits`` (E.164 digits, no "+")."""
        try:
            return self._by_number[digits]  # one probe (another thread may clear it: a miss)
        except KeyError:
            pass
        rate = self._longest(digits)
        if len(self._by_number) >= _NUMBER_CACHE_LIMIT:
            self._by_number.clear()
        self._by_number[digits] = rate
        return rate

    def _longest(self, digits: str) -> Rate | None:
        key_id = -1
        # Prefixes come shortest first: the last one is the longest match.
        for _prefix, found in self._trie.iter_prefixes_with_ids(digits):
            key_id = found
        if key_id < 0:
            return None
        rate = self._cache.get(key_id)
        if rate is None:
            rate = self._rate(key_id)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key_id] = rate
        return rate

    def _rate(self, key_id: int) -> Rate:
        places = self._places[key_id]  # the typed views give plain ints
        # Exact: the parser keeps ``places`` decimals, so the micro value divides evenly.
        per_minute = Decimal(self._rate_u[key_id] // _POW10[6 - places]).scaleb(-places)
        increment = self._increment[key_id]
        initial = self._initial[key_id]
        return Rate(
            self._trie.restore_key(key_id),
            self.destination_name(self._destination_of[key_id]),
            per_minute,
            increment,
            initial_s=None if initial == increment else initial,
        )

    def destination_name(self, index: int) -> str:
        start, end = self._dest_off[index], self._dest_off[index + 1]
        return self._dest_buf[start:end].decode()

    def __len__(self) -> int:
        return len(self._trie)

    def __contains__(self, prefix: object) -> bool:
        return isinstance(prefix, str) and prefix in self._trie

    @property
    def rates(self) -> Mapping[str, Rate]:
        """The deck as a read-only ``prefix -> Rate`` mapping (made on demand, not stored)."""
        return _DeckRates(self)

    def with_prefix(self, digits: str, *, limit: int) -> list[Rate]:
        """The rates whose prefix starts with ``digits``, by prefix, at most ``limit``."""
        return [self._rate(self._trie.key_id(k)) for k in sorted(self._trie.keys(digits))[:limit]]

    def with_destination(self, text: str, *, limit: int) -> list[Rate]:
        """The rates whose destination contains ``text`` (any case), by prefix, at most
        ``limit``."""
        import numpy as np  # a scan of every row: vectorized (a search, not the call path)

        needle = text.casefold()
        names = range(len(self._dest_off) - 1)
        wanted = [i for i in names if needle in self.destination_name(i).casefold()]
        if not wanted:
            return []
        of = np.frombuffer(self._destination_of, dtype=np.uint32)
        ids = np.flatnonzero(np.isin(of, np.asarray(wanted, dtype=np.uint32)))
        keys = sorted(self._trie.restore_key(int(i)) for i in ids)[:limit]
        return [self._rate(self._trie.key_id(k)) for k in keys]

    def memory_bytes(self) -> int:
        """What the compiled deck holds (trie + arrays + names), for benchmarks and logs."""
        arrays = (self._rate_u, self._places, self._initial, self._increment,
                  self._destination_of, self._dest_off)
        return len(self._trie.tobytes()) + sum(a.nbytes for a in arrays) + len(self._dest_buf)


_ATTR = {
    "rate_u": "_rate_u", "places": "_places", "initial": "_initial", "increment": "_increment",
    "destination_of": "_destination_of", "dest_off": "_dest_off",
}


def _aligned(size: int) -> int:
    return (size + 7) & ~7


def _typed(name: str, dtype: str, data: bytes | memoryview) -> memoryview:
    """A column's stored bytes as a typed, read-only view (no copy on a little-endian host)."""
    fmt = _FORMAT.get(dtype)
    if fmt is None or _COLUMNS[name][0] != dtype:
        raise ValueError(f"the {name} column has an unknown type {dtype!r}")
    view = memoryview(data)
    if not _LITTLE and view.nbytes and fmt != "B":
        view = memoryview(_swapped(view.tobytes(), fmt))
    return view.cast("B").cast(fmt)


def _swapped(data: bytes, fmt: _Format) -> bytes:
    """Little-endian <-> this big-endian host's order (the stored form is little-endian)."""
    import array

    values = array.array(fmt, data)
    values.byteswap()
    return values.tobytes()


class _DeckRates(Mapping[str, Rate]):
    __slots__ = ("_deck",)

    def __init__(self, deck: RateDeck) -> None:
        self._deck = deck

    def __getitem__(self, prefix: str) -> Rate:
        trie = self._deck._trie
        if prefix not in trie:
            raise KeyError(prefix)
        return self._deck._rate(trie.key_id(prefix))

    def __iter__(self) -> Iterator[str]:
        return iter(self._deck._trie.keys())

    def __len__(self) -> int:
        return len(self._deck)


__all__ = ["DEFAULT_INCREMENT", "MAX_PREFIX", "MAX_RATE_U", "DeckColumns", "RateDeck"]

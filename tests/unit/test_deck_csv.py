"""Rate deck files as carriers send them: every accepted format and every rejection (with its
line number and rule), through the file reader and the CSV validator."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from dialgate.adapters.rate_files import read_deck_lines
from dialgate.domain.deck import DeckColumns
from dialgate.domain.deck_csv import parse_deck
from dialgate.domain.errors import ValidationFailed


def _rows(cols: DeckColumns) -> list[tuple[str, str, int, int, int]]:
    return [
        (p, cols.destinations[cols.destination_of[i]], cols.rate_u[i], cols.initial_s[i],
         cols.increment_s[i])
        for i, p in enumerate(cols.prefixes)
    ]


def _read(tmp_path: Path, data: bytes, name: str = "deck.csv") -> DeckColumns:
    path = tmp_path / name
    path.write_bytes(data)
    return parse_deck(read_deck_lines(path))


def _errors(lines: list[str]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as info:
        parse_deck(lines)
    return [(e.field, e.code) for e in info.value.errors]


UK_FR = [("44", "United Kingdom", 12_000, 60, 60), ("33", "France", 11_000, 60, 60)]


def test_the_documented_header_with_commas(tmp_path: Path) -> None:
    data = b"prefix,destination,rate,increment\n44,United Kingdom,0.012,60\n33,France,0.011,\n"
    assert _rows(_read(tmp_path, data)) == UK_FR


def test_a_utf8_bom_and_windows_line_ends(tmp_path: Path) -> None:
    data = "\ufeffprefix,destination,rate\r\n44,United Kingdom,0.012\r\n33,France,0.011\r\n"
    assert _rows(_read(tmp_path, data.encode())) == UK_FR


def test_semicolons_a_header_in_another_order_with_other_names_and_decimal_commas(
    tmp_path: Path,
) -> None:
    data = "Price;Dial Code;Description\n0,012;44;United Kingdom\n0,011;33;France\n"
    assert _rows(_read(tmp_path, data.encode())) == UK_FR


@pytest.mark.parametrize(
    "header",
    [
        "code,name,cost",
        "Dial code,Destination,Price",
        "dial_code,destination_name,rate_per_minute",
        "PREFIX,COUNTRY,PRICE PER MINUTE",
    ],
)
def test_common_header_names_are_recognized(header: str) -> None:
    cols = parse_deck([header, "44,United Kingdom,0.012", "33,France,0.011"])
    assert _rows(cols) == UK_FR


def test_tabs_separate_too() -> None:
    assert _rows(parse_deck(["prefix\tdestination\trate", "44\tUnited Kingdom\t0.012",
                             "33\tFrance\t0.011"])) == UK_FR


@pytest.mark.parametrize(
    ("written", "initial", "increment"),
    [("60/60", 60, 60), ("1/1", 1, 1), ("30/6", 30, 6), (" 30 / 6 ", 30, 6), ("6", 6, 6),
     ("", 60, 60)],
)
def test_initial_and_next_increments(written: str, initial: int, increment: int) -> None:
    cols = parse_deck(["code;destination;rate;billing increment", f"44;UK;0.01;{written}"])
    assert (cols.initial_s[0], cols.increment_s[0]) == (initial, increment)


def test_other_columns_and_blank_lines_are_ignored() -> None:
    cols = parse_deck([
        "", "effective date,prefix,notes,destination,rate", "2024-01-01,44,x,United Kingdom,0.012",
        "", "2024-01-01,33,,France,0.011", ",,,,",
    ])
    assert _rows(cols) == UK_FR


def test_a_gzipped_deck_is_read(tmp_path: Path) -> None:
    data = gzip.compress("\ufeffcode;name;price\n44;United Kingdom;0.012\n33;France;0.011\n"
                         .encode())
    assert _rows(_read(tmp_path, data, "deck.csv.gz")) == UK_FR


def test_rates_are_exact_in_micro_dollars_with_their_written_decimals() -> None:
    cols = parse_deck(["prefix,destination,rate", "44,A,0.000001", "45,B,999.999999", "46,C,5",
                       "47,D,.5", "48,E,1E-2", "49,F,0.0100"])
    assert cols.rate_u == [1, 999_999_999, 5_000_000, 500_000, 10_000, 10_000]
    assert cols.places == [6, 6, 0, 1, 2, 4]


def test_a_leading_plus_on_a_prefix_is_accepted() -> None:
    assert parse_deck(["prefix,destination,rate", "+44,UK,0.01"]).prefixes == ["44"]


# -- rejections -----------------------------------------------------------------------------


def test_every_bad_row_is_reported_with_its_line_number_and_rule() -> None:
    assert _errors([
        "prefix,destination,rate,increment",
        "44,United Kingdom,0.012,60",  # 2: fine
        "0044,Bad prefix,0.01,60",  # 3
        "1234567890123456,Too long,0.01,60",  # 4
        "33,France,abc,60",  # 5
        "49,Germany,-0.01,60",  # 6
        "52,Mexico,1000,60",  # 7
        "53,Cuba,0.0000001,60",  # 8
        "61,Australia,0.02,0",  # 9
        "62,Indonesia,0.02,30/0",  # 10
        "63,Philippines,0.02,3601",  # 11
        "44,Duplicate,0.02,60",  # 12
        "91,,0.02,60",  # 13
        "92," + "P" * 129 + ",0.02,60",  # 14
        "86,China",  # 15
        "=1+1,Formula prefix,0.01,60",  # 16
    ]) == [
        ("line 3", "invalid_prefix"), ("line 4", "invalid_prefix"), ("line 5", "invalid_rate"),
        ("line 6", "invalid_rate"), ("line 7", "invalid_rate"), ("line 8", "invalid_rate"),
        ("line 9", "invalid_increment"), ("line 10", "invalid_increment"),
        ("line 11", "invalid_increment"), ("line 12", "duplicate_prefix"),
        ("line 13", "invalid_destination"), ("line 14", "invalid_destination"),
        ("line 15", "wrong_columns"), ("line 16", "invalid_prefix"),
    ]


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_formula_like_destination_is_rejected(start: str) -> None:
    errors = _errors(["prefix,destination,rate", "44,UK,0.01", f"33,{start}HYPERLINK(x),0.01"])
    assert errors == [("line 3", "formula_destination")]


def test_a_field_over_the_size_limit_is_rejected() -> None:
    assert _errors(["prefix,destination,rate,notes", "44,UK,0.01," + "x" * 300]) == [
        ("line 2", "field_too_long")
    ]


def test_duplicate_prefixes_name_the_first_line() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_deck(["prefix,destination,rate", "44,UK,0.01", "33,FR,0.01", "44,UK again,0.02"])
    [error] = info.value.errors
    assert (error.field, error.code) == ("line 4", "duplicate_prefix")
    assert "already on line 2" in error.message


def test_non_utf8_lines_are_each_reported(tmp_path: Path) -> None:
    data = b"prefix,destination,rate\n44,UK,0.01\n" + b"49,M\xfcnchen,0.01\n" + \
        b"33,Fran\xe7e,0.01\n"
    path = tmp_path / "latin1.csv"
    path.write_bytes(data)
    with pytest.raises(ValidationFailed) as info:
        read_deck_lines(path)
    assert [(e.field, e.code) for e in info.value.errors] == [
        ("line 3", "invalid_encoding"), ("line 4", "invalid_encoding")
    ]


def test_a_broken_gzip_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "deck.csv.gz"
    path.write_bytes(gzip.compress(b"prefix,destination,rate\n44,UK,0.01\n")[:-8])
    with pytest.raises(ValidationFailed) as info:
        read_deck_lines(path)
    assert info.value.errors[0].code == "invalid_gzip"


def test_a_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as info:
        read_deck_lines(tmp_path / "nope.csv")
    assert info.value.errors[0].code == "not_found"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "empty"),
        (["", "  "], "empty"),
        (["dial,label,amount", "44,UK,0.01"], "missing prefix, destination, rate"),
        (["prefix,rate", "44,0.01"], "missing destination"),
        (["prefix,code,destination,rate", "44,44,UK,0.01"], "two columns give the prefix"),
    ],
)
def test_a_header_without_the_needed_columns_is_rejected(lines: list[str], message: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_deck(lines)
    [error] = info.value.errors
    assert (error.field, error.code) == ("line 1", "invalid_header")
    assert message in error.message


def test_an_unterminated_quote_is_reported_not_raised() -> None:
    errors = _errors(["prefix,destination,rate", "44,UK,0.01", '33,"France,0.01'])
    assert errors[-1][1] in ("invalid_csv", "wrong_columns")


# -- the fast paths give what the general rules give -------------------------------------------


@pytest.mark.parametrize(
    ("written", "micro", "places"),
    [("5", 5_000_000, 0), ("5.", 5_000_000, 0), ("0.0125", 12_500, 4),
     ("999.999999", 999_999_999, 6), ("000.5", 500_000, 1), ("0012.5", 12_500_000, 1),
     ("0,5", 500_000, 1), ("1e-2", 10_000, 2)],
)
def test_rate_spellings_give_exact_micro_units(written: str, micro: int, places: int) -> None:
    cols = parse_deck(["prefix;destination;rate", f"44;UK;{written}"])
    assert (cols.rate_u, cols.places) == ([micro], [places])


@pytest.mark.parametrize("written", ["0.0000001", "1000", "1000.0", "-0.5", "0x10", "nan",
                                     "1.2.3", "", "1.5e-7"])
def test_rate_spellings_outside_the_rules_are_rejected(written: str) -> None:
    assert _errors(["prefix;destination;rate", f"44;UK;{written}"]) == [("line 2", "invalid_rate")]


def test_random_rates_match_decimal_arithmetic() -> None:
    import random
    from decimal import Decimal

    rng = random.Random(11)
    written = [f"{rng.randint(0, 999)}.{rng.randint(0, 10**6 - 1):06d}"[: rng.randint(1, 10)]
               .rstrip(".") or "0" for _ in range(2000)]
    lines = ["prefix,destination,rate"] + [f"{100 + i},X,{w}" for i, w in enumerate(written)]
    cols = parse_deck(lines)
    assert cols.rate_u == [int(Decimal(w) * 1_000_000) for w in written]


def test_a_long_field_is_found_when_the_lines_come_from_an_iterator() -> None:
    lines = iter(["prefix,destination,rate,notes", "44,UK,0.01," + "x" * 300])
    with pytest.raises(ValidationFailed) as info:
        parse_deck(lines)
    assert [(e.field, e.code) for e in info.value.errors] == [("line 2", "field_too_long")]


def test_line_ends_lf_crlf_and_a_last_lone_cr(tmp_path: Path) -> None:
    data = b"prefix,destination,rate\r\n44,United Kingdom,0.012\n33,France,0.011\r"
    assert _rows(_read(tmp_path, data)) == UK_FR


def test_a_carriage_return_inside_a_quoted_field_is_data(tmp_path: Path) -> None:
    path = tmp_path / "deck.csv"
    path.write_bytes(b'prefix,destination,rate\r\n44,"United\rKingdom",0.012\r\n')
    assert read_deck_lines(path) == ["prefix,destination,rate", '44,"United\rKingdom",0.012']

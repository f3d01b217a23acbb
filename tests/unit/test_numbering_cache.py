"""The numbering plan cache: read back equal to a fresh compile, and never trusted when stale or
damaged (then rebuilt and rewritten)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import phonenumbers
import pytest

from dialgate.adapters import numbering_cache
from dialgate.adapters.numbering_data import compile_numbering_plan
from dialgate.domain.numbering import NumberingPlan, classify, normalize


def _fresh() -> NumberingPlan:
    return compile_numbering_plan()


def _refuse() -> NumberingPlan:
    raise AssertionError("the plan was rebuilt although the cache file is current and intact")


def _numbers() -> list[str]:
    """Every NANP area code, and phonenumbers' example numbers of every type in every region
    (so every region-sharing country code's matchers are exercised)."""
    numbers = [f"+1{npa}2345678" for npa in range(200, 1000)]
    numbers += [f"+1{npa}5551212" for npa in (212, 416, 907)]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE,
                     phonenumbers.PhoneNumberType.TOLL_FREE, phonenumbers.PhoneNumberType.VOIP):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(phonenumbers.format_number(
                    example, phonenumbers.PhoneNumberFormat.E164))
    numbers += ["+99912345", "+4412", "+8702345678"]  # no such code, wrong length, non-geo
    return numbers


def _same_decisions(a: NumberingPlan, b: NumberingPlan) -> None:
    for number in _numbers():
        dialed = normalize(number, "e164")
        assert classify(dialed, a) == classify(dialed, b), number


def _key(**changes: str) -> dict[str, str]:
    return {**numbering_cache.current_key(), **changes}


def test_first_use_writes_the_file_and_the_next_reads_it_without_compiling(
    tmp_path: Path,
) -> None:
    key = _key()
    built = numbering_cache.load_plan(tmp_path, build=_fresh, key=key)
    assert (tmp_path / numbering_cache.FILE_NAME).is_file()
    cached = numbering_cache.load_plan(tmp_path, build=_refuse, key=key)
    assert cached.npa == built.npa
    assert cached.countries == built.countries
    assert cached.country_codes.keys() == built.country_codes.keys()
    _same_decisions(cached, _fresh())


def test_key_names_the_libraries_and_the_code() -> None:
    key = numbering_cache.current_key()
    assert key["phonenumbers"] == phonenumbers.__version__
    assert {"country_converter", "babel", "format", "code"} <= key.keys()


@pytest.mark.parametrize("library", ["phonenumbers", "country_converter", "babel", "code"])
def test_a_library_or_code_change_invalidates_the_file(tmp_path: Path, library: str) -> None:
    numbering_cache.load_plan(tmp_path, build=_fresh, key=_key())
    calls: list[int] = []

    def build() -> NumberingPlan:
        calls.append(1)
        return _fresh()

    upgraded = _key(**{library: "0.0.0-other"})
    plan = numbering_cache.load_plan(tmp_path, build=build, key=upgraded)
    assert calls == [1]
    _same_decisions(plan, _fresh())
    # Rewritten for the new key: the next process reads it.
    numbering_cache.load_plan(tmp_path, build=_refuse, key=upgraded)


def _flip_byte(data: bytes) -> bytes:
    middle = len(data) - 200  # inside the body, after the header line
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(_flip_byte, id="one-bit-flipped"),
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: b"\x80\x00not json\n{}", id="garbage"),
        pytest.param(lambda d: d.split(b"\n", 1)[0] + b"\n" + json.dumps(
            {"npa": {}, "country_codes": {}, "countries": {}}).encode(), id="other-body"),
    ],
)
def test_a_damaged_file_is_rebuilt_not_trusted(tmp_path: Path, damage: object) -> None:
    key = _key()
    numbering_cache.load_plan(tmp_path, build=_fresh, key=key)
    path = tmp_path / numbering_cache.FILE_NAME
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    calls: list[int] = []

    def build() -> NumberingPlan:
        calls.append(1)
        return _fresh()

    plan = numbering_cache.load_plan(tmp_path, build=build, key=key)
    assert calls == [1]
    _same_decisions(plan, _fresh())
    numbering_cache.load_plan(tmp_path, build=_refuse, key=key)  # the file was repaired


def test_a_cache_folder_that_cannot_be_written_only_costs_the_compile(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    plan = numbering_cache.load_plan(blocker / "cache", build=_fresh, key=_key())
    assert len(plan.npa) > 300
    assert not (blocker / "cache").exists()
    assert os.listdir(tmp_path) == ["not-a-folder"]


def test_cache_folder_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from dialgate import config

    monkeypatch.setenv("DIALGATE_CACHE_DIR", "/srv/dialgate-cache")
    assert config.cache_dir() == "/srv/dialgate-cache"
    monkeypatch.delenv("DIALGATE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/home/someone/.xdg-cache")
    assert config.cache_dir() == "/home/someone/.xdg-cache/dialgate"

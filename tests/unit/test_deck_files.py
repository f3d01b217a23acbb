"""The host's deck files: a compiled deck version kept under its checksum and memory-mapped by
every later process, never trusted when it does not match, never required."""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
from decimal import Decimal
from pathlib import Path

import pytest

from dialgate.adapters import deck_files
from dialgate.domain.deck import RateDeck
from dialgate.domain.rating import Rate

DECK = RateDeck.build("value", [Rate("44", "United Kingdom", Decimal("0.02")),
                                Rate("447", "United Kingdom - Mobile", Decimal("0.05"))])
BLOB = DECK.to_bytes()
CHECKSUM = hashlib.sha256(BLOB).hexdigest()


class Reads:
    """The database side: counts how often the bytes are read from it."""

    def __init__(self, blob: bytes | None = BLOB) -> None:
        self.blob, self.count = blob, 0

    def __call__(self) -> bytes | None:
        self.count += 1
        return self.blob


def test_the_first_process_reads_the_database_and_the_next_maps_the_file(tmp_path: Path) -> None:
    first, later = Reads(), Reads()
    got = deck_files.deck_bytes(CHECKSUM, first, cache_dir=tmp_path)
    again = deck_files.deck_bytes(CHECKSUM, later, cache_dir=tmp_path)
    assert (first.count, later.count) == (1, 0)
    assert isinstance(again, mmap.mmap) and again[:] == BLOB
    assert (tmp_path / "decks" / f"{CHECKSUM}.deck").read_bytes() == BLOB
    assert got is not None and got[:] == BLOB
    mapped = RateDeck.from_bytes("value", again)
    assert mapped.lookup("447911123456") == DECK.lookup("447911123456")
    assert mapped.lookup("441234") == Rate("44", "United Kingdom", Decimal("0.02"))


def test_bytes_that_do_not_match_their_checksum_are_used_but_never_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = hashlib.sha256(b"another deck").hexdigest()
    with caplog.at_level(logging.WARNING):
        got = deck_files.deck_bytes(other, Reads(), cache_dir=tmp_path)
    assert got == BLOB
    assert not (tmp_path / "decks" / f"{other}.deck").exists()
    assert "do not match their checksum" in caplog.text


def test_a_version_without_bytes_is_none_and_leaves_no_file(tmp_path: Path) -> None:
    assert deck_files.deck_bytes(CHECKSUM, Reads(None), cache_dir=tmp_path) is None
    assert not (tmp_path / "decks" / f"{CHECKSUM}.deck").exists()


def test_a_folder_that_cannot_be_written_only_costs_the_database_read(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    reads = Reads()
    assert deck_files.deck_bytes(CHECKSUM, reads, cache_dir=blocked) == BLOB
    assert deck_files.deck_bytes(CHECKSUM, reads, cache_dir=blocked) == BLOB
    assert reads.count == 2


def test_an_empty_file_is_replaced_from_the_database(tmp_path: Path) -> None:
    path = deck_files.deck_path(tmp_path, CHECKSUM)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    reads = Reads()
    got = deck_files.deck_bytes(CHECKSUM, reads, cache_dir=tmp_path)
    assert reads.count == 1 and got is not None and got[:] == BLOB
    assert path.read_bytes() == BLOB


@pytest.mark.parametrize("name", ["../../etc/passwd", "ABC", "0" * 63, "g" * 64, ""])
def test_only_a_sha256_names_a_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a SHA-256 checksum"):
        deck_files.deck_bytes(name, Reads(), cache_dir=tmp_path)
    assert not (tmp_path / "decks").exists()


def test_pruning_keeps_the_newest_files_and_a_mapped_deck_outlives_its_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "decks"
    mapped = deck_files.deck_bytes(CHECKSUM, Reads(), cache_dir=tmp_path)
    assert isinstance(mapped, mmap.mmap)
    deck = RateDeck.from_bytes("value", mapped)
    os.utime(folder / f"{CHECKSUM}.deck", ns=(1, 1))  # the oldest file
    for n in range(deck_files.KEEP):
        blob = RateDeck.build("value", [Rate(str(40 + n), "x", Decimal(n))]).to_bytes()
        deck_files.deck_bytes(hashlib.sha256(blob).hexdigest(), Reads(blob), cache_dir=tmp_path)
    kept = sorted(p.name for p in folder.glob("*.deck"))
    assert len(kept) == deck_files.KEEP and f"{CHECKSUM}.deck" not in kept
    assert not list(folder.glob(".*.tmp"))
    # The process that mapped the removed file still answers from it.
    assert deck.lookup("447911123456") == DECK.lookup("447911123456")

"""The music-on-hold files rtpengine plays: one small WAV per class, generated here.

They are not recordings: each class is a two-second loop of four sine tones (an arpeggio whose
root note is set by the class's position in the catalog), written with the standard library's
``wave`` module as 8 kHz, 8-bit mono PCM, about 16 kB each. The shipped copies in
``dialgate/data/moh/`` were made by ``write_moh_files`` (``dialgate switch moh-files DIR``
writes them again anywhere), and a test checks they are byte for byte what it produces.
"""

from __future__ import annotations

import math
import wave
from importlib.resources import files
from pathlib import Path

from dialgate.domain.catalogs import MUSIC_ON_HOLD

RATE = 8000
SECONDS = 2
# Semitone steps of the arpeggio (major chord and its octave).
_STEPS = (0, 4, 7, 12)


def shipped_moh_dir() -> Path:
    """Where the installed package keeps the generated files (``--moh-dir`` default)."""
    return Path(str(files("dialgate") / "data" / "moh"))


def moh_samples(index: int) -> bytes:
    """Two seconds of 8-bit unsigned PCM for the class at ``index`` in the catalog."""
    root = 220.0 * 2 ** (index / 12)  # A3 and up a semitone per class
    per_note = RATE * SECONDS // len(_STEPS)
    out = bytearray()
    for step in _STEPS:
        freq = root * 2 ** (step / 12)
        for n in range(per_note):
            # Short fade in/out per note so the loop has no clicks.
            envelope = min(1.0, n / 200, (per_note - n) / 200)
            value = 0.4 * envelope * math.sin(2 * math.pi * freq * n / RATE)
            out.append(128 + round(127 * value))
    return bytes(out)


def write_moh_files(directory: Path) -> list[Path]:
    """Write ``<class>.wav`` for every music-on-hold class; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index, moh in enumerate(MUSIC_ON_HOLD):
        path = directory / f"{moh.key}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(1)
            out.setframerate(RATE)
            out.writeframes(moh_samples(index))
        written.append(path)
    return written

"""The portal's name for ``presentation.words``: one describer of values for the portal and the
notification emails (moved there so that services can use it without importing the portal)."""

from __future__ import annotations

from dialgate.presentation.i18n import N_
from dialgate.presentation.words import (
    AUDIT_WORDS,
    EXTRA_KEY_LABELS,
    POP_CITIES,
    ROUTING_SETTING_KEYS,
    SUB_HELP,
    SUB_LABELS,
    Choice,
    TargetType,
    Words,
    kind_of,
    words_for,
)

__all__ = [
    "AUDIT_WORDS",
    "EXTRA_KEY_LABELS",
    "N_",
    "POP_CITIES",
    "ROUTING_SETTING_KEYS",
    "SUB_HELP",
    "SUB_LABELS",
    "Choice",
    "TargetType",
    "Words",
    "kind_of",
    "words_for",
]

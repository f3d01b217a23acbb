"""Catalogs of the choices a customer can make: POPs, music on hold, codecs, DTMF modes, ...

These are the provider's own offerings (its servers, its music library), so they are data here.
Countries and their regions are *not* typed here: ``adapters.geo`` loads them from CLDR (Babel)
and the country-converter data set.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Region(StrEnum):
    AFRICA = "Africa"
    AMERICAS = "Americas"
    ASIA = "Asia"
    EUROPE = "Europe"
    OCEANIA = "Oceania"


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166 alpha-2
    region: Region
    calling_code: int
    names: dict[str, str]  # language -> localized name (CLDR)

    def name(self, language: str = "en") -> str:
        return self.names.get(language) or self.names["en"]


@dataclass(frozen=True, slots=True)
class Pop:
    name: str  # e.g. montreal1
    id: int
    city: str
    hostname: str
    country: str  # ISO alpha-2 of the server's location; decides the toll-free carrier


# The provider's points of presence. Houston carries id 1, as in the VoIP.ms API samples.
DEFAULT_POPS: tuple[Pop, ...] = (
    Pop("houston1", 1, "Houston, TX", "houston1.dialgate.test", "US"),
    Pop("montreal1", 2, "Montreal, QC", "montreal1.dialgate.test", "CA"),
    Pop("toronto1", 3, "Toronto, ON", "toronto1.dialgate.test", "CA"),
    Pop("vancouver1", 4, "Vancouver, BC", "vancouver1.dialgate.test", "CA"),
    Pop("seattle1", 5, "Seattle, WA", "seattle1.dialgate.test", "US"),
    Pop("newyork1", 6, "New York, NY", "newyork1.dialgate.test", "US"),
    Pop("chicago1", 7, "Chicago, IL", "chicago1.dialgate.test", "US"),
    Pop("dallas1", 8, "Dallas, TX", "dallas1.dialgate.test", "US"),
    Pop("losangeles1", 9, "Los Angeles, CA", "losangeles1.dialgate.test", "US"),
    Pop("atlanta1", 10, "Atlanta, GA", "atlanta1.dialgate.test", "US"),
    Pop("london1", 11, "London, UK", "london1.dialgate.test", "GB"),
    Pop("paris1", 12, "Paris, France", "paris1.dialgate.test", "FR"),
    Pop("amsterdam1", 13, "Amsterdam, Netherlands", "amsterdam1.dialgate.test", "NL"),
)


@dataclass(frozen=True, slots=True)
class MusicOnHold:
    key: str
    label: str
    test_code: str  # what the customer dials to hear it (seed: ***89 .. ***100)
    description: str


MUSIC_ON_HOLD: tuple[MusicOnHold, ...] = (
    MusicOnHold(
        "bleep",
        "No Music, Intermittent Bleep",
        "***100",
        "Silent, with a subtle intermittent bleep so callers know they are still on hold.",
    ),
    MusicOnHold(
        "tropics",
        "Away in the Tropics",
        "***89",
        "Ukulele, steel drums and steel guitars, from Hawaii to the Caribbean.",
    ),
    MusicOnHold(
        "coffee_sunrise",
        "Coffee and Sunrise",
        "***90",
        "Uplifting without being perky, positive without being too smiley.",
    ),
    MusicOnHold(
        "coffee_shop_acoustic",
        "Coffee Shop Acoustic",
        "***91",
        "Soothing acoustic guitar tracks for a relaxed atmosphere.",
    ),
    MusicOnHold("easy_listening", "Easy Listening", "***92", "Smooth, casual tunes."),
    MusicOnHold(
        "guitar_alchemy",
        "Guitar Alchemy",
        "***93",
        "Clever harmonics and progressive chord sequences.",
    ),
    MusicOnHold(
        "happy_endings",
        "Happy Endings",
        "***94",
        "Uplifting, commercial style: guitar, drums, ukulele, harmonica and bells.",
    ),
    MusicOnHold(
        "light_casual",
        "Light and Casual",
        "***95",
        "Soothing and peaceful songs with a light, positive feeling.",
    ),
    MusicOnHold(
        "orchestral_moods",
        "Orchestral Moods",
        "***96",
        "Emotional and dramatic tales spun by violins, pianos and full orchestras.",
    ),
    MusicOnHold("piano_mix", "Piano Mix", "***97", "Smooth piano."),
    MusicOnHold(
        "rock_me_easy", "Rock Me Easy", "***98", "Feel-good music for a relaxing atmosphere."
    ),
    MusicOnHold("spa_sounds", "Spa Sounds", "***99", "Soft, slow and serene instrumentals."),
)
MOH_BY_KEY = {m.key: m for m in MUSIC_ON_HOLD}
MOH_BY_TEST_CODE = {m.test_code: m for m in MUSIC_ON_HOLD}

ROUTES = {"value": "Value", "premium": "Premium"}
TOLLFREE_CARRIERS = {
    "server_default": "Server Default",
    "american": "American Carrier",
    "canadian": "Canadian Carrier",
}
DIALING_MODES = {"nanp": "North America (Recommended)", "e164": "E.164"}
PROTOCOLS = {"sip": "SIP", "iax2": "IAX2"}
DEVICE_TYPES = {
    "ata": "ATA device, IP Phone or Softphone",
    "pbx": "Asterisk, IP PBX, Gateway or VoIP Switch",
}
NAT_MODES = {"yes": "Yes", "no": "No", "route": "Route", "never": "Never"}
DTMF_MODES = {"auto": "Auto", "rfc2833": "RFC2833", "inband": "Inband", "info": "SIP INFO"}
CODECS = {"ulaw": "G.711u", "alaw": "G.711a", "g729": "G.729", "g722": "G.722 (HD)", "gsm": "GSM"}
DID_PLANS = {"per_minute": "Per Minute", "flat": "Flat Rate"}
SYSTEM_ACTIONS = {
    "hangup": "Hang up",
    "busy": "Busy signal",
    "noservice": "No service message",
    "disconnected": "Number disconnected message",
    "echo": "Echo test",
}
# DID routing headers (the VoIP.ms notation ``header:value``) and what each points at.
ROUTING_HEADERS = {
    "account": "Account or sub account",
    "vm": "Voicemail",
    "fwd": "Call forwarding",
    "ivr": "Digital receptionist (IVR)",
    "queue": "Calling queue",
    "grp": "Ring group",
    "tc": "Time condition",
    "sys": "System action",
    "none": "Nothing (hang up)",
}
LANGUAGES = {"en": "English", "fr": "Français", "es": "Español"}

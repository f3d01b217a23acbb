"""Domain error messages in the reader's language.

The domain speaks English with the offending values inlined ("must be between 60 and 86400
seconds; got 5"). A ``FieldError`` also carries its ``code`` and the quoted values as
``params``, so here each code has one or more English templates (the msgids of the catalogs);
the first template whose placeholders are exactly the error's params is translated and filled.
Messages without values are translated as they are; anything unknown stays in English, and
English readers get the domain's message itself.
"""

from __future__ import annotations

import re
from functools import lru_cache

from dialgate.domain.errors import FieldError
from dialgate.entrypoints.portal.i18n import DEFAULT_LANGUAGE
from dialgate.entrypoints.portal.web import gettext

TEMPLATES: dict[str, tuple[str, ...]] = {
    "out_of_range": (
        "must be between %(low)s and %(high)s %(unit)s; got %(value)s",
        "must be between %(low)s and %(high)s; got %(value)s",
        "must be at least %(low)s; got %(value)s",
    ),
    "invalid_choice": ("must be one of %(choices)s; got %(value)s",),
    "invalid_boolean": ("must be true/false, yes/no or 1/0; got %(value)s",),
    "invalid_integer": ("must be a whole number; got %(value)s",),
    "invalid_decimal": ("must be a number; got %(value)s",),
    "too_many_decimals": ("must have at most %(places)s decimals; got %(value)s",),
    "invalid_email": ("%(value)s is not a valid email address",),
    "invalid_ip": ("must be IPv4/IPv6 addresses, CIDR ranges or host names; not valid: %(value)s",),
    "invalid_country": (
        "must be ISO 3166 alpha-2 codes of dialable countries or ALL; not valid: %(value)s",
    ),
    "invalid_pop": ("must be a POP name from the catalog; got %(value)s",),
    "invalid_nanp_number": (
        "must be a 10-digit North American number (NPA-NXX-XXXX); got %(value)s",
    ),
    "invalid_callerid": (
        "must be a 10-digit North American number or E.164 digits (8 to 15); got %(value)s",
    ),
    "rtp_timeout_greater_than_rtp_hold_timeout": (
        "the RTP timeout (%(rtp_timeout)s) must be less than or equal to the RTP hold timeout "
        "(%(rtp_hold_timeout)s)",
    ),
    "missing_ip_restriction": (
        "list at least one IP address or range while the IP restriction is on",
    ),
    "missing_pop_restriction": ("choose at least one POP while the POP restriction is on",),
    "invalid_phonenumber": ("%(value)s cannot be forwarded to (dialing mode %(mode)s)",),
    "invalid_pause": ("must be 0 to 10 seconds in steps of 0.5; got %(value)s",),
    "forwarding_in_use": (
        "%(target)s cannot be deleted: %(users)s route to it; point them elsewhere first",
    ),
    "weak_password": (
        "must be at least 8 characters with an upper-case letter, a lower-case letter and a digit",
    ),
}
# Parameter values that are words, translated before they are filled in.
TRANSLATED_PARAMS = frozenset({"unit"})
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@lru_cache(maxsize=64)
def _placeholders(template: str) -> frozenset[str]:
    return frozenset(_PLACEHOLDER.findall(template))


def template_for(code: str, names: frozenset[str]) -> str | None:
    for template in TEMPLATES.get(code, ()):
        if _placeholders(template) == names:
            return template
    return None


# Codes whose domain message quotes internal notation (``vm:9999``): the portal says this instead.
CUSTOMER_WORDS = {
    "invalid_choice": "choose one of the options offered",
    "invalid_target": "choose where calls go from the lists",
    "unknown_target": "this destination does not exist on your account; choose another one",
    "wrong_password": "the current password is wrong",
    "invalid_username": "must be 1 to 12 letters or digits",
    "used_username": "this username is already used by another sub account",
    "account_with_dids": (
        "DIDs or the Default DID Routing still send calls to this sub account; route them "
        "elsewhere first"
    ),
}


def translate_error(language: str, err: FieldError) -> str:
    """``err`` said in ``language``: by code and params, else its message, else English."""
    if err.code in CUSTOMER_WORDS:
        return gettext(language, CUSTOMER_WORDS[err.code])
    if language == DEFAULT_LANGUAGE:
        return err.message  # the domain's own words are the English text
    params = dict(err.params)
    template = template_for(err.code, frozenset(params))
    translated = gettext(language, template) if template is not None else template
    if template is None or translated == template:
        return gettext(language, err.message)
    values = {k: gettext(language, v) if k in TRANSLATED_PARAMS else v for k, v in params.items()}
    return str(translated) % values

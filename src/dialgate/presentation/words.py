"""Customer words for stored values: neither the portal nor an email ever shows a settings key,
a choice code or a ``header:value`` routing target. Everything here returns text in the
reader's language. (The portal imports it as ``entrypoints.portal.present``.)

- ``Picker``: DID routing targets as a type (one entry per routing header, in
  ``catalogs.ROUTING_HEADERS`` order; a new kind of target is one entry there) plus, for that type,
  the account's targets by name.
- ``Words.value``: any setting's value as a customer reads it (choice labels, Yes/No, codec
  labels, POP cities, country names, money, seconds, targets).
- ``Words.actor`` / ``Words.key`` / ``Words.subject``: the Settings History's who, what and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal

from dialgate.adapters import geo
from dialgate.domain import catalogs, did_fields
from dialgate.domain import settings as s
from dialgate.domain import values as v
from dialgate.domain.names import Names
from dialgate.presentation import i18n
from dialgate.presentation.i18n import N_

POP_CITIES = {p.name: p.city for p in catalogs.DEFAULT_POPS}
ROUTING_SETTING_KEYS = (
    "did_routing",
    "did_failover_busy",
    "did_failover_unreachable",
    "did_failover_noanswer",
)

# Settings History rows that are not settings keys (the services' own audit keys) and the DID
# page's keys.
EXTRA_KEY_LABELS = {
    "subaccount": N_("Sub account"),
    "did": N_("DID number"),
    "account": N_("Account"),
    "account_enabled": N_("Account status"),
    "api_key": N_("API key"),
    "voipms_api": N_("VoIP.ms API"),
    "api_password": N_("API password"),
    "api_allowed_ips": N_("API allowed IP addresses"),
    "description": N_("Description"),
    "routing": N_("Routing"),
    "failover_busy": N_("Failover when busy"),
    "failover_unreachable": N_("Failover when unreachable"),
    "failover_noanswer": N_("Failover on no answer"),
    "pop": N_("DID POP"),
    "plan": N_("Select Plan"),
    "cnam_lookup": N_("CallerID Name Lookup"),
    "e911_enabled": N_("e911"),
    "dial_time": N_("Dial time"),
}
# Words the services write into the audit log's values.
AUDIT_WORDS = {
    "created": N_("created"),
    "deleted": N_("deleted"),
    "enabled": N_("enabled"),
    "disabled": N_("disabled"),
    "revoked": N_("revoked"),
}
# Labels a sub account's page uses instead of the main account's (the seed: sub accounts have
# their own SIP password and the Internal Extension Voicemail).
SUB_LABELS = {
    "sip_password": N_("SIP/IAX Password"),
    "voicemail": N_("Internal Extension Voicemail"),
}
SUB_HELP = {
    "sip_password": N_(
        "The password this sub account's device registers with. Empty keeps it unchanged. "
        "At least 8 characters with upper case, lower case and a digit."
    ),
    "voicemail": N_(
        "Dial *97 from this sub account to reach this mailbox without entering its number."
    ),
}


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class TargetType:
    header: str
    label: str
    choices: tuple[Choice, ...]  # empty for "none"


class Words:
    """Text for one reader: a language and the account's names."""

    def __init__(self, language: str, names: Names) -> None:
        self.language = language
        self.names = names

    def _(self, message: str) -> str:
        return i18n.gettext(self.language, message)

    # --- routing targets ---------------------------------------------------------------------

    def target_choice(self, header: str, ref: str) -> str:
        _ = self._
        name = self.names.name_of(header, ref)
        if header == "account":
            if ref == self.names.account:
                return _("Main account (%(number)s)") % {"number": ref}
            username = ref.partition("_")[2] or ref
            if name:
                return _("Sub account %(name)s (%(description)s)") % {
                    "name": username,
                    "description": name,
                }
            return _("Sub account %(name)s") % {"name": username}
        if header == "sys":
            label = catalogs.SYSTEM_ACTIONS.get(ref)
            return _(label) if label else ref
        return f"{name} ({ref})" if name else ref

    def target(self, value: str) -> str:
        header, _sep, ref = value.partition(":")
        kind = catalogs.ROUTING_HEADERS.get(header)
        if kind is None:
            return value
        if header == "none":
            return self._(kind)
        return f"{self._(kind)}: {self.target_choice(header, ref)}"

    def picker(self, current: str = "") -> tuple[TargetType, ...]:
        """The target types the account can route to, each with its targets by name. The
        ``current`` value is always among them (even a target that no longer exists), so saving
        the page never changes it silently."""
        cur_header, _sep, cur_ref = current.partition(":")
        out = []
        for header, label in catalogs.ROUTING_HEADERS.items():
            if header == "sys":
                refs: list[str] = list(catalogs.SYSTEM_ACTIONS)
            elif header == "none":
                refs = []
            else:
                refs = [item.ref for item in self.names.targets.get(header, ())]
            if header == cur_header and header != "none" and cur_ref not in refs:
                refs.append(cur_ref)
            if not refs and header != "none":
                continue  # nothing of that kind on the account: nothing to choose
            out.append(
                TargetType(
                    header,
                    self._(label),
                    tuple(Choice(r, self.target_choice(header, r)) for r in refs),
                )
            )
        return tuple(out)

    # --- values ------------------------------------------------------------------------------

    def number(self, value: int | Decimal) -> str:
        return str(format_decimal(value, locale=self.language))

    def seconds(self, value: int) -> str:
        return self._("%(n)s seconds") % {"n": self.number(value)}

    def pop(self, name: str) -> str:
        city = POP_CITIES.get(name)
        return self._(city) if city else name

    def codecs(self, items: list[str]) -> str:
        if items == ["all"]:
            return self._("All codecs")
        return ", ".join(catalogs.CODECS.get(c, c) for c in items)

    def countries(self, codes: list[str]) -> str:
        if codes == ["ALL"]:
            return self._("All countries")
        by_code = geo.countries_by_code()
        return ", ".join(by_code[c].name(self.language) if c in by_code else c for c in codes)

    def value(self, key: str, text: str) -> str:
        """A value in its display form (``settings.display``, the audit log's) in words. How it
        reads follows from the key's value kind (``domain/values.py``), never from lists of
        keys: a new money or seconds setting reads right without a change here."""
        _ = self._
        if text == s.MASK:
            return _("(hidden)")
        if text == "" or (key == "api_allowed_ips" and text == "none"):  # apikeys' empty list
            return _("(none)")
        kind = kind_of(key)
        items = [p for p in text.split(",") if p]
        if isinstance(kind, v.Target):
            return self.target(text)
        if isinstance(kind, v.Mailbox):
            return self.target_choice("vm", text)
        if isinstance(kind, v.Pop | v.Pops):
            return ", ".join(self.pop(p) for p in items)
        if isinstance(kind, v.Codecs):
            return self.codecs(items)
        if isinstance(kind, v.Countries):
            return self.countries(items)
        if text in ("true", "false") and (
            kind is None or isinstance(kind, v.Boolean) or key in EXTRA_KEY_LABELS
        ):
            return _("Yes") if text == "true" else _("No")
        if kind is not None and kind.choices is not None and text in kind.choices:
            return _(kind.choices[text])
        if isinstance(kind, v.IntRange) and kind.unit.strip() == "seconds" and text.isdigit():
            return self.seconds(int(text))
        if isinstance(kind, v.Money):
            try:
                amount = Decimal(text)
            except InvalidOperation:
                return text
            # The kind's own precision: per-minute rates 4 decimals, balances 2.
            return i18n.format_money(amount, self.language, places=kind.places)
        word = text.split(" ", 1)
        if word[0] in AUDIT_WORDS:
            rest = f" {word[1]}" if len(word) > 1 else ""
            return _(AUDIT_WORDS[word[0]]) + rest
        return text

    # --- history -----------------------------------------------------------------------------

    def key(self, key: str, subject: str = "") -> str:
        if key in SUB_LABELS and subject.startswith(f"{self.names.account}_"):
            return self._(SUB_LABELS[key])
        spec = s.SPECS_BY_KEY.get(key)
        if spec is not None:
            return self._(spec.label)
        return self._(EXTRA_KEY_LABELS.get(key, key))

    def actor(self, actor: str) -> str:
        kind, _sep, ident = actor.partition(":")
        if kind == "portal":
            return self._("You (portal)")
        if kind == "api":
            name = self.names.api_keys.get(ident) or ident
            return self._("API key '%(name)s'") % {"name": name}
        if actor == "voipms-api":
            return self._("VoIP.ms API")
        return self._("Operator")

    def subject(self, subject: str) -> str:
        if subject == self.names.account:
            return self._("Main account")
        if subject.startswith(f"{self.names.account}_"):
            return self._("Sub account %(name)s") % {"name": subject.partition("_")[2]}
        return self._("DID %(number)s") % {"number": subject}


def kind_of(key: str) -> v.ValueKind | None:
    """The value kind of a settings key or a DID field (the Settings History shows both);
    None for the services' own audit keys."""
    spec = s.SPECS_BY_KEY.get(key)
    if spec is not None:
        return spec.kind
    return did_fields.KINDS.get(key)


def words_for(language: str, names: Names) -> Words:
    return Words(language, names)

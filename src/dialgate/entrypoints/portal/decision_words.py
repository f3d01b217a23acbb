"""Test a number in the reader's language: the reason, the destination and every trace step.

The domain's decision speaks English for logs and APIs (and its trace is built per call, so it
stays cheap strings). The portal says the same things from the decision's structured fields with
its own msgids, figures included: money through Babel (rates 4 decimals, balances 2), durations
as h:mm:ss, places by their CLDR names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from dialgate.adapters import geo
from dialgate.domain import catalogs
from dialgate.domain.numbering import NumberClass
from dialgate.domain.policy import Decision
from dialgate.entrypoints.portal import web
from dialgate.entrypoints.portal.present import N_

CLASSES = {
    "us48": N_("United States (48 states)"),
    "us_other": N_("United States (other)"),
    "canada": N_("Canada"),
    "tollfree": N_("Toll free"),
    "international": N_("International"),
    "emergency": N_("Emergency (911)"),
    "directory_assistance": N_("Directory assistance (411)"),
    "voicemail": N_("Voicemail"),
    "moh_test": N_("Music on hold test"),
    "invalid": N_("Invalid"),
}
# The rate decks' destination names are "<country> - <part>"; the parts worth translating.
DECK_PARTS = {
    "Mobile": N_("Mobile"),
    "Quebec": N_("Quebec"),
    "British Columbia": N_("British Columbia"),
    "Nova Scotia/Prince Edward Island": N_("Nova Scotia/Prince Edward Island"),
    "Newfoundland and Labrador": N_("Newfoundland and Labrador"),
    "New Brunswick": N_("New Brunswick"),
}
# Why a number cannot be dialed: the numbering module's detail, matched and said again.
INVALID_DETAILS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"'(?P<dialed>.*)' is not a phone number"), N_("%(dialed)s is not a phone number")),
    (
        re.compile(
            r"'(?P<dialed>.*)': NANP numbers have 10 or 11 digits; dial 011 for international"
        ),
        N_(
            "%(dialed)s: North American numbers have 10 or 11 digits; dial 011 before an "
            "international number"
        ),
    ),
    (
        re.compile(r"'(?P<dialed>.*)' is not a valid E.164 number"),
        N_("%(dialed)s is not a valid international number"),
    ),
    (
        re.compile(r"(?P<number>\+\d+): NANP numbers have 10 digits after the 1"),
        N_("%(number)s: North American numbers have 10 digits after the 1"),
    ),
    (
        re.compile(r"(?P<number>\+\d+): area code (?P<code>\d+) is not a dialable area code"),
        N_("%(number)s: area code %(code)s cannot be dialed"),
    ),
    (
        re.compile(r"(?P<number>\+\d+): exchange (?P<code>\d+) cannot start with 0 or 1"),
        N_("%(number)s: the exchange %(code)s cannot start with 0 or 1"),
    ),
    (
        re.compile(r"(?P<number>\+\d+): no such country code"),
        N_("%(number)s: no country has this code"),
    ),
    (
        re.compile(r"(?P<number>\+\d+): wrong length for country code (?P<code>\d+)"),
        N_("%(number)s: wrong number of digits for country code %(code)s"),
    ),
)
STEP_TITLES = {
    "account": N_("Account"),
    "encryption": N_("Encrypted SIP"),
    "ip_restriction": N_("IP restriction"),
    "pop_restriction": N_("POP restriction"),
    "normalize": N_("Normalize the number"),
    "classify": N_("Classify the number"),
    "special_numbers": N_("Special numbers"),
    "international_lock": N_("International calls"),
    "allowed_countries": N_("Allowed countries"),
    "route": N_("Route"),
    "rate": N_("Rate"),
    "international_max_rate": N_("International max rate"),
    "balance": N_("Balance"),
    "max_duration": N_("Maximum duration"),
    "caller_id": N_("Caller ID"),
}
OUTCOMES = {"pass": N_("passed"), "deny": N_("refused"), "skip": N_("skipped")}
ROUTES = {"value": N_("Value"), "premium": N_("Premium")}
CARRIERS = {"american": N_("American Carrier"), "canadian": N_("Canadian Carrier")}
# Steps that were not needed, the same words whatever the call.
SKIPPED = {
    "encryption": N_("Encrypted SIP is off."),
    "ip_restriction": N_("The IP restriction is off."),
    "pop_restriction": N_("The POP restriction is off."),
    "special_numbers": N_("Not a special number."),
    "international_lock": N_("Not an international call."),
    "allowed_countries": N_("Not an international call."),
    "international_max_rate": N_("No limit applies to this call."),
    "balance": N_("Emergency calls do not need a balance."),
    "max_duration": N_("Emergency calls have no time limit."),
    "route": N_("Emergency calls use the emergency route."),
    "rate": N_("Emergency calls are free."),
}


@dataclass(frozen=True, slots=True)
class Context:
    """What the page knows beside the decision."""

    dialed: str
    source_ip: str
    pop: str
    balance: Decimal | None
    max_rate: Decimal | None


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    title: str
    outcome: str  # pass | deny | skip
    outcome_text: str
    detail: str


def duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class DecisionWords:
    def __init__(self, language: str, decision: Decision, ctx: Context) -> None:
        self.language = language
        self.decision = decision
        self.ctx = ctx

    def _(self, message: str, **params: object) -> str:
        if not message:
            return ""  # gettext("") is the catalog's header
        text = web.gettext(self.language, message)
        return text % params if params else text

    def money(self, value: Decimal | None, places: int = 2) -> str:
        return web.format_money(value or Decimal(0), self.language, places=places)

    def pop(self, name: str) -> str:
        city = next((p.city for p in catalogs.DEFAULT_POPS if p.name == name), None)
        return self._(city) if city else name

    # --- the destination -----------------------------------------------------------------------

    def place(self) -> str:
        """Where the call goes, said once: the deck's destination or the number's class."""
        d = self.decision.destination
        if d is None:
            return ""
        klass = d.klass.value
        if d.klass in (NumberClass.INTERNATIONAL, NumberClass.CANADA) and d.country:
            country = geo.country_name(d.country, self.language)
            _head, sep, part = d.name.partition(" - ")
            if sep and part != _head:
                return f"{country} – {self._(DECK_PARTS[part]) if part in DECK_PARTS else part}"
            return country
        if d.klass is NumberClass.TOLLFREE:
            return self._("Toll free (US and Canada)")
        label = self._(CLASSES.get(klass, klass))
        us = d.klass in (NumberClass.US48, NumberClass.US_OTHER)
        if (
            us
            and d.name
            and d.name not in (geo.country_name(d.country or "US", "en"), CLASSES[klass])
        ):
            return f"{label} – {d.name}"  # a place name (New York, NY): not translated
        return label

    def route(self) -> str:
        d = self.decision
        name, carrier = d.route, d.carrier
        if name is None:  # a refused call carries no route; its trace step names it
            raw = next((x for s, o, x in d.trace if s == "route" and o == "pass"), "")
            name, _sep, rest = raw.partition(", carrier ")
            carrier = rest or None
        if name in (None, "", "None"):
            return ""
        route = self._(ROUTES.get(name or "", name or ""))
        if carrier:
            return f"{route}, {self._(CARRIERS.get(carrier, carrier))}"
        return route

    def invalid_detail(self, detail: str) -> str:
        for pattern, msgid in INVALID_DETAILS:
            match = pattern.fullmatch(detail)
            if match:
                return self._(msgid, **match.groupdict())
        return self._("This is not a number that can be dialed.")

    # --- the reason ----------------------------------------------------------------------------

    def reason(self) -> str:
        d, c = self.decision, self.ctx
        reason = d.reason
        if reason == "ok":
            if d.action == "emergency":
                return self._("Emergency call with caller ID %(number)s.", number=d.caller_id)
            if d.action == "voicemail":
                return self._("Voicemail.")
            if d.action == "moh_test":
                moh = catalogs.MOH_BY_KEY.get(d.moh_class or "")
                return self._(
                    "Music on hold test: %(name)s.", name=self._(moh.label) if moh else ""
                )
            return self._("The call to %(place)s is allowed.", place=self.place())
        if reason == "invalid_number":
            detail = next((x for s, o, x in d.trace if o == "deny"), "")
            return self._("This number cannot be dialed: %(why)s.", why=self.invalid_detail(detail))
        if reason == "ip_not_allowed":
            return self._(
                "Calls from %(address)s are not allowed by your IP restriction.",
                address=c.source_ip or self._("an unknown address"),
            )
        if reason == "pop_not_allowed":
            return self._(
                "Calls through %(pop)s are not allowed by your POP restriction.",
                pop=self.pop(c.pop) if c.pop else self._("an unknown POP"),
            )
        if reason == "country_not_allowed":
            return self._(
                "Calls to %(place)s are not allowed for this account.", place=self.place()
            )
        if reason == "no_rate":
            return self._(
                "There is no rate for %(place)s on the %(route)s route.",
                place=self.place() or c.dialed,
                route=self.route(),
            )
        if reason == "rate_above_limit":
            return self._(
                "The rate to %(place)s (%(rate)s per minute) is above your limit of "
                "%(limit)s per minute.",
                place=self.place(),
                rate=self.money(self._deny_rate(), 4),
                limit=self.money(c.max_rate, 4),
            )
        if reason == "insufficient_balance":
            return self._(
                "Your balance (%(balance)s) does not cover this call.",
                balance=self.money(c.balance),
            )
        return self._(REASONS.get(reason, N_("The call is refused.")))

    def _deny_rate(self) -> Decimal | None:
        # The refused call carries no rate; the trace's rate step has it in the deck's format.
        for step, _o, detail in self.decision.trace:
            if step == "rate":
                match = re.search(r"(\d+\.\d+)", detail)
                if match:
                    return Decimal(match.group(1))
        return None

    # --- the steps -----------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        return [
            Step(
                step,
                self._(STEP_TITLES.get(step, step)),
                outcome,
                self._(OUTCOMES.get(outcome, outcome)),
                self.detail(step, outcome, raw),
            )
            for step, outcome, raw in self.decision.trace
        ]

    def detail(self, step: str, outcome: str, raw: str) -> str:
        d, c = self.decision, self.ctx
        if outcome == "deny":
            return self.reason()
        if outcome == "skip":
            return self._(SKIPPED.get(step, N_("Not needed for this call.")))
        if step == "account":
            return self._("The account is active.")
        if step == "encryption":
            return self._("TLS with SRTP.")
        if step == "ip_restriction":
            return self._("%(address)s is allowed.", address=c.source_ip)
        if step == "pop_restriction":
            return self._("%(pop)s is allowed.", pop=self.pop(c.pop))
        if step == "normalize":
            number = d.destination.e164 if d.destination and d.destination.e164 else c.dialed
            return self._("%(dialed)s is read as %(number)s.", dialed=c.dialed, number=number)
        if step == "classify":
            return self.place()
        if step == "special_numbers":
            return {
                "emergency": self._(
                    "911: the balance, price, country and time limits do not apply."
                ),
                "voicemail": self._("Voicemail."),
                "moh_test": self._("Music on hold test."),
            }.get(d.action, self._("411 directory assistance is allowed."))
        if step == "international_lock":
            return self._("International calls are allowed.")
        if step == "allowed_countries":
            return self._("%(place)s is allowed.", place=self.place())
        if step == "route":
            return self.route() if raw != "None" else self._("Not needed for this call.")
        if step == "rate":
            rate = d.rate_per_minute if d.rate_per_minute is not None else self._deny_rate()
            if rate is None:
                return ""
            return self._("%(price)s per minute", price=self.money(rate, 4))
        if step == "international_max_rate":
            return self._(
                "Within your limit of %(limit)s per minute.", limit=self.money(c.max_rate, 4)
            )
        if step == "balance":
            return self._(
                "Your balance (%(balance)s) covers the call.", balance=self.money(c.balance)
            )
        if step == "max_duration" and d.max_duration_s is not None:
            if raw.endswith("limited by the balance"):
                return self._("%(time)s, limited by your balance.", time=duration(d.max_duration_s))
            return self._(
                "%(time)s, the maximum for this kind of call.", time=duration(d.max_duration_s)
            )
        if step == "caller_id":
            if d.action == "emergency":
                return self._("Caller ID %(number)s.", number=d.caller_id)
            number = d.caller_id or self._("none")
            if d.caller_id_guaranteed:
                return self._("%(number)s, guaranteed.", number=number)
            return self._("%(number)s, not guaranteed on this route.", number=number)
        return ""


REASONS = {
    "unknown_account": N_("This account does not exist."),
    "account_disabled": N_("This account is disabled."),
    "encryption_required": N_("Encrypted SIP is on for this account: call over TLS with SRTP."),
    "blocked_number": N_(
        "NPA-555-1212 is blocked: the only way to reach directory assistance is by dialing 411."
    ),
    "directory_assistance_disabled": N_("411 directory assistance is disabled for this account."),
    "international_disabled": N_("International calls are disabled for this account."),
    "e911_no_callerid": N_(
        "Emergency call refused: the caller ID is not an e911-enabled DID and no e911 default "
        "caller ID is set."
    ),
}

"""VoIP.ms balance and rate methods: getBalance, getTransactionHistory, getTerminationRates."""

from __future__ import annotations

from typing import Any

from dialgate.adapters import geo
from dialgate.entrypoints.voipms import cdr
from dialgate.entrypoints.voipms import mapping as m
from dialgate.entrypoints.voipms.errors import Statuses, always
from dialgate.entrypoints.voipms.methods import Call, Method
from dialgate.entrypoints.voipms.wire import VoipmsError, flag
from dialgate.services import billing, rates


def get_balance(call: Call) -> dict[str, Any]:
    """The balance; with ``advanced`` true also spending, calls and talk time."""
    try:
        advanced = flag(call.get("advanced") or "0", invalid="invalid_advanced")
    except VoipmsError:
        advanced = False  # the API documents no status for it: anything but true is "no"
    with call.db.uow(write=False) as uow:
        figures = billing.balance(uow, call.account).to_voipms()
    if not advanced:
        figures = {"current_balance": figures["current_balance"]}
    return {"status": "success", "balance": figures}


def get_transaction_history(call: Call) -> dict[str, Any]:
    """The documented range rules: both dates, from not after to, 92 days or less."""
    date_from, date_to = cdr.date_range(call)
    with call.db.uow(write=False) as uow:
        found = billing.transaction_history(uow, call.account, date_from, date_to)
    if not found:
        raise VoipmsError("no_transactions")
    return {"status": "success", "transactions": [t.to_voipms() for t in found]}


def _query(call: Call) -> str:
    """The documented ``query`` (a destination or prefix); ``country`` (a code from
    getCountries) is accepted instead and searches for that country's name."""
    query = call.get("query")
    if query is not None:
        return query
    country = call.get("country")
    if country is None:
        raise VoipmsError("missing_query")
    code = country.strip().upper()
    if code not in geo.countries_by_code():
        raise VoipmsError("invalid_country")
    return geo.country_name(code)


def get_termination_rates(call: Call) -> dict[str, Any]:
    code = call.get("route")
    if code is None:
        raise VoipmsError("missing_route")
    route = m.ROUTES.get(code.strip())
    if route is None:
        raise VoipmsError("invalid_route")
    query = _query(call)
    if not query.strip():
        raise VoipmsError("invalid_query")
    with call.db.uow(write=False) as uow:
        found = rates.search(uow, route, query)
    if not found:
        raise VoipmsError("no_rate")
    return {
        "status": "success",
        "route": [{"value": code.strip(), "description": m.ROUTE_LABELS[code.strip()]}],
        "rates": [
            {
                "destination": r.destination,
                "prefix": r.prefix,
                "increment": r.increment_s,
                "rate": format(r.per_minute.normalize(), "f"),
            }
            for r in found
        ],
    }


# The one field error here is the transaction history's refused range.
ERRORS = Statuses(not_found="invalid_account", invalid=always("invalid_date_from"))

METHODS: dict[str, Method] = {
    "getBalance": get_balance,
    "getTransactionHistory": get_transaction_history,
    "getTerminationRates": get_termination_rates,
}

"""A DID's own fields and their value kinds (what the DID page, the API and the audit show).

Kept in the domain so that services (which validate them) and the presentation layer (which
words them in the Settings History and emails) read the same definition.
"""

from __future__ import annotations

from dialgate.domain import catalogs
from dialgate.domain import values as v

# Dial time: seconds the destination rings before "no answer". Below 5 s a phone cannot be
# picked up; above 120 s most carriers have already given up on the call themselves.
DIAL_TIME_MIN, DIAL_TIME_MAX = 5, 120

KINDS: dict[str, v.ValueKind] = {
    "description": v.Text(100),
    "routing": v.Target(),
    "failover_busy": v.Target(),
    "failover_unreachable": v.Target(),
    "failover_noanswer": v.Target(),
    "pop": v.Pop(),
    "plan": v.Choice(catalogs.DID_PLANS),
    "cnam_lookup": v.Boolean(),
    "e911_enabled": v.Boolean(),
    "dial_time": v.IntRange(DIAL_TIME_MIN, DIAL_TIME_MAX, " seconds"),
}
DID_KEYS = tuple(KINDS)

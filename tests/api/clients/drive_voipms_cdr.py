"""getCDR and its option lists through the ``voipms`` package (calls.get.*)."""

import sys

from _common import attempt, finish
from voipms import VoipMs

url, email, password = sys.argv[1:4]
c = VoipMs(email, password)
c.base_url = f"{url}?api_username={email}&api_password={password}&"
c.post_url = url
r = {}
attempt(r, "cdr", lambda: c.calls.get.cdr("2024-05-01", "2024-05-31", 0, True, True, True, True))
attempt(r, "cdr_busy_utc_minus_5",
        lambda: c.calls.get.cdr("2024-05-01", "2024-05-01", -5, busy=True))
# The library only takes an int account (the main account's number).
attempt(r, "cdr_main", lambda: c.calls.get.cdr(
    "2024-05-01", "2024-05-31", 0, True, True, True, True, account=100000))
attempt(r, "cdr_none", lambda: c.calls.get.cdr("2024-07-01", "2024-07-31", 0, answered=True))
attempt(r, "call_types", lambda: c.calls.get.call_types())
attempt(r, "call_accounts", lambda: c.calls.get.call_accounts())
attempt(r, "call_billing", lambda: c.calls.get.call_billing())
finish(r)

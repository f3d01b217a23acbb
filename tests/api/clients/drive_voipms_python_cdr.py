"""getCDR and getCallBilling through the ``voipms-python`` package (Client.records/billing)."""

import sys

from _common import attempt, finish
from voipms.api import Client

url, email, password = sys.argv[1:4]
c = Client(email, password)
c.api_base = url
base = {"date_from": "2024-05-01", "date_to": "2024-05-31", "timezone": 0}
r = {}
attempt(r, "cdr", lambda: c.records.fetch({**base, "answered": 1, "noanswer": 1, "busy": 1,
                                            "failed": 1}))
attempt(r, "cdr_billed", lambda: c.records.fetch({**base, "answered": 1, "callbilling": "billed"}))
attempt(r, "cdr_no_status", lambda: c.records.fetch(dict(base)))
attempt(r, "cdr_range", lambda: c.records.fetch({**base, "date_from": "2024-01-01",
                                                  "answered": 1}))
attempt(r, "call_billing", lambda: c.billing.fetch({}))
finish(r)

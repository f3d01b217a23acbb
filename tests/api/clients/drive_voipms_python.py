"""Drive the ``voipms-python`` package (Client.api_base) against a Dialgate server."""

import sys

from _common import attempt, finish
from voipms.api import Client

url, email, password = sys.argv[1:4]


def make(pw):
    c = Client(email, pw)
    c.api_base = url
    return c


c = make(password)
r = {}
attempt(r, "ip", lambda: c.ip.fetch({}))
attempt(r, "countries", lambda: c.countries.fetch({"country": "CA"}))
attempt(r, "languages", lambda: c.languages.fetch({}))
create_params = {
    "username": "viapython",
    "protocol": 1,
    "auth_type": 1,
    "password": "CliPass123",
    "device_type": 2,
    "lock_international": 1,
    "international_route": 1,
    "music_on_hold": "default",
    "allowed_codecs": "ulaw",
    "dtmf_mode": "auto",
    "nat": "yes",
}
created = attempt(r, "create", lambda: c.subaccount.create(dict(create_params)))
sub_id = (created.get("ok") or {}).get("id", "0")
attempt(r, "read", lambda: c.subaccount.fetch({"account": "100000_viapython"}))
set_params = {
    "id": sub_id,
    "auth_type": 1,
    "device_type": 1,
    "lock_international": 1,
    "international_route": 2,
    "music_on_hold": "default",
    "allowed_codecs": "ulaw;gsm",
    "dtmf_mode": "auto",
    "nat": "route",
    "max_expiry": 600,
}
attempt(r, "update", lambda: c.subaccount.set(dict(set_params)))
attempt(r, "read_after_update", lambda: c.subaccount.fetch({"account": "100000_viapython"}))
attempt(r, "update_invalid", lambda: c.subaccount.set({**set_params, "max_expiry": 5}))
attempt(
    r,
    "create_weak_password",
    lambda: c.subaccount.create({**create_params, "username": "weak", "password": "weak"}),
)
attempt(r, "registration", lambda: c.registration_status.fetch({"account": "100000"}))
attempt(r, "delete", lambda: c.subaccount.delete({"id": sub_id}))
attempt(r, "read_after_delete", lambda: c.subaccount.fetch({"account": "100000_viapython"}))
attempt(r, "balance", lambda: c.balance.fetch({}))
attempt(r, "balance_advanced", lambda: c.balance.fetch({"advanced": True}))
# voipms-python has no setDID* helpers: its generic Client.request (same auth, transport and
# error handling) sends them.
attempt(
    r,
    "did_routing",
    lambda: c.request("setDIDRouting", params={"did": 5145550100, "routing": "sys:hangup"}),
)
attempt(
    r,
    "did_routing_invalid",
    lambda: c.request("setDIDRouting", params={"did": 4165550100, "routing": "sys:hangup"}),
)
attempt(r, "did_pop", lambda: c.request("setDIDPOP", params={"did": 5145550100, "pop": 5}))
attempt(r, "did_pop_missing", lambda: c.request("setDIDPOP", params={"did": 5145550100}))
attempt(r, "dids_info", lambda: c.dids.fetch({"did": 5145550100}))
fwd = attempt(
    r,
    "forwarding_add",
    lambda: c.request(
        "setForwarding", params={"phone_number": 5145550199, "callerid_override": 4385550111}
    ),
)
fwd_id = (fwd.get("ok") or {}).get("forwarding", "0")
attempt(r, "forwardings", lambda: c.request("getForwardings", params={"forwarding": fwd_id}))
attempt(r, "forwarding_other", lambda: c.request("delForwarding", params={"forwarding": 999999}))
attempt(r, "forwarding_delete", lambda: c.request("delForwarding", params={"forwarding": fwd_id}))
attempt(r, "forwardings_after_delete", lambda: c.request("getForwardings", params={}))
attempt(r, "bad_credentials", lambda: make("WrongPass123").ip.fetch({}))
finish(r)

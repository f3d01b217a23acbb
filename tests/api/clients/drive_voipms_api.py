"""Drive the ``voipms-api`` package (voipms_url) against a Dialgate server."""

import sys

from _common import attempt, finish
from voipms_api import Accounts, DIDs, General

url, email, password = sys.argv[1:4]


def make(cls, pw):
    c = cls(username=email, password=pw)
    c.voipms_url = url
    return c


general, accounts, dids = make(General, password), make(Accounts, password), make(DIDs, password)
r = {}
attempt(r, "ip", lambda: general.get_ip())
attempt(r, "countries", lambda: general.get_countries("CA"))
attempt(r, "languages", lambda: general.get_languages())
attempt(r, "servers", lambda: general.get_servers(1))
attempt(
    r,
    "create",
    lambda: accounts.create_subaccount(
        "viaapi", password="CliPass123", description="From voipms-api"
    ),
)
attempt(r, "read", lambda: accounts.get_subaccounts("100000_viaapi"))
# Reads the sub account and writes every field back with two changes.
attempt(
    r,
    "update",
    lambda: accounts.update_subaccount("100000_viaapi", dtmf_mode="inband", description="Renamed"),
)
attempt(r, "read_after_update", lambda: accounts.get_subaccounts("100000_viaapi"))
attempt(
    r, "update_invalid", lambda: accounts.update_subaccount("100000_viaapi", music_on_hold="jazz")
)
attempt(r, "create_weak_password", lambda: accounts.create_subaccount("weak", password="weak"))
sub_id = (r["read"].get("ok") or {}).get("accounts", [{}])[0].get("id", "0")
attempt(r, "delete", lambda: accounts.delete_subaccount(sub_id))
attempt(r, "read_after_delete", lambda: accounts.get_subaccounts("100000_viaapi"))
attempt(r, "balance", lambda: general.get_balance())
attempt(r, "balance_advanced", lambda: general.get_balance(advanced=True))
attempt(r, "did_routing", lambda: dids.set_did_routing("5145550100", "vm:1001"))
attempt(r, "did_routing_invalid", lambda: dids.set_did_routing("5145550100", "carrier:pigeon"))
# voipms-api has no setDIDPOP helper: its generic call (same auth and transport) sends it.
attempt(r, "did_pop", lambda: dids.get("setDIDPOP", {"did": "5145550100", "pop": "4"}))
attempt(r, "did_pop_invalid", lambda: dids.get("setDIDPOP", {"did": "5145550100", "pop": "x"}))
attempt(r, "dids_info", lambda: dids.get_dids_info(did="5145550100"))
# Forwardings through the generic call, like setDIDPOP.
fwd = attempt(
    r,
    "forwarding_add",
    lambda: dids.get("setForwarding", {"phone_number": "011442079460123", "pause": "2.5"}),
)
fwd_id = (fwd.get("ok") or {}).get("forwarding", "0")
attempt(
    r,
    "forwarding_update",
    lambda: dids.get(
        "setForwarding", {"forwarding": fwd_id, "phone_number": "4385550100", "dtmf_digits": "9"}
    ),
)
attempt(r, "forwardings", lambda: dids.get("getForwardings", {}))
attempt(r, "forwarding_invalid", lambda: dids.get("setForwarding", {"pause": "1"}))
attempt(r, "forwarding_delete", lambda: dids.get("delForwarding", {"forwarding": fwd_id}))
attempt(r, "bad_credentials", lambda: make(General, "WrongPass123").get_ip())
finish(r)

"""Drive the ``voipms`` package (VoipMs, base_url/post_url) against a Dialgate server."""

import sys

from _common import attempt, finish
from voipms import VoipMs

url, email, password = sys.argv[1:4]


def client(pw):
    c = VoipMs(email, pw)
    c.base_url = f"{url}?api_username={email}&api_password={pw}&"
    c.post_url = url
    return c


c = client(password)
r = {}
attempt(r, "ip", lambda: c.general.get.ip())
attempt(r, "countries", lambda: c.general.get.countries("CA"))
attempt(r, "servers", lambda: c.general.get.servers_info())
attempt(r, "languages", lambda: c.general.get.languages())
attempt(r, "routes", lambda: c.accounts.get.routes())
attempt(r, "codecs", lambda: c.accounts.get.allowed_codecs())
attempt(r, "auth_types", lambda: c.accounts.get.auth_types())
attempt(r, "device_types", lambda: c.accounts.get.device_types())
attempt(r, "dtmf_modes", lambda: c.accounts.get.dtmf_modes())
attempt(r, "nat", lambda: c.accounts.get.nat())
attempt(r, "protocols", lambda: c.accounts.get.protocols())
attempt(r, "lock_international", lambda: c.accounts.get.lock_international())
attempt(r, "music_on_hold", lambda: c.accounts.get.music_on_hold())
created = attempt(
    r,
    "create",
    lambda: c.accounts.create.sub_account(
        "viavoipms",
        "CliPass123",
        1,
        1,
        2,
        1,
        1,
        "default",
        "ulaw;g729",
        "auto",
        "yes",
        description="From voipms",
    ),
)
attempt(r, "read", lambda: c.accounts.get.sub_accounts("100000_viavoipms"))
sub_id = int(created.get("ok", {}).get("id", "0"))
attempt(
    r,
    "update",
    lambda: c.accounts.set.sub_account(
        sub_id, "", 1, 2, 1, 2, "spa_sounds", "ulaw", "rfc2833", "no"
    ),
)
attempt(r, "read_after_update", lambda: c.accounts.get.sub_accounts("100000_viavoipms"))
attempt(
    r,
    "update_invalid",
    lambda: c.accounts.set.sub_account(sub_id, "", 1, 2, 1, 2, "jazz", "ulaw", "rfc2833", "no"),
)
attempt(
    r,
    "create_weak_password",
    lambda: c.accounts.create.sub_account(
        "weak", "short", 1, 1, 2, 1, 1, "default", "ulaw", "auto", "yes"
    ),
)
attempt(r, "registration", lambda: c.accounts.get.registration_status("100000_viavoipms"))
attempt(r, "delete", lambda: c.accounts.delete.sub_account(sub_id))
attempt(r, "read_after_delete", lambda: c.accounts.get.sub_accounts("100000_viavoipms"))
attempt(r, "balance", lambda: c.general.get.balance())
attempt(r, "balance_advanced", lambda: c.general.get.balance(True))
attempt(r, "did_routing", lambda: c.dids.set.did_routing(5145550100, "account:100000_office"))
attempt(r, "did_routing_invalid", lambda: c.dids.set.did_routing(5145550100, "vm:9999"))
attempt(r, "did_pop", lambda: c.dids.set.did_pop(5145550100, 3))
attempt(r, "did_pop_invalid", lambda: c.dids.set.did_pop(5145550100, 999))
attempt(r, "did_other_account", lambda: c.dids.set.did_pop(4165550100, 3))
attempt(r, "dids_info", lambda: c.dids.get.dids_info(did=5145550100))
# voipms has no forwarding helpers: VoipMs's own _get (same auth, transport and error table
# as every helper) sends them.
api = c
fwd = attempt(
    r,
    "forwarding_add",
    lambda: api._get("setForwarding", {"phone_number": "5145550199", "description": "Cell"}),
)
fwd_id = (fwd.get("ok") or {}).get("forwarding", "0")
attempt(r, "forwardings", lambda: api._get("getForwardings", {"forwarding": fwd_id}))
attempt(r, "forwarding_invalid", lambda: api._get("setForwarding", {"phone_number": "12"}))
attempt(r, "forwarding_delete", lambda: api._get("delForwarding", {"forwarding": fwd_id}))
attempt(r, "forwardings_after_delete", lambda: api._get("getForwardings"))
attempt(r, "bad_credentials", lambda: client("WrongPass123").general.get.ip())
finish(r)

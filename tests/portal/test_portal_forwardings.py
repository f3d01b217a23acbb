"""The Call Forwarding page over HTTP: list, add, edit, delete (refused while a DID uses the
entry), field errors that save nothing, French, and the DID page's routing picker."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from dialgate.adapters.db.models import ForwardingRow
from dialgate.services import accounts, dids, forwardings
from dialgate.services.uow import Database
from tests.portal.test_portal_http import log_in


def _entries(db: Database) -> list[tuple[int, str, str]]:
    with db.uow(write=False) as uow:
        return [(r.id, r.phone_number, r.description) for r in uow.session.scalars(
            select(ForwardingRow).order_by(ForwardingRow.id))]


def test_the_page_lists_the_demo_forwarding_and_adds_one(
    client: TestClient, demo_db: Database
) -> None:
    token = log_in(client)
    page = client.get("/portal/forwardings")
    assert page.status_code == 200
    assert 'href="/portal/forwardings" aria-current="page"' in page.text
    ((demo_id, number, _desc),) = _entries(demo_db)
    assert f'id="fwd-{demo_id}"' in page.text and number in page.text
    r = client.post("/portal/forwardings", data={
        "csrf_token": token, "phone_number": "438 555 0150", "description": "Cottage",
        "callerid_override": "", "dtmf_digits": "1#", "pause": "0.5",
        "diversion_header": ["false", "true"]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    added = _entries(demo_db)[-1]
    assert added[1:] == ("+14385550150", "Cottage")
    listed = client.get("/portal/forwardings").text
    row = listed[listed.index(f'id="fwd-{added[0]}"'):]
    cells = [c.strip() for c in re.findall(r"<td>(.*?)</td>", row[: row.index("</tr>")], re.S)]
    assert cells[:5] == ["+14385550150", "Cottage", "(caller's)", "1#", "0.5"]


def test_bad_values_show_field_errors_keep_the_input_and_save_nothing(
    client: TestClient, demo_db: Database
) -> None:
    token = log_in(client)
    before = _entries(demo_db)
    r = client.post("/portal/forwardings", data={
        "csrf_token": token, "phone_number": "011447012", "pause": "12", "description": "Abroad"})
    assert r.status_code == 422
    assert 'id="f-phone_number-error"' in r.text and 'id="f-pause-error"' in r.text
    assert 'value="Abroad"' in r.text and 'value="011447012"' in r.text
    assert _entries(demo_db) == before


def test_edit_saves_and_another_accounts_entry_is_not_found(
    client: TestClient, demo_db: Database
) -> None:
    with demo_db.uow() as uow:
        accounts.create_account(uow, number="300000", email="o@example.com",
                                password="OtherPass123", actor="t")
        other = forwardings.add_forwarding(uow, "300000", {"phone_number": "6135550100"},
                                           actor="t")
        uow.commit()
    token = log_in(client)
    ((demo_id, _n, _d),) = [e for e in _entries(demo_db) if e[0] != other.id]
    r = client.post(f"/portal/forwardings/{demo_id}", data={
        "csrf_token": token, "phone_number": "5145550199", "description": "Mobile",
        "callerid_override": "4385550111", "dtmf_digits": "", "pause": "0",
        "diversion_header": ["false"]})
    assert r.status_code == 200 and 'id="saved"' in r.text
    with demo_db.uow(write=False) as uow:
        assert forwardings.get_forwarding(uow, "100000", demo_id).callerid_override == (
            "4385550111")
    assert client.get(f"/portal/forwardings/{other.id}").status_code == 404
    assert client.post(f"/portal/forwardings/{other.id}/delete",
                       data={"csrf_token": token}).status_code == 404
    assert client.post(f"/portal/forwardings/{demo_id}",
                       data={"description": "no token"}).status_code == 403


def test_a_forwarding_is_picked_on_the_did_page_and_then_cannot_be_deleted(
    client: TestClient, demo_db: Database
) -> None:
    token = log_in(client)
    ((ident, _n, _d),) = _entries(demo_db)
    ref = f"fwd:{ident}"
    page = client.get("/portal/dids/5145550100")
    # The picker names the entry by its description and number, never "fwd:<id>".
    assert 'name="failover_noanswer_fwd"' in page.text
    assert f'<option value="{ident}">Mobile, +15145550199 ({ident})</option>' in page.text
    assert f">{ref}<" not in page.text
    r = client.post("/portal/dids/5145550100", data={
        "csrf_token": token, "failover_noanswer_type": "fwd",
        "failover_noanswer_fwd": str(ident)})
    assert r.status_code == 200 and 'id="saved"' in r.text
    refused = client.post(f"/portal/forwardings/{ident}/delete", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "DID 5145550100" in refused.text and 'role="alert"' in refused.text
    assert [e[0] for e in _entries(demo_db)] == [ident]
    client.post("/portal/language", data={"csrf_token": token, "language": "fr"})
    french = client.post(f"/portal/forwardings/{ident}/delete", data={"csrf_token": token})
    assert "ne peut pas être supprimé" in french.text and "Renvoi d'appel" in french.text
    with demo_db.uow() as uow:
        dids.set_did(
            uow, "5145550100", {"failover_noanswer": "vm:1001"}, actor="t", account="100000"
        )
        uow.commit()
    gone = client.post(f"/portal/forwardings/{ident}/delete", data={"csrf_token": token},
                       follow_redirects=False)
    assert gone.status_code == 303 and _entries(demo_db) == []

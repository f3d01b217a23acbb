"""Services take the realm and the clock from the unit of work, never from the process.

The database is real (SQLite and PostgreSQL); the realm, the clock and the resolver are the
seams a deployment (bootstrap) or a test chooses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dialgate.adapters import passwords
from dialgate.adapters.db.models import PortalSessionRow, SubscriberRow, TransactionRow
from dialgate.domain.errors import AuthenticationFailed
from dialgate.domain.policy import AuthorizeRequest
from dialgate.services import accounts, apikeys, billing, portal_auth
from dialgate.services.authorize import PolicyCache, authorize_call
from dialgate.services.uow import Database
from tests.support.clock import WallClock
from tests.support.fakes import FakeResolver

REALM = "pbx.example.net"
START = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def clock() -> WallClock:
    return WallClock(START)


@pytest.fixture
def seamed(database_url: str, clock: WallClock) -> Iterator[Database]:
    db = Database(database_url, realm=REALM, clock=clock)
    yield db
    db.dispose()


def _subscribers(db: Database) -> dict[tuple[str, str], str]:
    with db.uow(write=False) as uow:
        rows = uow.session.scalars(select(SubscriberRow))
        return {(row.username, row.domain): row.ha1 for row in rows}


def test_subscriber_digests_are_made_in_the_realm_the_database_was_given(
    seamed: Database,
) -> None:
    with seamed.uow() as uow:
        accounts.create_account(uow, number="100000", email="o@example.com", password="Portal1234")
        accounts.create_subaccount(uow, "100000", "office", password="Office1234", actor="t")
        uow.commit()
    assert _subscribers(seamed) == {
        ("100000", REALM): passwords.sip_ha1("100000", REALM, "Portal1234"),
        ("100000_office", REALM): passwords.sip_ha1("100000_office", REALM, "Office1234"),
    }
    with seamed.uow() as uow:
        accounts.update_settings(uow, "100000", {"sip_password": "NewSip9999"}, actor="t")
        uow.commit()
    assert _subscribers(seamed)[("100000", REALM)] == passwords.sip_ha1(
        "100000", REALM, "NewSip9999"
    )


def test_use_cases_take_the_time_from_the_database_clock(
    seamed: Database, clock: WallClock
) -> None:
    with seamed.uow() as uow:
        accounts.create_account(uow, number="100000", email="o@example.com", password="Portal1234")
        key, _ = apikeys.create_api_key(uow, "100000", name="laptop")
        billing.deposit(uow, "100000", "12.50")
        target = portal_auth.find_login(uow, "100000")
        portal_auth.open_session(uow, target)
        uow.commit()
    assert key.created_at == START
    clock.advance(timedelta(days=1))
    with seamed.uow() as uow:
        apikeys.revoke_api_key(uow, "100000", key.id)
        uow.commit()
    with seamed.uow(write=False) as uow:
        (listed,) = apikeys.list_api_keys(uow, "100000")
        deposit_at = uow.session.scalars(
            select(TransactionRow.at).where(TransactionRow.kind == "deposit")
        ).one()
        expires = uow.session.scalars(select(PortalSessionRow.expires_at)).one()
    assert listed.revoked_at is not None
    assert _aware(listed.revoked_at) == START + timedelta(days=1)
    assert _aware(deposit_at) == START
    assert _aware(expires) == START + timedelta(hours=portal_auth.SESSION_HOURS)


def _aware(at: datetime) -> datetime:
    # SQLite gives naive datetimes back (stored in UTC); PostgreSQL gives aware ones.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def test_allow_list_host_names_go_through_the_resolver_the_cache_was_given(
    seamed: Database,
) -> None:
    with seamed.uow() as uow:
        accounts.create_account(uow, number="100000", email="o@example.com", password="Portal1234")
        accounts.update_settings(
            uow,
            "100000",
            {"ip_restriction_enabled": "yes", "ip_restriction": "pbx.example.com"},
            actor="t",
        )
        uow.commit()
    resolver = FakeResolver({"pbx.example.com": ["198.51.100.7"]})
    cache = PolicyCache(seamed, resolver=resolver)

    def reason(source_ip: str) -> str:
        request = AuthorizeRequest.checked("100000", "5145551234", source_ip=source_ip)
        return authorize_call(cache, request).reason

    assert reason("198.51.100.8") == "ip_not_allowed"
    assert reason("198.51.100.7") != "ip_not_allowed"
    assert resolver.asked == ["pbx.example.com"]  # once, when the snapshot was built


class Ticks:
    """A monotonic clock in seconds that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_switch_tokens_are_kept_for_the_ttl_of_the_cache_clock(database_url: str) -> None:
    switch_side = Database(database_url)
    elsewhere = Database(database_url)  # another process: its commits reach no hook here
    try:
        created, token = apikeys.create_switch_token(switch_side, name="pop")
        ticks = Ticks()
        cache = apikeys.SwitchTokenCache(switch_side, ttl=2.0, clock=ticks)
        assert cache.peek(token) is None
        assert cache.check(token).id == created.id
        apikeys.revoke_switch_token(elsewhere, created.id)
        ticks.now += 1.9
        assert cache.peek(token) is not None  # still within the ttl
        ticks.now += 0.2
        assert cache.peek(token) is None
        with pytest.raises(AuthenticationFailed):
            cache.check(token)
    finally:
        switch_side.dispose()
        elsewhere.dispose()


def test_a_revocation_through_the_same_database_empties_the_token_cache_at_once(
    seamed: Database,
) -> None:
    created, token = apikeys.create_switch_token(seamed, name="pop")
    cache = apikeys.SwitchTokenCache(seamed, clock=Ticks())
    cache.check(token)
    apikeys.revoke_switch_token(seamed, created.id)
    assert cache.peek(token) is None

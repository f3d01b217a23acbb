"""Every notification email reads in the account's language and the customer's words: each kind
of email (configuration, e911, DID, API, balance alert and reminder, suspension, restoring) is
caused through the services, sent by the outbox worker to a real SMTP server (aiosmtpd), and the
received message is parsed. In French and Spanish no English sentence is left, no settings key,
choice code or ``header:value`` target shows, money and dates are the locale's, and no secret is
anywhere in the message."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from dialgate.domain import settings as s
from dialgate.presentation import emails, i18n
from dialgate.presentation.words import EXTRA_KEY_LABELS
from dialgate.services import accounts, apikeys, dids, mailboxes, operators, outbox, suspension
from dialgate.services.uow import Database
from tests.integration.test_notifications import charge, mailer_for
from tests.support import msgids
from tests.support.clock import WallClock as Clock
from tests.support.smtp import Received, SmtpServer, free_port

SIP_SECRET = "NewSecret99"
API_SECRET = "ApiSecret123"
# One change of (nearly) every kind of value: routing targets, money, countries, codecs, POPs,
# choices, booleans, seconds, mailboxes, addresses, numbers and a password.
CHANGES = {
    "canada_route": "premium",
    "tollfree_carrier": "american",
    "allow_411": "yes",
    "allow_international": "yes",
    "max_call_time_domestic": "7200",
    "international_max_rate": "0.25",
    "allowed_countries": "FR,GB,MX",
    "voicemail": "1001",
    "music_on_hold": "coffee_shop_acoustic",
    "sip_password": SIP_SECRET,
    "ip_restriction_enabled": "yes",
    "ip_restriction": "192.0.2.10",
    "device_type": "pbx",
    "did_pop": "toronto1",
    "did_routing": "vm:1001",
    "did_failover_busy": "sys:hangup",
    "nat": "no",
    "dtmf_mode": "rfc2833",
    "allowed_codecs": "ulaw,g729",
    "encrypted_sip": "yes",
    "rtp_timeout": "120",
    "e911_callerid": "5145550100",
}
DID_CHANGES = {
    "description": "Front desk",
    "routing": "vm:1001",
    "failover_noanswer": "sys:hangup",
    "pop": "vancouver1",
    "plan": "flat",
    "cnam_lookup": "yes",
    "dial_time": "30",
}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


def every_email(
    db: Database, smtp: SmtpServer, number: str, did: str, language: str
) -> tuple[list[Received], datetime]:
    """Cause every kind of notification for a new account in ``language``; the messages its
    address received and when the balance went below the threshold."""
    clock = Clock()
    address = f"owner-{number}@example.com"
    with db.uow() as uow:
        accounts.create_account(uow, number=number, email=address, password="Portal1234",
                                balance=Decimal("6"), language=language)
        mailboxes.add_mailbox(uow, number, "1001")
        dids.add_did(uow, number, did, actor="t")
        uow.commit()
    mailer = mailer_for(smtp.port)
    outbox.run_once(db, mailer, clock)  # the set-up's own (the DID's): not what is tested
    before = len(smtp.sink.messages)
    with db.uow() as uow:
        accounts.update_settings(uow, number, CHANGES, actor="t")
        dids.set_did(uow, did, DID_CHANGES, actor="t", account=number)
        apikeys.enable_voipms_api(uow, number, password=API_SECRET, allowed_ips=["192.0.2.1"])
        uow.commit()
    charged_at = clock()
    charge(db, f"{number}-c1", "1.50", clock, account=number)  # 4.50: below the threshold of 5
    outbox.run_once(db, mailer, clock)
    clock.advance(days=1)
    outbox.run_once(db, mailer, clock)  # the daily reminder
    with db.uow() as uow:
        suspension.suspend(uow, operators.CLI, number, "unpaid invoice 9")
        uow.commit()
    with db.uow() as uow:
        suspension.restore(uow, operators.CLI, number, "")
        uow.commit()
    outbox.run_once(db, mailer, clock)
    return [m for m in smtp.sink.messages[before:] if m.envelope_to == [address]], charged_at


def _content(mail: Received) -> str:
    return "\n".join((mail.subject, mail.text, mail.html))


def _kinds(mails: list[Received], language: str) -> dict[str, list[Received]]:
    """The received messages by kind, recognized by their subject in that language: one of each,
    and two configuration changes (the settings', the DID's)."""
    by_kind: dict[str, list[Received]] = {}
    table = msgids.translated(language) if language != "en" else {}
    for kind, msgid in emails.SUBJECTS.items():
        pattern = r".+".join(map(re.escape, re.split(r"%\(\w+\)s", table.get(msgid, msgid))))
        by_kind[kind.value] = [m for m in mails if re.fullmatch(pattern, m.subject)]
    assert {k: len(v) for k, v in by_kind.items()} == {
        k.value: 2 if k.value == "config_changed" else 1 for k in emails.SUBJECTS
    }, [m.subject for m in mails]
    assert len(mails) == len(emails.SUBJECTS) + 1
    return by_kind


def _english_fragments() -> set[str]:
    """The English phrases a customer could read: every phrase msgid, and the fixed parts of
    the emails' own msgids (around their ``%(name)s`` values)."""
    fragments = {m for m in msgids.all_msgids() if "%(" not in m and " " in m}
    email_ids = [*emails.SUBJECTS.values(), *emails.BODIES.values(), emails.CHANGES_INTRO,
                 emails.REASON, emails.NOTIFICATION_FOOTER, emails.SUPPORT_FOOTER]
    for msgid in email_ids:
        fragments |= {p.strip(" :.,") for p in re.split(r"%\(\w+\)s", msgid)}
    return {f for f in fragments if " " in f and len(f) > 6}


def _raw_keys() -> set[str]:
    """Keys a customer must never read: every settings, DID and audit key with an underscore
    (a lone word like ``nat`` is also an English word), and the choice codes."""
    keys = {spec.key for spec in s.SPECS} | set(dids.KINDS) | set(EXTRA_KEY_LABELS)
    codes = {code for spec in s.SPECS for code in (spec.choices or {})}
    return {k for k in keys | codes if "_" in k}


def test_english_is_the_baseline_the_check_can_fail_on(db: Database, smtp: SmtpServer) -> None:
    mails, _at = every_email(db, smtp, "100000", "5145550101", "en")
    by_kind = _kinds(mails, "en")
    text = "\n".join(_content(m) for m in mails)
    # The same checks that French and Spanish must pass would fail on English...
    assert len({f for f in _english_fragments() if f in text}) > 25
    config = by_kind["config_changed"][0].text
    # ...and English reads the portal's words too.
    assert "- Main account, NAT: Yes → No\r\n" in config
    assert "Main account, Main SIP/IAX Password: changed" in config
    assert "International Amount Restriction: (none) → $0.2500" in config
    assert "Allowed Codecs: All codecs → G.711u, G.729" in config
    assert "Routing: Account or sub account: Main account (100000) → Voicemail: 1001" in config
    assert "$5.00" in by_kind["balance_low"][0].subject
    for key in _raw_keys():
        assert not re.search(rf"\b{key}\b", text), key


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_email_reads_in_the_accounts_language_with_no_english_key_or_secret(
    db: Database, smtp: SmtpServer, language: str
) -> None:
    mails, charged_at = every_email(db, smtp, "100000", "5145550101", language)
    by_kind = _kinds(mails, language)
    english = _english_fragments()
    raw_keys = _raw_keys()
    for mail in mails:
        content = _content(mail)
        assert f'<html lang="{language}">' in mail.html
        left = sorted(f for f in english if f in content)
        assert left == [], (mail.subject, left)
        for key in raw_keys:
            assert not re.search(rf"\b{key}\b", content), (mail.subject, key)
        assert not re.search(r"\b(account|vm|sys|none|fwd):", content), content
        for secret in (SIP_SECRET, API_SECRET, s.MASK):
            assert secret not in mail.message.as_string(), (mail.subject, secret)
    # Money and dates are the locale's (Babel): rates 4 decimals, balances 2.
    money = {"fr": ("0,2500\u00a0$US", "4,50\u00a0$US", "5,00\u00a0$US"),
             "es": ("0,2500\u00a0US$", "4,50\u00a0US$", "5,00\u00a0US$")}[language]
    assert money[0] in by_kind["config_changed"][0].text
    for kind in ("balance_low", "balance_reminder"):
        assert money[1] in by_kind[kind][0].text and money[2] in by_kind[kind][0].subject
    assert i18n.format_datetime(charged_at, language) in by_kind["balance_low"][0].text
    assert i18n.format_datetime(charged_at, "en") not in by_kind["balance_low"][0].text
    # The secrets say they changed, in the language.
    changed = {"fr": "modifié", "es": "modificado"}[language]
    for kind in ("config_changed", "api_changed"):
        assert changed in by_kind[kind][0].text, kind


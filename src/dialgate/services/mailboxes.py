"""An account's voicemail boxes and routing targets (IVR, queue, ring group, time condition).

They are what DID routing and the settings' targets may name (see ``lookups.validation_context``).
Call forwardings are entries of their own (``services.forwardings``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dialgate.adapters.db.models import MailboxRow, RoutingTargetRow
from dialgate.domain.errors import ValidationFailed
from dialgate.services.lookups import get_account
from dialgate.services.uow import UnitOfWork, use_case

MAILBOX = re.compile(r"\d{1,10}")
TARGET_KINDS = ("ivr", "queue", "grp", "tc")


@use_case
def add_mailbox(uow: UnitOfWork, account_number: str, mailbox: str, *, name: str = "") -> None:
    account = get_account(uow, account_number)
    if not MAILBOX.fullmatch(mailbox):
        raise ValidationFailed.single("mailbox", "invalid_mailbox", "must be 1 to 10 digits")
    uow.session.add(MailboxRow(account_id=account.id, mailbox=mailbox, name=name))


@use_case
def add_routing_target(
    uow: UnitOfWork,
    account_number: str,
    kind: str,
    ref: str,
    *,
    name: str = "",
    data: Mapping[str, Any] | None = None,
) -> None:
    account = get_account(uow, account_number)
    if kind not in TARGET_KINDS:
        raise ValidationFailed.single("kind", "invalid_choice", "must be ivr, queue, grp or tc")
    uow.session.add(
        RoutingTargetRow(
            account_id=account.id, kind=kind, ref=ref, name=name, data=dict(data or {})
        )
    )

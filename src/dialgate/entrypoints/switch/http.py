"""The switch API: what Kamailio asks Dialgate at call time (``/switch/v1/...``).

Three thin endpoints, each one service call, all behind a switch token (``SwitchCaller``:
Bearer, or HTTP Basic ``kamailio:<token>`` because Kamailio's persistent connections can only
carry URL credentials):

- ``POST /switch/v1/authorize``: ``services.authorize.authorize_for_switch`` (the decision plus
  the SIP settings to apply). Decisions come from the app's one ``PolicyCache``.
- ``POST /switch/v1/inbound``: ``services.inbound.route_inbound``, flattened into the few
  fields the Kamailio template reads. The chain of routes already tried travels through
  Kamailio as an opaque string (``chain``): Dialgate returns it, Kamailio keeps it in an AVP
  and sends it back with the next event, so loop detection needs no state here.
- ``POST /switch/v1/cdr``: ``services.billing.record_cdr`` (idempotent by call id), and
  ``/switch/v1/cdrs`` for a batch in one transaction (what Kamailio sends).

Unknown request fields (``call_id``, ...) are ignored so the switch can send more than we
read. Bad input is a 422 problem+json (the REST API's mapper).
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from dialgate import logs
from dialgate.adapters import metrics
from dialgate.domain.errors import DialgateError, ValidationFailed
from dialgate.domain.policy import AuthorizeRequest
from dialgate.entrypoints.api.deps import DbDep, SwitchCaller
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.policy_cache import app_policy_cache
from dialgate.services import billing, inbound
from dialgate.services.authorize import PolicyCache, authorize_for_switch

log = logging.getLogger("dialgate.switch")
# 401: no or a wrong switch token (customer keys are refused too); 422: bad input.
router = APIRouter(
    prefix="/switch/v1", tags=["switch"], responses=problem_responses(401, 422)
)

CHAIN_SEPARATOR = ","
MAX_CHAIN = 16  # more legs than any failover chain can have (routing + 3 failovers + forwards)


class AuthorizeIn(BaseModel):
    """The authorize request of the call-policy contract (extra fields ignored)."""

    model_config = ConfigDict(extra="ignore")

    account: str = Field(min_length=1, max_length=64)
    dialed: str = Field(min_length=1, max_length=64)
    source_ip: str | None = None
    pop: str | None = Field(default=None, max_length=32)
    caller_id: str | None = Field(default=None, max_length=64)
    transport: str = "udp"
    srtp: bool = False
    # The switch sends false: it never reads the trace, and it is most of the answer's bytes.
    trace: bool = True
    # "forward": a DID call of the account sent on to a forwarding's number (or a redirect's
    # target); ``caller_id`` is then the caller ID the forwarded leg will show.
    leg: str = Field(default="device", max_length=16)
    # SIP Call-ID, only for the log line (the same call id is on the call record's line).
    call_id: str | None = Field(default=None, max_length=256)


def answer_authorize(cache: PolicyCache, body: AuthorizeIn) -> dict[str, Any]:
    """The switch's answer for one call (both the FastAPI route and the fast path use this)."""
    start = perf_counter()
    call = AuthorizeRequest.checked(
        body.account,
        body.dialed,
        source_ip=body.source_ip or None,
        pop=body.pop or None,
        caller_id=body.caller_id or None,
        transport=body.transport.lower(),
        srtp=body.srtp,
        leg=body.leg,
    )
    answer = authorize_for_switch(cache, call, trace=body.trace)
    tally = metrics.decisions
    if tally is not None:
        tally.timed(perf_counter() - start)
    # Refusals at info (why a customer's call failed); allowed calls at debug: at a POP's
    # rate a line per call is several per cent of the switch path's CPU, and the call records
    # already say what was placed.
    level = logging.DEBUG if answer["allow"] else logging.INFO
    if log.isEnabledFor(level):
        logs.log_fields(log, level, "authorize", {
            "call_id": body.call_id, "account": body.account, "allow": answer["allow"],
            "reason": answer["reason"], "sip_code": answer["sip_code"],
        })
    return answer


class InboundIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    did: str = Field(min_length=1, max_length=32)
    event: str = "new"
    chain: str = Field(default="", max_length=2048)


def decode_chain(chain: str) -> list[str]:
    """The routes tried so far, from the opaque string Kamailio echoes back."""
    tried = [part for part in chain.split(CHAIN_SEPARATOR) if part]
    if len(tried) > MAX_CHAIN or any(len(part) > 128 or ":" not in part for part in tried):
        raise ValidationFailed.single("chain", "invalid_chain", "is not a chain Dialgate sent")
    return tried


def switch_inbound_answer(result: dict[str, Any]) -> dict[str, Any]:
    """Flatten ``InboundResult.to_json()`` into what ``kamailio.cfg`` reads (see
    ``SWITCH_CONTRACT``); strings are never null so Kamailio's jansson can compare them."""
    target = result["target"]
    return {
        "did": result["did"],
        "account": result["account"],
        "event": result["event"],
        "position": result["position"],
        "kind": target["kind"],
        "value": target["value"],
        "sip_user": target["sip_user"] or "",
        "forward_number": target["forward_number"] or "",
        "forward_callerid": (target["forward"] or {}).get("callerid_override", ""),
        "forward_diversion": "1" if (target["forward"] or {}).get("diversion_header") else "0",
        "mailbox": target["mailbox"] or "",
        "system_action": target["system_action"] or "",
        "dial_time": result["dial_time_s"],
        "cnam_lookup": result["cnam_lookup"],
        "loop_detected": result["loop_detected"],
        "pop": result["pop"],
        "chain": CHAIN_SEPARATOR.join(result["tried"]),
    }


@router.post("/authorize")
async def authorize(request: Request, body: AuthorizeIn, switch: SwitchCaller) -> dict[str, Any]:
    """Decide one outbound call. ``async``: the decision is in memory (a compiled snapshot);
    only the first call of an account, or a change notice, touches the database. Requests with
    a known token and a valid body are answered before they reach here (``fastpath``)."""
    return answer_authorize(app_policy_cache(request.app), body)


@router.post("/inbound")
def route_inbound(
    request: Request, db: DbDep, body: InboundIn, switch: SwitchCaller
) -> dict[str, Any]:
    """Where a DID call goes next: after ``new``, or after the leg the chain ended on was
    busy / unreachable / unanswered. A leg to an account carries that account's SIP
    settings (``sip``: media rules, RTP time-outs, music on hold), as authorize does."""
    tried = decode_chain(body.chain)
    with db.uow(write=False) as uow:
        result = inbound.route_inbound(uow, body.did, event=body.event, tried=tried)
        answer = switch_inbound_answer(result.to_json())
    profile = None
    if answer["kind"] == "account" and answer["sip_user"]:
        profile = app_policy_cache(request.app).sip_profile(answer["sip_user"])
    answer["sip"] = profile.to_json() if profile else None
    return answer


@router.post("/cdr")
def record_cdr(
    db: DbDep, payload: Annotated[dict[str, Any], Body()], switch: SwitchCaller
) -> dict[str, Any]:
    """Record and rate a finished call; the same call id twice is charged once."""
    result = billing.record_cdr(db, payload)
    metrics.CDR_BATCHES.inc()
    metrics.CDR_RECORDS.labels("duplicate" if result.duplicate else "recorded").inc()
    log.debug("cdr", extra={"call_id": result.call_id, "account": result.account,
                            "outcome": "duplicate" if result.duplicate else "recorded"})
    return result.to_json()


MAX_CDR_BATCH = 500


@router.post("/cdrs")
def record_cdrs(
    db: DbDep,
    payload: Annotated[list[dict[str, Any]], Body(max_length=MAX_CDR_BATCH)],
    switch: SwitchCaller,
) -> dict[str, Any]:
    """Record a batch of finished calls in one transaction (Kamailio sends what ended in the
    last 100 ms). Each record is charged once, as with ``/cdr`` (a repeat counts under
    ``duplicates``); a refused record is listed under ``rejected`` with its index and errors,
    and the others are still recorded. A database that cannot take the write (full disk,
    read-only, down) is a 503: nothing of the batch is kept, and the switch sends it again."""
    try:
        result = billing.record_cdrs(db, payload)
    except SQLAlchemyError as exc:
        # One clear line per refused batch (no traceback: the cause is the database's, and
        # the batch is not lost while the switch retries it).
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        log.error("call records not stored: the database refused the batch; the switch "
                  "will send it again", extra={"records": len(payload),
                                               "error": type(exc).__name__, "detail": detail})
        raise HTTPException(
            503, "the database cannot store call records right now; send the batch again",
            {"Retry-After": "1"},
        ) from None
    _count_batch(payload, result)
    # Counts, not the records: the switch only needs to know what to log as refused.
    return {
        "recorded": result.recorded,
        "duplicates": result.duplicates,
        "rejected": [_rejection(index, exc) for index, exc in result.rejected],
    }


def _count_batch(payload: list[dict[str, Any]], result: billing.CdrBatchResult) -> None:
    """Metrics and a log line per record of a committed batch, with the call id an engineer
    greps for: refused records as warnings, the others at debug (as allowed calls)."""
    metrics.CDR_BATCHES.inc()
    metrics.CDR_RECORDS.labels("recorded").inc(result.recorded)
    metrics.CDR_RECORDS.labels("duplicate").inc(result.duplicates)
    metrics.CDR_RECORDS.labels("rejected").inc(len(result.rejected))
    refused = {index: exc.code for index, exc in result.rejected}
    for index, code in refused.items():
        record = payload[index]
        log.warning("cdr refused", extra={"call_id": record.get("call_id"),
                                          "account": record.get("account"),
                                          "outcome": "rejected", "code": code})
    if log.isEnabledFor(logging.DEBUG):
        for index, record in enumerate(payload):
            if index not in refused:
                log.debug("cdr", extra={"call_id": record.get("call_id"),
                                        "account": record.get("account")})


def _rejection(index: int, exc: DialgateError) -> dict[str, Any]:
    errors = exc.errors if isinstance(exc, ValidationFailed) else []
    return {
        "index": index,
        "code": exc.code,
        "detail": str(exc),
        "errors": [{"field": e.field, "code": e.code, "message": e.message} for e in errors],
    }


def warm_up(app: FastAPI) -> None:
    """Build the policy cache and compile the numbering plan before the first call (run at
    start-up). A database that is not migrated yet only delays this to the first call."""
    try:
        app_policy_cache(app).warm()
    except SQLAlchemyError as exc:
        log.warning("switch policy cache not warmed at start-up: %s", exc.__class__.__name__)


def mount(app: FastAPI) -> None:
    app.include_router(router)

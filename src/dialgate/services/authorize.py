"""Call authorization: the one code path from every entrypoint to ``domain.policy.decide``.

The CLI, the REST simulate endpoint, the portal's "test a number" page and the switch endpoint all
call ``authorize_call``. Decisions come from compiled, immutable snapshots held by a
``PolicyCache``, so the hot path does no SQL:

- a snapshot is built on first use of an account (one short read transaction) and kept;
- every change that affects call decisions writes a row to ``policy_changes`` in its own
  transaction (settings, sub accounts, DIDs' e911 flag, balance, rate decks);
- the cache reads that feed at most every ``poll_interval`` seconds (one indexed query for the
  rows after the last sequence number it saw) and drops the snapshots it names, so a change made
  by any process (CLI, another worker, the portal) is enforced everywhere within that interval;
  a row that says only the balance changed (every answered call's charge) updates the balance
  of the snapshots held instead (one query for all of them), and nothing is compiled again;
  in the web app a background thread does that read (``start_refresher``), not the requests;
- changes committed through the same ``Database`` are applied at once (commit hook);
- rate decks are shared by every snapshot of the process (``rates.LiveDecks``): a new deck version
  is loaded beside the old one, in the background thread when there is one, then swapped in one
  assignment; snapshots are kept, and no decision waits for a deck to load.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from dialgate.adapters import metrics
from dialgate.adapters.db import repo_accounts, tables
from dialgate.adapters.dns import resolve_host
from dialgate.adapters.numbering_cache import numbering_plan
from dialgate.domain import settings as s
from dialgate.domain.media import MediaRules, media_rules
from dialgate.domain.numbering import NumberingPlan
from dialgate.domain.policy import AuthorizeRequest, Decision, decide
from dialgate.domain.snapshot import PolicySnapshot, compile_snapshot
from dialgate.services import lookups, policy_feed, rates
from dialgate.services.uow import Database, UnitOfWork

# Host names in an account's IP allow-list are resolved when its snapshot is built; the system
# resolver (``adapters.dns``) unless the cache is given another (tests give an in-memory one).
Resolver = Callable[[str], Iterable[str]]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SipProfile:
    """The advanced settings the SIP layer applies to an allowed call."""

    allowed_codecs: tuple[str, ...]
    nat: str
    dtmf_mode: str
    encrypted_sip: bool
    rtp_timeout: int
    rtp_hold_timeout: int
    music_on_hold: str = "bleep"
    # rtpengine flags for this account's calls, derived once when the profile is built.
    media: MediaRules | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed_codecs": list(self.allowed_codecs),
            "nat": self.nat,
            "dtmf_mode": self.dtmf_mode,
            "encrypted_sip": self.encrypted_sip,
            "rtp_timeout": self.rtp_timeout,
            "rtp_hold_timeout": self.rtp_hold_timeout,
            "music_on_hold": self.music_on_hold,
            "media": self.media.to_json() if self.media else None,
        }


@dataclass(frozen=True, slots=True)
class _Entry:
    snapshot: PolicySnapshot | None  # None: no such account (cached too, until it appears)
    sip: SipProfile | None


class PolicyCache:
    def __init__(
        self,
        db: Database,
        *,
        poll_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        resolver: Resolver = resolve_host,
    ) -> None:
        self._db = db
        self._poll_interval = poll_interval
        self._clock = clock
        self._resolver = resolver
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._plan: NumberingPlan | None = None
        self._decks = rates.LiveDecks()
        self._decks_loaded = False
        self._decks_stale = False
        self._deck_wanted = threading.Event()
        self._loader: threading.Thread | None = None
        self._pops: Mapping[str, str] | None = None
        self._last_seq = 0
        self._next_poll = 0.0
        self.last_feed_read: float | None = None  # clock() of the last successful feed read
        # Bumped by every invalidation: a snapshot built while one happened may be stale and is
        # not kept.
        self._generation = 0
        self._refresher: threading.Thread | None = None
        self._stop_refresh = threading.Event()
        db.after_commit_hooks.append(self.invalidate)
        with db.uow(write=False) as uow:
            self._last_seq = uow.scalar(select(func.max(tables.policy_changes.c.seq))) or 0
        self.last_feed_read = clock()

    def stats(self) -> dict[str, int | bool]:
        """What this process's cache holds (the operator console's overview)."""
        return {"snapshots": len(self._entries), "feed_seq": self._last_seq,
                "refresher": self._refresher is not None and self._refresher.is_alive()}

    # -- invalidation ----------------------------------------------------------------------

    def invalidate(self, accounts_changed: Iterable[str]) -> None:
        accounts = set(accounts_changed)
        with self._lock:
            self._generation += 1
            if rates.DECKS_CHANGED in accounts:
                # Snapshots stay: they read the shared decks, which are swapped when the new
                # version is loaded (in the background thread when there is one).
                accounts.discard(rates.DECKS_CHANGED)
                self._decks_stale = True
                self._deck_wanted.set()
            if rates.ALL_ACCOUNTS in accounts:
                self._entries.clear()
            elif accounts:
                # The accounts and their sub accounts, in one pass over the cache.
                for subject in [k for k in self._entries
                                if lookups.split_subject(k)[0] in accounts]:
                    del self._entries[subject]

    def _poll(self, *, force: bool = False) -> None:
        now = self._clock()
        if now < self._next_poll and not force:
            return
        self._next_poll = now + self._poll_interval
        with self._db.uow(write=False) as uow:
            feed = tables.policy_changes.c
            rows = uow.execute(
                select(feed.seq, feed.account, feed.kind)
                .where(feed.seq > self._last_seq).order_by(feed.seq)
            ).all()
        self.last_feed_read = self._clock()
        if rows:
            self._last_seq = rows[-1][0]
            changed = {account for _seq, account, kind in rows if kind != policy_feed.BALANCE}
            self.invalidate(changed)
            self._update_balances({account for _seq, account, _kind in rows} - changed)

    def _update_balances(self, accounts: set[str]) -> None:
        """Only these accounts' balances changed (every answered call's charge does that): the
        snapshots held for them and their sub accounts take the new balance, in one query for
        all of them, instead of being compiled again at their next call."""
        if not accounts:
            return
        with self._lock:
            # A snapshot being compiled now may have read the older balance: it is not kept.
            self._generation += 1
            generation = self._generation
            # One pass over the cache, however many accounts were charged since the last poll.
            held = {subject: entry for subject, entry in self._entries.items()
                    if entry.snapshot is not None
                    and lookups.split_subject(subject)[0] in accounts}
        if not held:
            return
        mains = {lookups.split_subject(subject)[0] for subject in held}
        with self._db.uow(write=False) as uow:
            balances = repo_accounts.balances(uow, mains)
        with self._lock:
            if generation != self._generation:
                # Something else changed meanwhile (a snapshot may have been built with a
                # newer balance than the one read here): compile those subjects again.
                for subject in held:
                    self._entries.pop(subject, None)
                self._generation += 1
                return
            for subject, entry in held.items():
                balance = balances.get(lookups.split_subject(subject)[0])
                snapshot = entry.snapshot
                if balance is None or snapshot is None:  # the account is gone
                    self._entries.pop(subject, None)
                else:
                    self._entries[subject] = _Entry(snapshot.with_balance(balance), entry.sip)

    def start_refresher(self) -> None:
        """Read the change feed from a background thread, so that no request ever does SQL
        for it (the web app does this; the CLI polls inline)."""
        if self._refresher is not None:
            return
        self._stop_refresh.clear()
        self._refresher = threading.Thread(
            target=self._refresh_loop, name="policy-refresh", daemon=True
        )
        self._refresher.start()
        self._loader = threading.Thread(target=self._deck_loop, name="deck-loader", daemon=True)
        self._loader.start()

    def stop_refresher(self) -> None:
        if self._refresher is None:
            return
        self._stop_refresh.set()
        self._deck_wanted.set()
        self._refresher.join(timeout=5)
        self._refresher = None
        if self._loader is not None:
            self._loader.join(timeout=5)
            self._loader = None

    def _refresh_loop(self) -> None:
        failing = False
        while not self._stop_refresh.wait(self._poll_interval):
            try:
                self._poll(force=True)
            except SQLAlchemyError as exc:
                # The database may be briefly unreachable; keep serving what we have. Logged
                # once per outage, not four times a second.
                metrics.FEED_ERRORS.inc()
                if not failing:
                    log.warning("policy change feed could not be read; retrying",
                                extra={"error": type(exc).__name__})
                failing = True
            else:
                if failing:
                    log.info("policy change feed read again")
                failing = False
            metrics.FEED_LAG.set(self.feed_age())

    def feed_age(self) -> float:
        """Seconds since the change feed was last read successfully (infinite: never)."""
        if self.last_feed_read is None:
            return float("inf")
        return max(0.0, self._clock() - self.last_feed_read)

    @property
    def warmed(self) -> bool:
        """True once the numbering plan every decision shares is compiled (``warm``)."""
        return self._plan is not None

    def _deck_loop(self) -> None:
        """Load new deck versions off the request path; requests keep the old decks meanwhile."""
        while not self._stop_refresh.is_set():
            self._deck_wanted.wait()
            if self._stop_refresh.is_set():
                return
            self._deck_wanted.clear()
            self._decks_stale = False
            try:
                self._reload_decks()
            except SQLAlchemyError:
                log.warning("rate decks could not be reloaded; retrying", exc_info=True)
                self._decks_stale = True
                self._stop_refresh.wait(self._poll_interval)
                self._deck_wanted.set()

    def _reload_decks(self) -> None:
        with self._db.uow(write=False) as uow:
            if self._decks.reload(uow):
                log.info("rate decks now at versions %s", self._decks.version_ids)
        self._decks_loaded = True

    def warm(self) -> None:
        """Compile what every decision shares (numbering plan, rate decks, POPs) now, so the
        first call after start-up is not the one that waits for it (about 2 s)."""
        with self._db.uow(write=False) as uow:
            self._shared(uow)

    # -- building --------------------------------------------------------------------------

    def _shared(
        self, uow: UnitOfWork
    ) -> tuple[NumberingPlan, rates.LiveDecks, Mapping[str, str]]:
        if self._plan is None:
            self._plan = numbering_plan()
        if not self._decks_loaded:
            # The first use in this process: nothing to answer with yet, so load now.
            self._decks_stale = False
            self._decks.reload(uow)
            self._decks_loaded = True
        if self._pops is None:
            self._pops = {
                name: country
                for name, country in uow.execute(select(tables.pops.c.name, tables.pops.c.country))
            }
        return self._plan, self._decks, self._pops

    def _build(self, subject: str) -> _Entry:
        main_number, username = lookups.split_subject(subject)
        with self._db.uow(write=False) as uow:
            account = repo_accounts.account_record(uow, main_number)
            if account is None:
                return _Entry(None, None)
            if username is None:
                sub = None
            else:
                sub_row = repo_accounts.subaccount_record(uow, account.id, username)
                if sub_row is None:
                    return _Entry(None, None)
                sub = lookups.load_settings(sub_row)
            values = s.effective_settings(lookups.load_settings(account), sub).values
            plan, decks, pops = self._shared(uow)
            e911 = repo_accounts.e911_numbers(uow, account.id)
            hosts = {
                entry: list(self._resolver(entry))
                for entry in values.get("ip_restriction", ())
                if _is_hostname(entry)
            }
            snapshot = compile_snapshot(
                account=subject,
                enabled=account.enabled,
                settings=values,
                balance=account.balance,
                pop_countries=pops,
                decks=decks,
                plan=plan,
                e911_dids=e911,
                resolved_hosts=hosts,
            )
        sip = SipProfile(
            allowed_codecs=tuple(values["allowed_codecs"]),
            nat=values["nat"],
            dtmf_mode=values["dtmf_mode"],
            encrypted_sip=bool(values["encrypted_sip"]),
            rtp_timeout=int(values["rtp_timeout"]),
            rtp_hold_timeout=int(values["rtp_hold_timeout"]),
            music_on_hold=str(values["music_on_hold"]),
            media=media_rules(
                nat=values["nat"],
                encrypted_sip=bool(values["encrypted_sip"]),
                allowed_codecs=values["allowed_codecs"],
                dtmf_mode=values["dtmf_mode"],
            ),
        )
        return _Entry(snapshot, sip)

    def _entry(self, subject: str) -> _Entry:
        if self._refresher is None:
            self._poll()
            if self._decks_stale and self._decks_loaded:
                # No background thread (CLI, tests): a changed deck is loaded by the next call.
                self._decks_stale = False
                self._reload_decks()
        entry = self._entries.get(subject)
        if entry is None:
            generation = self._generation
            start = perf_counter()
            entry = self._build(subject)
            metrics.SNAPSHOT_BUILD_SECONDS.observe(perf_counter() - start)
            with self._lock:
                if generation == self._generation:
                    self._entries[subject] = entry
        return entry

    def snapshot(self, subject: str) -> PolicySnapshot | None:
        return self._entry(subject).snapshot

    def sip_profile(self, subject: str) -> SipProfile | None:
        return self._entry(subject).sip


def _is_hostname(entry: str) -> bool:
    return not any(ch.isdigit() for ch in entry.split(".")[-1]) and ":" not in entry


def authorize_call(cache: PolicyCache, request: AuthorizeRequest) -> Decision:
    """The decision for one outbound call (the only way any entrypoint gets one), counted for
    the metrics by reason and destination class."""
    return decide_counted(cache.snapshot(request.account), request)


def decide_counted(snapshot: PolicySnapshot | None, request: AuthorizeRequest) -> Decision:
    """``decide``, counted in ``metrics.decision_counts`` (a dict update by reason then class;
    ``benchmarks/metrics_cost.py`` measures what it costs against ``metrics.disable()``). The
    class is keyed by its plain string value: hashing the enum member itself runs Python code,
    twice per update."""
    decision = decide(snapshot, request)
    counts = metrics.decision_counts
    if counts is not None:
        destination = decision.destination
        klass = destination.klass._value_ if destination is not None else "none"
        counts[decision.reason][klass] += 1
    return decision


def authorize_for_switch(
    cache: PolicyCache, request: AuthorizeRequest, *, trace: bool = True
) -> dict[str, Any]:
    """The switch's answer: the decision plus the SIP settings to apply when it is allowed
    (``trace``: with the decision's trace; a switch asks without it)."""
    decision = authorize_call(cache, request)
    body = decision.to_json(trace=trace)
    profile = cache.sip_profile(request.account) if decision.allow else None
    body["sip"] = profile.to_json() if profile else None
    return body

"""Per-account RTP time-outs on top of rtpengine's global ones.

rtpengine can only time calls out with one POP-wide limit, but every account (and sub account)
has its own ``rtp_timeout`` and ``rtp_hold_timeout``. The watcher runs beside each POP's
Kamailio (``dialgate switch media-watch``) and, every ``interval`` seconds:

1. reads the confirmed dialogs (``dlg.list``), the limits Kamailio stored for each anchored
   call when it was authorized (htable ``rtplimits``: ``"timeout:hold_timeout"``) and which
   calls are on hold (htable ``rtphold``, set and cleared by re-INVITEs);
2. asks every rtpengine which calls it carries (``list``) and how many RTP packets each has
   received so far (``query``): a call whose count did not move has been silent since the
   tick that last saw it move;
3. ends each call silent for at least its limit (the hold limit while on hold): the reason goes
   to htable ``mediaend`` (read by the call record route), then ``dlg.end_dlg`` sends BYE to
   both sides and the call record is written with the real duration and ``rtp_timeout``.

Silence is measured on the watcher's own clock from packet counters, so a call ends between
``limit`` and ``limit + 2 * interval`` seconds after its last packet. Any RTP from either
party keeps the call alive. A restarted watcher starts every clock afresh (calls get more
time, never less).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dialgate.domain.media import rtp_limit, rtp_timed_out

log = logging.getLogger("dialgate.media_watch")
CONFIRMED = 4  # Kamailio's dialog state: answered and ACKed


class Rpc(Protocol):
    def call(self, method: str, *params: Any) -> Any: ...


class Relay(Protocol):
    def request(self, command: str, **params: Any) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Ended:
    call_id: str
    silence_s: float
    limit_s: int
    on_hold: bool


@dataclass(slots=True)
class _Seen:
    packets: int
    changed_at: float


def _htable(rpc: Rpc, name: str) -> dict[str, str]:
    """Every entry of a Kamailio htable (``htable.dump``) as name -> value."""
    entries: dict[str, str] = {}
    for slot in rpc.call("htable.dump", name) or []:
        for item in slot.get("slot", []):
            entries[str(item["name"])] = str(item["value"])
    return entries


def _limits(raw: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    limits: dict[str, tuple[int, int]] = {}
    for call_id, value in raw.items():
        timeout, _, hold = value.partition(":")
        try:
            limits[call_id] = (int(timeout), int(hold))
        except ValueError:
            log.warning("rtplimits entry for %s is not timeout:hold (%r)", call_id, value)
    return limits


def rtp_packets(query: Mapping[str, Any]) -> int:
    """RTP packets rtpengine has received for a call, both parties together."""
    totals = query.get("totals") or {}
    return int((totals.get("RTP") or {}).get("packets", 0))


class MediaWatcher:
    def __init__(
        self,
        kamailio: Rpc,
        relays: Sequence[Relay],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kamailio = kamailio
        self._relays = list(relays)
        self._clock = clock
        self._seen: dict[str, _Seen] = {}

    def _dialogs(self) -> dict[str, tuple[int, int]]:
        """Confirmed dialogs: call id -> (h_entry, h_id), what dlg.end_dlg takes."""
        found: dict[str, tuple[int, int]] = {}
        for dlg in self._kamailio.call("dlg.list") or []:
            if dlg.get("state") == CONFIRMED:
                found[str(dlg["call-id"])] = (int(dlg["h_entry"]), int(dlg["h_id"]))
        return found

    def _packets(self, call_ids: Iterable[str]) -> dict[str, int]:
        wanted = set(call_ids)
        counts: dict[str, int] = {}
        for relay in self._relays:
            try:
                carried = set(relay.request("list", limit=1_000_000).get("calls", []))
            except Exception as exc:  # one relay down must not stop the others' checks
                log.warning("rtpengine list failed: %s", exc)
                continue
            for call_id in sorted(wanted & carried):
                try:
                    counts[call_id] = rtp_packets(relay.request("query", call_id=call_id))
                except Exception as exc:
                    log.warning("rtpengine query %s failed: %s", call_id, exc)
            wanted -= carried
        return counts

    def tick(self) -> list[Ended]:
        """One look at every call; returns the calls it ended."""
        limits = _limits(_htable(self._kamailio, "rtplimits"))
        held = set(_htable(self._kamailio, "rtphold"))
        dialogs = self._dialogs()
        watched = [c for c in dialogs if c in limits]
        counts = self._packets(watched)
        now = self._clock()
        ended: list[Ended] = []
        for call_id in watched:
            packets = counts.get(call_id)
            if packets is None:  # not (or no longer) on any relay: nothing to measure
                continue
            seen = self._seen.get(call_id)
            if seen is None or packets != seen.packets:
                self._seen[call_id] = seen = _Seen(packets, now)
            timeout, hold_timeout = limits[call_id]
            on_hold = call_id in held
            limit = rtp_limit(on_hold=on_hold, rtp_timeout=timeout, rtp_hold_timeout=hold_timeout)
            silence = now - seen.changed_at
            if rtp_timed_out(silence, limit):
                ended.append(self._end(call_id, dialogs[call_id], silence, limit, on_hold))
        for call_id in list(self._seen):
            if call_id not in dialogs:
                del self._seen[call_id]
        return ended

    def _end(
        self, call_id: str, ids: tuple[int, int], silence: float, limit: int, on_hold: bool
    ) -> Ended:
        log.warning(
            "RTP_TIMEOUT call %s: no RTP for %.1f s (limit %d s%s): ending it",
            call_id, silence, limit, ", on hold" if on_hold else "",
        )
        self._kamailio.call("htable.sets", "mediaend", call_id, "rtp_timeout")
        self._kamailio.call("dlg.end_dlg", ids[0], ids[1])
        self._seen.pop(call_id, None)
        return Ended(call_id, silence, limit, on_hold)

    def run(self, interval: float, should_stop: Callable[[float], bool]) -> None:
        """Tick every ``interval`` seconds until ``should_stop(interval)`` (which waits)
        returns true. Errors of one tick are logged; the next tick tries again."""
        started = False
        while True:
            try:
                self.tick()
                if not started:
                    started = True
                    log.info("media watch running: %d rtpengine(s), every %.2f s",
                             len(self._relays), interval)
            except Exception:
                log.exception("media watch tick failed")
            if should_stop(interval):
                return

"""How long Dialgate takes to answer each evapi request, seen on the wire.

``sip_load.py`` reports the caller's INVITE -> final response time, which adds up Kamailio,
Dialgate and the scheduler. This splits out Dialgate's part from a packet capture of the evapi
connection (Kamailio -> Dialgate requests, Dialgate -> Kamailio answers), taken during a run:

    tcpdump -i lo -w evapi.pcap 'tcp port EVAPI_PORT'     # while sip_load.py runs
    python benchmarks/evapi_latency.py evapi.pcap --port EVAPI_PORT

Each request is matched to its answer by the transaction index and label at the start of both
netstrings; the time between the segment that completed the request and the one that
completed the answer is Dialgate's: waiting for a core, for its event loop (and the GIL),
and the decision. Prints the count, p50, p90, p99 and max in milliseconds, and the answers
slower than ``--slow`` ms grouped by the second they happened in (stalls show up as bursts).
"""

from __future__ import annotations

import argparse
import re
import statistics
import struct
from collections import Counter
from pathlib import Path

START = re.compile(rb"(?<![0-9])[0-9]+:[0-9]+:[0-9]+:")
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113


def segments(pcap: Path, port: int) -> list[tuple[float, int, bool, bytes]]:
    """(time, the peer's port, sent to ``port``, TCP payload) of every data segment to or from
    ``port`` (each Dialgate worker has a connection of its own: the peer port tells them
    apart)."""
    data = pcap.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"  # as written by this host
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    link_len = {LINKTYPE_ETHERNET: 14, LINKTYPE_LINUX_SLL: 16}.get(linktype)
    if link_len is None:
        raise SystemExit(f"unsupported link type {linktype} (capture on lo)")
    out: list[tuple[float, int, bool, bytes]] = []
    expected: dict[tuple[int, bool], int] = {}  # the next sequence number of each stream
    gaps = 0
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, caplen, _length = struct.unpack_from(endian + "IIII", data, offset)
        offset += 16
        frame = data[offset:offset + caplen]
        offset += caplen
        ip = frame[link_len:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:  # IPv4 TCP only
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        tcp = ip[ihl:total]
        src, dst, seq = struct.unpack_from("!HHI", tcp)
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload and port in (src, dst):
            peer = src if dst == port else dst
            stream = expected.get((peer, dst == port))
            if stream is not None and seq != stream:
                if (seq - stream) % 2**32 > 2**31:
                    continue  # a retransmission of bytes already read
                gaps += 1  # bytes the capture missed: their messages are skipped
                payload = GAP + payload
            expected[(peer, dst == port)] = (seq + len(payload)) % 2**32
            out.append((sec + frac / (1e9 if nano else 1e6), peer, dst == port, bytes(payload)))
    if gaps:
        print(f"the capture missed data {gaps} times (tcpdump dropped packets): "
              "the messages around each gap are left out")
    return out


GAP = b"\0"  # marks missing bytes: never part of a netstring


def netstrings(stream: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    """Each netstring of one direction, with the time of the segment that completed it."""
    buffer = bytearray()
    out: list[tuple[float, bytes]] = []
    for when, payload in stream:
        if payload.startswith(GAP):
            # Bytes are missing before this segment: drop the partial message and resync on
            # the next "<digits>:<digits>:<digits>:" that starts a netstring.
            buffer.clear()
            found = START.search(payload)
            if found is None:
                continue
            payload = payload[found.start():]
        buffer += payload
        while True:
            colon = buffer.find(b":")
            if colon < 0:
                break
            size = int(buffer[:colon])
            end = colon + 1 + size
            if len(buffer) < end + 1:
                break
            out.append((when, bytes(buffer[colon + 1:end])))
            del buffer[:end + 1]  # the trailing comma too
    return out


def key(message: bytes) -> bytes:
    index, label, _rest = message.split(b":", 2)
    return index + b":" + label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pcap", type=Path)
    parser.add_argument("--port", type=int, required=True, help="the evapi port (Kamailio's)")
    parser.add_argument("--slow", type=float, default=10.0, help="ms: list slower answers")
    args = parser.parse_args()
    # Kamailio listens on the evapi port and Dialgate connects to it: requests come *from*
    # that port, answers go *to* it.
    packets = segments(args.pcap, args.port)
    requests: list[tuple[float, bytes]] = []
    answers: list[tuple[float, bytes]] = []
    for peer in sorted({peer for _t, peer, _to, _p in packets}):
        requests += netstrings([(t, p) for t, x, to_port, p in packets
                                if x == peer and not to_port])
        answers += netstrings([(t, p) for t, x, to_port, p in packets if x == peer and to_port])
    asked = {key(m): t for t, m in requests}
    took = sorted((t - asked[key(m)]) * 1000 for t, m in answers if key(m) in asked)
    if not took:
        raise SystemExit("no request/answer pairs found: is --port the evapi port?")

    def pct(p: float) -> float:
        return took[min(len(took) - 1, int(p / 100 * len(took)))]

    print(f"{len(took)} answers ({len(requests)} requests): p50 {pct(50):.3f} ms, "
          f"p90 {pct(90):.3f} ms, p99 {pct(99):.3f} ms, max {took[-1]:.3f} ms, "
          f"mean {statistics.fmean(took):.3f} ms")
    slow = Counter(int(t) for t, m in answers
                   if key(m) in asked and (t - asked[key(m)]) * 1000 > args.slow)
    if slow:
        start = int(min(t for t, _m in requests))
        print(f"answers slower than {args.slow:g} ms, by second of the capture: "
              + ", ".join(f"{second - start}s: {n}" for second, n in sorted(slow.items())))


if __name__ == "__main__":
    main()

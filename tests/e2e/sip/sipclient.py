"""Stdlib SIP user agent for tests: UAC (REGISTER, INVITE, ACK, BYE, CANCEL with digest auth)
and UAS (answer 200 / 486 / ring forever / stay silent), over UDP, TCP or TLS.

One socket per agent; a reader thread parses every message and hands responses to whoever
waits for them (matched by Call-ID and CSeq) and requests to the UAS side. Every message is
kept in ``received`` so tests can assert on what really went over the wire.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import random
import re
import select
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

CODEC_PT = {"PCMU": 0, "GSM": 3, "PCMA": 8, "G722": 9, "G729": 18}
# How long every test UA takes to answer a BYE: a long-haul round trip (see SipAgent).
NETWORK_ROUND_TRIP_S = 0.1


def _rand(n: int = 10) -> str:
    return uuid.uuid4().hex[:n]


def free_port(low: int = 20000, high: int = 32000) -> int:
    """A port below the ephemeral range (32768+) that is free for both UDP and TCP: a
    TIME_WAIT client socket on an ephemeral port can otherwise block a later bind."""
    for _ in range(200):
        port = random.randint(low, high)
        socks = [socket.socket(socket.AF_INET, t) for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM)]
        try:
            for s in socks:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port")


@dataclass
class SipMessage:
    first_line: str
    headers: list[tuple[str, str]]
    body: str = ""
    source: tuple[str, int] | None = None

    @property
    def is_response(self) -> bool:
        return self.first_line.startswith("SIP/2.0 ")

    @property
    def code(self) -> int:
        return int(self.first_line.split(" ", 2)[1]) if self.is_response else 0

    @property
    def reason(self) -> str:
        parts = self.first_line.split(" ", 2)
        return parts[2] if self.is_response and len(parts) > 2 else ""

    @property
    def method(self) -> str:
        if self.is_response:
            return self.header("CSeq").split()[1]
        return self.first_line.split(" ", 1)[0]

    @property
    def ruri(self) -> str:
        return self.first_line.split(" ")[1]

    def header(self, name: str, default: str = "") -> str:
        values = self.all(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        names = {name.lower(), _COMPACT.get(name.lower(), name.lower())}
        return [v for k, v in self.headers if k.lower() in names]

    @property
    def call_id(self) -> str:
        return self.header("Call-ID")

    @property
    def cseq(self) -> int:
        return int(self.header("CSeq").split()[0])

    def tag(self, name: str) -> str:
        m = re.search(r";\s*tag=([^;>\s]+)", self.header(name))
        return m.group(1) if m else ""

    def sdp_codecs(self) -> list[str]:
        """Codec names of the first m= line, in order (from a=rtpmap, else static types)."""
        m = re.search(r"^m=audio \d+ \S+ ([\d ]+)", self.body, re.M)
        if not m:
            return []
        maps = dict(re.findall(r"^a=rtpmap:(\d+) ([^/\s]+)", self.body, re.M))
        static = {str(v): k for k, v in CODEC_PT.items()}
        return [maps.get(pt) or static.get(pt, pt) for pt in m.group(1).split()]

    def encode(self) -> bytes:
        body = self.body.encode()
        lines = [self.first_line]
        lines += [f"{k}: {v}" for k, v in self.headers if k.lower() != "content-length"]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_COMPACT = {"via": "v", "from": "f", "to": "t", "call-id": "i", "contact": "m",
            "content-length": "l", "content-type": "c"}


def parse(data: bytes) -> SipMessage:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded header line
            k, v = headers[-1]
            headers[-1] = (k, v + " " + line.strip())
            continue
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return SipMessage(lines[0], headers, body.decode(errors="replace"))


def make_sdp(port: int, codecs: Sequence[str] = ("PCMU", "PCMA"), *, srtp: bool = False,
             dtmf: bool = True, address: str = "127.0.0.1", direction: str = "sendrecv") -> str:
    pts = [str(CODEC_PT[c]) for c in codecs]
    lines = ["v=0", f"o=- {_rand(6)} 1 IN IP4 {address}", "s=-", f"c=IN IP4 {address}",
             "t=0 0"]
    lines.append(f"m=audio {port} {'RTP/SAVP' if srtp else 'RTP/AVP'} "
                 + " ".join(pts + (["101"] if dtmf else [])))
    for c in codecs:
        rate = 8000
        lines.append(f"a=rtpmap:{CODEC_PT[c]} {c}/{rate}")
    if dtmf:
        lines += ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"]
    if srtp:
        # 30 bytes of master key and salt, base64: a key rtpengine accepts.
        lines.append("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"
                     "ZGlhbGdhdGUgdGVzdCBzcnRwIG1hc3RlciBrZXkh")
    lines.append(f"a={direction}")
    return "\r\n".join(lines) + "\r\n"


def digest_header(challenge: str, *, user: str, password: str, method: str, uri: str,
                  proxy: bool) -> str:
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = params["realm"], params["nonce"]
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    extra = ""
    if "auth" in params.get("qop", "").split(","):
        nc, cnonce = "00000001", _rand(8)
        resp = hashlib.md5(
            f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        resp = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    opaque = f', opaque="{params["opaque"]}"' if "opaque" in params else ""
    name = "Proxy-Authorization" if proxy else "Authorization"
    return (f'{name}: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}", algorithm=MD5{extra}{opaque}')


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    route_set: list[str]
    cseq: int
    invite: SipMessage | None = None
    final: SipMessage | None = None
    branch: str = ""
    invite_cseq: int = 1


UasHandler = Callable[["SipAgent", SipMessage], None]


@dataclass
class SipAgent:
    """A SIP UA bound to 127.0.0.1 talking to one proxy."""

    proxy: tuple[str, int]
    transport: str = "udp"
    domain: str = "sip.dialgate.test"
    timeout: float = 5.0
    uas: UasHandler | None = None
    received: list[SipMessage] = field(default_factory=list)
    # Delay before answering an in-dialog BYE: a real network's round trip. Kamailio before
    # 5.8.6/6.0.2 (Debian 12 has 5.6.3) ends a call itself (max duration, dlg.end_dlg) by sending
    # BYE to the caller, then to the callee; when the caller's 200 is handled before the second
    # BYE goes out, the dialog is already "deleted" and the callee's BYE is skipped
    # ("terminating non-confirmed dialogs not supported"; kamailio/kamailio#4169). A reply in
    # well under a millisecond, which only a UA on the same host gives, plus a descheduled
    # Kamailio timer process under a loaded CI box, hit that window. docs/deploy-kamailio.md.
    bye_reply_delay_s: float = NETWORK_ROUND_TRIP_S

    def __post_init__(self) -> None:
        self._responses: queue.Queue[SipMessage] = queue.Queue()
        self.requests: queue.Queue[SipMessage] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._timers: list[threading.Timer] = []
        self._buf = b""
        if self.transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", free_port()))
        else:
            raw = socket.create_connection(self.proxy, timeout=self.timeout)
            if self.transport == "tls":
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                raw = ctx.wrap_socket(raw)
            self.sock = raw
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.dialogs: dict[str, Dialog] = {}
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- wire -------------------------------------------------------------------------------

    @property
    def via_transport(self) -> str:
        return self.transport.upper()

    @property
    def contact_uri(self) -> str:
        t = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"sip:{{user}}@127.0.0.1:{self.port}{t}"

    def send(self, msg: SipMessage, dest: tuple[str, int] | None = None) -> None:
        data = msg.encode()
        with self._lock:
            if self.transport == "udp":
                self.sock.sendto(data, dest or self.proxy)
            else:
                self.sock.sendall(data)

    def _late_reply(self, req: SipMessage, code: int, reason: str) -> None:
        """A delayed reply; the agent may have been closed meanwhile (nothing to send then)."""
        if self._closed:
            return
        with contextlib.suppress(OSError):
            self.reply(req, code, reason)

    def close(self) -> None:
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        with contextlib.suppress(OSError):
            self.sock.close()
        self._reader.join(2)

    def _read_loop(self) -> None:
        while not self._closed:
            try:
                if self.transport == "udp":
                    data, src = self.sock.recvfrom(65535)
                    self._dispatch(data, src)
                else:
                    if not self._stream_readable(0.2):
                        continue
                    # Under the send lock: an SSL connection must never be read and written by
                    # two threads at once (OpenSSL's SSL object is not thread-safe, and CPython
                    # releases the GIL inside SSL_read/SSL_write). Unlocked, a response could be
                    # lost under load: a flaky "no final response" on TLS calls.
                    with self._lock:
                        chunk = self.sock.recv(65535)
                    if not chunk:
                        return
                    self._buf += chunk
                    self._drain_stream()
            except TimeoutError:
                continue
            except (OSError, ValueError):
                return

    def _stream_readable(self, timeout: float) -> bool:
        """Bytes to read: decrypted ones already buffered, or new ones on the socket."""
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        readable, _, _ = select.select([self.sock], [], [], timeout)
        return bool(readable)

    def _drain_stream(self) -> None:
        while True:
            self._buf = self._buf.lstrip(b"\r\n")
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            m = re.search(rb"\r\n(?:content-length|l)\s*:\s*(\d+)", self._buf[:end + 2], re.I)
            length = int(m.group(1)) if m else 0
            if len(self._buf) < end + 4 + length:
                return
            data, self._buf = self._buf[:end + 4 + length], self._buf[end + 4 + length:]
            self._dispatch(data, self.proxy)

    def _dispatch(self, data: bytes, src: tuple[str, int]) -> None:
        if not data.strip():
            return
        msg = parse(data)
        msg.source = src
        self.received.append(msg)
        if msg.is_response:
            self._responses.put(msg)
            return
        self._handle_request(msg)

    # -- responses ----------------------------------------------------------------------

    def wait_response(self, call_id: str, method: str, *, final: bool = True,
                      timeout: float | None = None) -> SipMessage:
        deadline = time.monotonic() + (timeout or self.timeout)
        pending: list[SipMessage] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {'final ' if final else ''}response to {method}")
                try:
                    r = self._responses.get(timeout=left)
                except queue.Empty:
                    continue
                if r.call_id == call_id and r.method == method and (r.code >= 200 or not final):
                    return r
                pending.append(r)
        finally:
            for r in pending:
                self._responses.put(r)

    # -- requests we send -------------------------------------------------------------------

    def _via(self, branch: str) -> str:
        return f"SIP/2.0/{self.via_transport} 127.0.0.1:{self.port};branch=z9hG4bK{branch};rport"

    def request(self, method: str, ruri: str, *, from_uri: str, to_uri: str, call_id: str,
                cseq: int, from_tag: str, to_tag: str = "", branch: str | None = None,
                headers: Iterable[tuple[str, str]] = (), body: str = "",
                contact_user: str = "ua") -> SipMessage:
        hdrs = [("Via", self._via(branch or _rand(12))), ("Max-Forwards", "70"),
                ("From", f"<{from_uri}>;tag={from_tag}"),
                ("To", f"<{to_uri}>" + (f";tag={to_tag}" if to_tag else "")),
                ("Call-ID", call_id), ("CSeq", f"{cseq} {method}"),
                ("Contact", f"<{self.contact_uri.format(user=contact_user)}>"), *headers]
        if body:
            hdrs.append(("Content-Type", "application/sdp"))
        return SipMessage(f"{method} {ruri} SIP/2.0", hdrs, body)

    def register(self, user: str, password: str, *, expires: int | None = 60,
                 contact_expires: int | None = None) -> list[SipMessage]:
        """REGISTER, answering one digest challenge; returns every final response."""
        call_id, tag = _rand(16), _rand(8)
        aor, ruri = f"sip:{user}@{self.domain}", f"sip:{self.domain}"
        auth: list[tuple[str, str]] = []
        answers: list[SipMessage] = []
        for cseq in (1, 2):
            hdrs = list(auth)
            if expires is not None:
                hdrs.append(("Expires", str(expires)))
            msg = self.request("REGISTER", ruri, from_uri=aor, to_uri=aor, call_id=call_id,
                               cseq=cseq, from_tag=tag, headers=hdrs, contact_user=user)
            if contact_expires is not None:
                msg.headers = [(k, v + f";expires={contact_expires}" if k == "Contact" else v)
                               for k, v in msg.headers]
            self.send(msg)
            r = self.wait_response(call_id, "REGISTER")
            answers.append(r)
            if r.code != 401 or auth:
                return answers
            k, v = digest_header(r.header("WWW-Authenticate"), user=user, password=password,
                                 method="REGISTER", uri=ruri, proxy=False).split(": ", 1)
            auth = [(k, v)]
        return answers

    def invite(self, dialed: str, *, user: str, password: str | None = None,
               codecs: Sequence[str] = ("PCMU", "PCMA"), srtp: bool = False,
               from_user: str | None = None, wait_final: bool = True,
               timeout: float | None = None, sdp: str | None = None) -> Dialog:
        """Send an INVITE (answering a 407 with digest when ``password`` is given); ACK the
        final answer. ``dialog.final`` holds it; ``dialog.invite`` the INVITE as sent.
        ``wait_final=False`` returns once the INVITE that will be decided is sent: with a
        ``password``, after the challenge is answered (the proxy challenges every INVITE)."""
        call_id, tag = _rand(16), _rand(8)
        ruri = f"sip:{dialed}@{self.domain}"
        from_uri = f"sip:{from_user or user}@{self.domain}"
        if sdp is None:
            sdp = make_sdp(self.port + 2, codecs, srtp=srtp)
        auth: list[tuple[str, str]] = []
        cseq = 1
        while True:
            branch = _rand(12)
            inv = self.request("INVITE", ruri, from_uri=from_uri, to_uri=ruri, call_id=call_id,
                               cseq=cseq, from_tag=tag, branch=branch, headers=auth, body=sdp,
                               contact_user=user)
            self.send(inv)
            dlg = Dialog(call_id, tag, "", from_uri, ruri, ruri, [], cseq, invite=inv,
                         branch=branch, invite_cseq=cseq)
            self.dialogs[call_id] = dlg
            if not wait_final and (password is None or auth):
                return dlg
            r = self.wait_response(call_id, "INVITE", timeout=timeout)
            self._ack(dlg, r)
            if r.code == 407 and password is not None and not auth:
                k, v = digest_header(r.header("Proxy-Authenticate"), user=user,
                                     password=password, method="INVITE", uri=ruri,
                                     proxy=True).split(": ", 1)
                auth = [(k, v)]
                cseq += 1
                continue
            return dlg

    def wait_final(self, dlg: Dialog, timeout: float | None = None) -> SipMessage:
        r = self.wait_response(dlg.call_id, "INVITE", timeout=timeout)
        self._ack(dlg, r)
        return r

    def _ack(self, dlg: Dialog, r: SipMessage) -> None:
        dlg.final = r
        dlg.remote_tag = r.tag("To")
        if r.code >= 300:  # hop-by-hop ACK: same branch, same R-URI as the INVITE
            ack = self.request("ACK", dlg.remote_uri, from_uri=dlg.local_uri,
                               to_uri=dlg.remote_uri, call_id=dlg.call_id, cseq=dlg.invite_cseq,
                               from_tag=dlg.local_tag, to_tag=dlg.remote_tag, branch=dlg.branch)
            self.send(ack)
            return
        if r.code >= 200:
            contact = re.search(r"<([^>]+)>", r.header("Contact"))
            dlg.remote_target = contact.group(1) if contact else dlg.remote_uri
            rr: list[str] = []
            for value in r.all("Record-Route"):
                rr += [v.strip() for v in value.split(",")]
            dlg.route_set = list(reversed(rr))
            self.send(self._in_dialog(dlg, "ACK", cseq=dlg.invite_cseq))

    def _in_dialog(self, dlg: Dialog, method: str, *, cseq: int) -> SipMessage:
        routes = [("Route", r) for r in dlg.route_set]
        return self.request(method, dlg.remote_target, from_uri=dlg.local_uri,
                            to_uri=dlg.remote_uri, call_id=dlg.call_id, cseq=cseq,
                            from_tag=dlg.local_tag, to_tag=dlg.remote_tag, headers=routes)

    def bye(self, dlg: Dialog) -> SipMessage:
        dlg.cseq += 1
        self.send(self._in_dialog(dlg, "BYE", cseq=dlg.cseq))
        return self.wait_response(dlg.call_id, "BYE")

    def cancel(self, dlg: Dialog) -> SipMessage:
        assert dlg.invite is not None
        msg = SipMessage(f"CANCEL {dlg.remote_uri} SIP/2.0",
                         [(k, v) for k, v in dlg.invite.headers
                          if k.lower() in ("via", "from", "to", "call-id", "max-forwards")]
                         + [("CSeq", f"{dlg.invite_cseq} CANCEL")])
        self.send(msg)
        return self.wait_response(dlg.call_id, "CANCEL")

    def options(self, timeout: float = 1.0) -> SipMessage:
        call_id = _rand(16)
        uri = f"sip:{self.proxy[0]}:{self.proxy[1]}"
        self.send(self.request("OPTIONS", uri, from_uri=f"sip:probe@{self.domain}", to_uri=uri,
                               call_id=call_id, cseq=1, from_tag=_rand(8)))
        return self.wait_response(call_id, "OPTIONS", timeout=timeout)

    def wait_request(self, method: str, timeout: float | None = None) -> SipMessage:
        deadline = time.monotonic() + (timeout or self.timeout)
        pending: list[SipMessage] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {method} received")
                try:
                    m = self.requests.get(timeout=left)
                except queue.Empty:
                    continue
                if m.method == method:
                    return m
                pending.append(m)
        finally:
            for m in pending:
                self.requests.put(m)

    # -- requests we receive (UAS) --------------------------------------------------------------

    def reply(self, req: SipMessage, code: int, reason: str, *, to_tag: str = "",
              body: str = "", headers: Iterable[tuple[str, str]] = ()) -> SipMessage:
        hdrs: list[tuple[str, str]] = []
        for k, v in req.headers:
            kl = k.lower()
            if kl in ("via", "v", "from", "f", "call-id", "i", "cseq", "record-route"):
                hdrs.append((k, v))
            elif kl in ("to", "t"):
                hdrs.append((k, v + f";tag={to_tag}" if to_tag and ";tag=" not in v else v))
        hdrs += list(headers)
        if body:
            hdrs.append(("Content-Type", "application/sdp"))
        resp = SipMessage(f"SIP/2.0 {code} {reason}", hdrs, body)
        self.send(resp, dest=req.source)
        return resp

    def _handle_request(self, req: SipMessage) -> None:
        self.requests.put(req)
        if req.method == "ACK":
            return
        if req.method == "BYE" and self.bye_reply_delay_s:
            timer = threading.Timer(self.bye_reply_delay_s, self._late_reply, (req, 200, "OK"))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
            return
        if req.method in ("BYE", "OPTIONS"):
            self.reply(req, 200, "OK")
            return
        if req.method == "CANCEL":
            self.reply(req, 200, "OK")
            inv = self._pending_invites.pop(req.call_id, None)
            if inv is not None:
                self.reply(inv, 487, "Request Terminated", to_tag=self._uas_tag(inv))
            return
        if req.method == "INVITE" and self.uas is not None:
            self.uas(self, req)
            return
        self.reply(req, 501, "Not Implemented")

    _pending_invites: dict[str, SipMessage] = field(default_factory=dict)
    _tags: dict[str, str] = field(default_factory=dict)

    def _uas_tag(self, req: SipMessage) -> str:
        return self._tags.setdefault(req.call_id, _rand(8))

    def uas_dialog(self, req: SipMessage) -> Dialog:
        """The dialog as seen by the UAS that answered ``req`` (to send BYE as the callee)."""
        contact = re.search(r"<([^>]+)>", req.header("Contact"))
        rr: list[str] = []
        for value in req.all("Record-Route"):
            rr += [v.strip() for v in value.split(",")]
        from_uri = re.search(r"<([^>]+)>", req.header("From"))
        to_uri = re.search(r"<([^>]+)>", req.header("To"))
        return Dialog(req.call_id, self._uas_tag(req), req.tag("From"),
                      to_uri.group(1) if to_uri else req.ruri,
                      from_uri.group(1) if from_uri else "",
                      contact.group(1) if contact else "", rr, 100)


# -- ready-made UAS behaviours ---------------------------------------------------------------


def answer(codecs: Sequence[str] | None = None, *, rtp_port: int | None = None,
           srtp: bool = False, address: str = "127.0.0.1") -> UasHandler:
    """Ring, then answer 200 with an SDP that takes the offer's first codec (or ``codecs``);
    media to ``rtp_port`` (an RTP peer of the test) when given."""

    def handler(ua: SipAgent, req: SipMessage) -> None:
        tag = ua._uas_tag(req)
        ua.reply(req, 180, "Ringing", to_tag=tag)
        offered = req.sdp_codecs()
        chosen = list(codecs) if codecs else [c for c in offered if c in CODEC_PT][:1]
        body = make_sdp(rtp_port or ua.port + 2, chosen or ["PCMU"], srtp=srtp,
                        dtmf="telephone-event" in offered, address=address)
        ua.reply(req, 200, "OK", to_tag=tag, body=body,
                 headers=[("Contact", f"<sip:uas@127.0.0.1:{ua.port}>")])

    return handler


def reject(code: int, reason: str) -> UasHandler:
    def handler(ua: SipAgent, req: SipMessage) -> None:
        ua.reply(req, code, reason, to_tag=ua._uas_tag(req))

    return handler


def ring_forever(ua: SipAgent, req: SipMessage) -> None:
    ua._pending_invites[req.call_id] = req
    ua.reply(req, 180, "Ringing", to_tag=ua._uas_tag(req))


def silent(ua: SipAgent, req: SipMessage) -> None:
    """Never answer (a dead device or carrier)."""

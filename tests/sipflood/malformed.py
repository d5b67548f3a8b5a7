"""Malformed SIP messages from a seeded generator: the same seed gives the same bytes.

Each message says what a correct server does with it:
- `expect_400`: the request is refused by the parser (RFC 3261 §7 / §18.3) while its Via, From,
  To, Call-ID and CSeq are intact, so the server can and must answer 400 (RFC 3261 §21.4.1);
- otherwise the server may answer anything or nothing, but it must survive.
The kinds cover what docs/SIP.md's parser refuses and the edges it must accept.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

UNROUTED_NUMBER = "999000111"  # no DID: an INVITE that parses is refused (404), so no call starts


@dataclass
class Message:
    kind: str
    data: bytes
    call_id: str | None
    expect_400: bool = False


class Generator:
    """Makes messages for one transport; `via_port` is where UDP answers must come back to."""

    def __init__(self, seed: int, transport: str, server: str, via_host: str, via_port: int):
        self.random = random.Random(seed)
        self.seed = seed
        self.transport = transport
        self.server = server
        self.via_host = via_host
        self.via_port = via_port
        self.count = 0
        self.kinds = [
            (self.truncated_in_headers, 4), (self.truncated_in_body, 4),
            (self.oversized, 1), (self.long_header, 2), (self.thousand_headers, 2),
            (self.content_length_too_big, 4), (self.content_length_too_small, 3),
            (self.content_length_negative, 3), (self.content_length_not_a_number, 3),
            (self.garbage, 4), (self.zeros, 2), (self.unknown_method, 3),
            (self.missing_mandatory_header, 5), (self.repeated_headers, 3),
            (self.bad_start_line, 4), (self.bad_version, 3), (self.cseq_method_mismatch, 4),
            (self.huge_cseq, 2), (self.cseq_overflow, 2), (self.not_utf8_header, 4),
            (self.header_without_colon, 3), (self.bad_header_name, 2), (self.folded_and_compact, 2),
            (self.bare_lf, 2), (self.response_garbage, 2),
        ]

    # Building blocks

    def next_call_id(self) -> str:
        self.count += 1
        return f"flood-{self.seed}-{self.transport}-{self.count}@{self.via_host}"

    def headers(self, method: str, call_id: str, cseq: int | None = None) -> list[tuple[str, str]]:
        branch = f"z9hG4bK{self.random.getrandbits(64):016x}"
        return [
            ("Via", f"SIP/2.0/{self.transport} {self.via_host}:{self.via_port};branch={branch};rport"),
            ("From", f"<sip:flood@{self.via_host}>;tag={self.random.getrandbits(32):08x}"),
            ("To", f"<sip:{UNROUTED_NUMBER}@{self.server}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq if cseq is not None else self.random.randint(1, 1000)} {method}"),
            ("Max-Forwards", "70"),
        ]

    def method(self) -> str:
        return self.random.choice(["OPTIONS", "INVITE", "INFO", "MESSAGE", "REGISTER", "NOTIFY", "SUBSCRIBE"])

    def uri(self, method: str) -> str:
        return f"sip:{self.server}" if method in ("OPTIONS", "REGISTER") else f"sip:{UNROUTED_NUMBER}@{self.server}"

    def body(self) -> bytes:
        return (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                b"m=audio 9 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n")

    @staticmethod
    def encode(start: str, headers: list[tuple[str, str]], body: bytes = b"", content_length: str | None = None) -> bytes:
        lines = [start] + [f"{name}: {value}" for name, value in headers]
        if content_length is not None:
            lines.append(f"Content-Length: {content_length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body

    def request(self, method: str | None = None, *, body: bytes | None = None) -> tuple[str, bytes, str]:
        method = method or self.method()
        call_id = self.next_call_id()
        content = self.body() if body is None else body
        data = self.encode(f"{method} {self.uri(method)} SIP/2.0", self.headers(method, call_id), content,
                           str(len(content)))
        return call_id, data, method

    def valid_options(self) -> Message:
        call_id = self.next_call_id()
        return Message("valid OPTIONS", self.encode(f"OPTIONS sip:{self.server} SIP/2.0",
                                                    self.headers("OPTIONS", call_id), b"", "0"), call_id)

    def next(self) -> Message:
        makers, weights = zip(*self.kinds)
        return self.random.choices(makers, weights)[0]()

    # The kinds

    def truncated_in_headers(self) -> Message:
        call_id, data, _ = self.request()
        head_end = data.index(b"\r\n\r\n")
        return Message("truncated in the headers", data[:self.random.randint(1, head_end)], call_id)

    def truncated_in_body(self) -> Message:
        call_id, data, _ = self.request()
        body_start = data.index(b"\r\n\r\n") + 4
        # Over TCP a cut body only makes the server wait for the rest.
        return Message("truncated in the body", data[:self.random.randint(body_start, len(data) - 1)], call_id,
                       expect_400=self.transport == "UDP")

    def oversized(self) -> Message:
        # Over TCP the message exceeds 64 KiB; over UDP it is the largest datagram, 65,507 bytes.
        if self.transport == "UDP":
            call_id = self.next_call_id()
            start, headers = f"OPTIONS sip:{self.server} SIP/2.0", self.headers("OPTIONS", call_id)
            body_size = 65_507 - len(self.encode(start, headers, b"", "65000"))  # a 5-digit length either way
            data = self.encode(start, headers, b"x" * body_size, str(body_size))
        else:
            call_id, data, _ = self.request("OPTIONS", body=b"x" * self.random.randint(70_000, 200_000))
        return Message("oversized", data, call_id)

    def long_header(self) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        headers = self.headers(method, call_id) + [("Subject", "s" * 10_240)]
        return Message("10 KiB header", self.encode(f"{method} {self.uri(method)} SIP/2.0", headers, b"", "0"), call_id)

    def thousand_headers(self) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        headers = self.headers(method, call_id) + [(f"X-Flood-{index}", "x") for index in range(1000)]
        return Message("1,000 headers", self.encode(f"{method} {self.uri(method)} SIP/2.0", headers, b"", "0"),
                       call_id, expect_400=True)

    def with_content_length(self, kind: str, value: str, expect_400: bool) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        data = self.encode(f"{method} {self.uri(method)} SIP/2.0", self.headers(method, call_id), self.body(), value)
        return Message(kind, data, call_id, expect_400)

    def content_length_too_big(self) -> Message:
        # Over TCP a too-big length only makes the server wait for more bytes: not an error yet.
        return self.with_content_length("Content-Length too big", str(len(self.body()) + self.random.randint(1, 5000)),
                                         expect_400=self.transport == "UDP")

    def content_length_too_small(self) -> Message:
        # Over UDP the body is cut to it (RFC 3261 §18.3): a valid message, so no 400 is expected.
        return self.with_content_length("Content-Length too small", str(self.random.randint(0, len(self.body()) - 1)),
                                        expect_400=False)

    def content_length_negative(self) -> Message:
        return self.with_content_length("Content-Length negative", str(-self.random.randint(1, 100000)), True)

    def content_length_not_a_number(self) -> Message:
        value = self.random.choice(["abc", "12abc", "0x20", "1e3", "99999999999999999999", "", " 12 3", "+12"])
        return self.with_content_length("Content-Length not a number", value, True)

    def garbage(self) -> Message:
        data = bytes(self.random.getrandbits(8) for _ in range(self.random.randint(1, 2000)))
        return Message("garbage bytes", data, None)

    def zeros(self) -> Message:
        return Message("binary zeros", b"\x00" * self.random.randint(1, 4000), None)

    def unknown_method(self) -> Message:
        method = self.random.choice(["FOO", "XINVITE", "HELLO", "PING", "B-Y-E"])
        call_id = self.next_call_id()
        data = self.encode(f"{method} sip:{self.server} SIP/2.0", self.headers(method, call_id), b"", "0")
        return Message("unknown method", data, call_id)

    def missing_mandatory_header(self) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        missing = self.random.choice(["Via", "From", "To", "Call-ID", "CSeq"])
        headers = [(name, value) for name, value in self.headers(method, call_id) if name != missing]
        return Message(f"missing {missing}", self.encode(f"{method} {self.uri(method)} SIP/2.0", headers, b"", "0"),
                       call_id if missing != "Call-ID" else None)

    def repeated_headers(self) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        headers = self.headers(method, call_id)
        headers += [("CSeq", f"{self.random.randint(1, 1000)} {method}"), ("Call-ID", f"other-{call_id}")]
        return Message("repeated CSeq and Call-ID",
                       self.encode(f"{method} {self.uri(method)} SIP/2.0", headers, b"", "0"), call_id)

    def bad_start_line(self) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        start = self.random.choice([
            f"{method} SIP/2.0", f"{method} {self.uri(method)}", f"{method}  {self.uri(method)} SIP/2.0",
            f"{self.uri(method)} {method} SIP/2.0", f"{method}\t{self.uri(method)}\tSIP/2.0",
            f"{method} {self.uri(method)} SIP/2.0 extra", "SIP/2.0 99 Too Short", "SIP/2.0 abc Nope",
            f"{method}(1) {self.uri(method)} SIP/2.0", "", " ",
        ])
        return Message("bad start line", self.encode(start, self.headers(method, call_id), b"", "0"), call_id)

    def bad_version(self) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        version = self.random.choice(["SIP/3.0", "SIP/1.0", "SIP/2.00", "HTTP/1.1", "sip/2", "SIP/"])
        return Message("bad SIP version",
                       self.encode(f"{method} {self.uri(method)} {version}", self.headers(method, call_id), b"", "0"),
                       call_id)

    def cseq_method_mismatch(self) -> Message:
        method = self.method()
        other = self.random.choice([m for m in ["OPTIONS", "INVITE", "INFO", "BYE", "REGISTER"] if m != method])
        call_id = self.next_call_id()
        headers = self.headers(method, call_id)
        headers[4] = ("CSeq", f"{self.random.randint(1, 1000)} {other}")
        return Message("CSeq method mismatch",
                       self.encode(f"{method} {self.uri(method)} SIP/2.0", headers, b"", "0"), call_id, expect_400=True)

    def huge_cseq(self) -> Message:
        call_id = self.next_call_id()
        headers = self.headers("OPTIONS", call_id, cseq=2**31 - 1)
        return Message("huge CSeq (2^31-1)", self.encode(f"OPTIONS sip:{self.server} SIP/2.0", headers, b"", "0"),
                       call_id)

    def cseq_overflow(self) -> Message:
        call_id = self.next_call_id()
        headers = self.headers("OPTIONS", call_id)
        headers[4] = ("CSeq", f"{self.random.choice([2**31, 2**32, 10**20, -1])} OPTIONS")
        return Message("CSeq out of range", self.encode(f"OPTIONS sip:{self.server} SIP/2.0", headers, b"", "0"),
                       call_id)

    def not_utf8_header(self) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        # Bytes that occur in no UTF-8 text, in any order.
        junk = bytes(self.random.choice([0xC0, 0xC1, 0xF5, 0xF8, 0xFE, 0xFF]) for _ in range(self.random.randint(1, 16)))
        headers = self.headers(method, call_id) + [("Subject", "caf" + junk.decode("utf-8", "surrogateescape"))]
        return Message("non-UTF-8 bytes in a header",
                       self.encode(f"{method} {self.uri(method)} SIP/2.0", headers, b"", "0"), call_id, expect_400=True)

    def header_without_colon(self) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        headers = self.headers(method, call_id)
        lines = [f"{method} {self.uri(method)} SIP/2.0"] + [f"{n}: {v}" for n, v in headers]
        lines.append("This line has no colon")
        data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
        return Message("header line without colon", data, call_id, expect_400=True)

    def bad_header_name(self) -> Message:
        method = self.method()
        call_id = self.next_call_id()
        headers = self.headers(method, call_id) + [(self.random.choice(["X Bad", "X@Y", "(", "X\"Y"]), "1")]
        return Message("bad header name", self.encode(f"{method} {self.uri(method)} SIP/2.0", headers, b"", "0"),
                       call_id, expect_400=True)

    def folded_and_compact(self) -> Message:
        # Valid, if unusual: compact names and a folded Subject. Answered like any OPTIONS.
        call_id = self.next_call_id()
        compact = {"Via": "v", "From": "f", "To": "t", "Call-ID": "i"}
        headers = [(compact.get(name, name), value) for name, value in self.headers("OPTIONS", call_id)]
        headers.append(("Subject", "folded\r\n   continuation"))
        return Message("compact and folded headers",
                       self.encode(f"OPTIONS sip:{self.server} SIP/2.0", headers, b"", "0"), call_id)

    def bare_lf(self) -> Message:
        call_id = self.next_call_id()
        data = self.encode(f"OPTIONS sip:{self.server} SIP/2.0", self.headers("OPTIONS", call_id), b"", "0")
        return Message("bare LF line ends", data.replace(b"\r\n", b"\n"), call_id)

    def response_garbage(self) -> Message:
        # A response no transaction waits for: dropped silently.
        call_id = self.next_call_id()
        status = self.random.choice([100, 180, 200, 486, 699])
        data = self.encode(f"SIP/2.0 {status} Whatever", self.headers("INVITE", call_id), b"", "0")
        return Message("stray response", data, call_id)


def never_ending_header(server: str, chunk: int = 4096):
    """An endless TCP stream of header lines with no empty line after them."""
    yield f"OPTIONS sip:{server} SIP/2.0\r\n".encode()
    index = 0
    while True:
        index += 1
        yield (f"X-Endless-{index}: " + "y" * chunk + "\r\n").encode()

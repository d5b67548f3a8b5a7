"""The flood's generator on its own: a printed seed replays the same bytes, and a few thousand
messages cover every kind the flood promises (no server needed)."""

from __future__ import annotations

import collections

from malformed import Generator, never_ending_header

PROMISED_KINDS = {
    "truncated in the headers", "truncated in the body", "oversized", "10 KiB header", "1,000 headers",
    "Content-Length too big", "Content-Length too small", "Content-Length negative",
    "Content-Length not a number", "garbage bytes", "binary zeros", "unknown method", "missing Via",
    "missing From", "missing To", "missing Call-ID", "missing CSeq", "repeated CSeq and Call-ID",
    "bad start line", "bad SIP version", "CSeq method mismatch", "huge CSeq (2^31-1)", "CSeq out of range",
    "non-UTF-8 bytes in a header", "header line without colon", "bad header name",
}


def messages(seed: int, transport: str, count: int):
    generator = Generator(seed, transport, "127.0.0.1:5060", "127.0.0.1", 40000)
    return [generator.next() for _ in range(count)]


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others():
    first = [message.data for message in messages(1234, "UDP", 300)]
    assert first == [message.data for message in messages(1234, "UDP", 300)]
    assert first != [message.data for message in messages(1235, "UDP", 300)]


def test_three_thousand_messages_cover_every_promised_kind_within_transport_limits():
    for transport in ("UDP", "TCP"):
        flood = messages(42, transport, 3000)
        kinds = collections.Counter(message.kind for message in flood)
        assert PROMISED_KINDS <= set(kinds), PROMISED_KINDS - set(kinds)
        oversized = [len(message.data) for message in flood if message.kind == "oversized"]
        if transport == "UDP":
            assert set(oversized) == {65_507}  # the largest datagram there is
        else:
            assert min(oversized) > 64 * 1024


def test_a_message_expected_to_be_answered_400_keeps_its_mandatory_headers_readable():
    for message in messages(7, "UDP", 3000):
        if message.expect_400:
            head = message.data.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
            names = {line.split(b":")[0] for line in head if b":" in line}
            assert {b"Via", b"From", b"To", b"Call-ID", b"CSeq"} <= names, message.data[:300]
            assert message.call_id.encode() in message.data


def test_the_endless_header_never_ends_its_header():
    stream = never_ending_header("127.0.0.1:5060")
    sent = b"".join(next(stream) for _ in range(100))
    assert len(sent) > 400_000 and b"\r\n\r\n" not in sent

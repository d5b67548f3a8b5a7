"""RTP on the test's side of a call: a listener that records what the server sends, the checks a
paced prompt must pass, and the pcap files SIPp's `play_pcap_audio` sends keys from."""

from __future__ import annotations

import random
import socket
import struct
import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RTPPacket:
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    source: tuple[str, int]

    @staticmethod
    def parse(datagram: bytes, source: tuple[str, int]) -> "RTPPacket":
        if len(datagram) < 12 or datagram[0] >> 6 != 2:
            raise ValueError(f"not an RTP version 2 packet: {datagram[:16].hex()}")
        csrc_count = datagram[0] & 0x0F
        header_length = 12 + 4 * csrc_count
        if datagram[0] & 0x10:  # header extension: 4 bytes, then its length in words
            (words,) = struct.unpack_from("!H", datagram, header_length + 2)
            header_length += 4 + 4 * words
        end = len(datagram)
        if datagram[0] & 0x20:  # padding: the last byte says how much
            end -= datagram[-1]
        sequence, timestamp, ssrc = struct.unpack_from("!HII", datagram, 2)
        return RTPPacket(
            payload_type=datagram[1] & 0x7F,
            marker=bool(datagram[1] & 0x80),
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=datagram[header_length:end],
            source=source,
        )


class RTPListener:
    """A UDP port on 127.0.0.1 whose number goes into a SIPp offer's `m=audio`; every datagram
    that arrives is kept, in arrival order, until `close`."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self._datagrams: list[tuple[bytes, tuple[str, int]]] = []
        # When each datagram arrived (the local wall clock, as SIPp's logs tell time).
        self._arrivals: list[datetime] = []
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._receive, name=f"rtp-{self.port}", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while self._running:
            try:
                datagram, source = self._socket.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._datagrams.append((datagram, source))
                self._arrivals.append(datetime.now())

    def send(self, datagram: bytes, destination: tuple[str, int]) -> None:
        """Sends from the listener's port: what the party whose offer named it sends."""
        self._socket.sendto(datagram, destination)

    def sources(self) -> list[tuple[str, int]]:
        """Where datagrams came from, each once, in the order first seen: with one listener in the
        offers of many calls, one source per call (the server's media port of its leg)."""
        with self._lock:
            received = list(self._datagrams)
        return list(dict.fromkeys(source for _, source in received))

    def packets(self) -> list[RTPPacket]:
        with self._lock:
            received = list(self._datagrams)
        return [RTPPacket.parse(datagram, source) for datagram, source in received]

    def arrivals(self) -> list[tuple[datetime, RTPPacket]]:
        """The packets with when each arrived: with one listener in the offers of many calls, a
        call's are those from its server media address while it lasted."""
        with self._lock:
            received = list(zip(self._arrivals, self._datagrams))
        return [(moment, RTPPacket.parse(datagram, source)) for moment, (datagram, source) in received]

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2)
        self._socket.close()


def prompt_stream_problems(packets: list[RTPPacket], payload_type: int) -> list[str]:
    """What is wrong with `packets` as one paced G.711 stream on `payload_type`: every packet of
    that type, 20 ms of audio each (160 bytes, timestamp +160), sequence numbers without a gap,
    one SSRC, the marker bit on the first packet. A timestamp may jump only at a marker (a new
    talkspurt, e.g. the next prompt). Empty when the stream is right."""
    if not packets:
        return ["no RTP packet arrived"]
    problems: list[str] = []
    types = sorted({packet.payload_type for packet in packets})
    if types != [payload_type]:
        problems.append(f"payload types {types}, expected only the answered {payload_type}")
    sources = sorted({packet.ssrc for packet in packets})
    if len(sources) != 1:
        problems.append(f"{len(sources)} SSRCs ({', '.join(f'{s:#010x}' for s in sources)}), expected one")
    if not packets[0].marker:
        problems.append("the first packet has no marker bit")
    sizes = sorted({len(packet.payload) for packet in packets})
    if sizes != [160]:
        problems.append(f"payload sizes {sizes} bytes, expected 160 (20 ms of G.711)")
    for previous, packet in zip(packets, packets[1:]):
        if packet.sequence != (previous.sequence + 1) % 65536:
            problems.append(f"sequence {previous.sequence} followed by {packet.sequence}")
        step = (packet.timestamp - previous.timestamp) % 2**32
        if step != 160 and not packet.marker:
            problems.append(
                f"timestamp +{step} from sequence {previous.sequence} to {packet.sequence} without a marker"
            )
        if len(problems) > 12:
            problems.append("…")
            break
    return problems


def rfc4733_key_packets(digit: int, payload_type: int) -> list[bytes]:
    """The RTP packets of one key press as a phone sends it (RFC 4733 §2.5): a start packet with
    the marker bit, then the end packet three times, all with the event's timestamp."""
    sequence = random.randrange(65536)
    timestamp = random.randrange(2**32)
    ssrc = random.randrange(2**32)
    volume = 10
    packets = []
    for index, (end, duration) in enumerate([(False, 160), (True, 800), (True, 800), (True, 800)]):
        header = struct.pack(
            "!BBHII",
            0x80,
            (0x80 if index == 0 else 0) | payload_type,
            (sequence + index) % 65536,
            timestamp,
            ssrc,
        )
        event = struct.pack("!BBH", digit, (0x80 if end else 0) | volume, duration)
        packets.append(header + event)
    return packets


def pcap(rtp_packets: list[bytes], spacing_ms: int = 20) -> bytes:
    """An Ethernet/IPv4/UDP capture of `rtp_packets`, `spacing_ms` apart. SIPp replays it with
    the addresses and ports replaced by those of the call, so the ones written here are dummies
    (one destination port for all, which SIPp maps onto the peer's RTP port)."""
    source_ip = socket.inet_aton("10.0.0.1")
    destination_ip = socket.inet_aton("10.0.0.2")
    records = []
    for index, rtp in enumerate(rtp_packets):
        udp = struct.pack("!HHHH", 40000, 40002, 8 + len(rtp), 0) + rtp
        ip_header = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index + 1, 0, 64, 17, 0, source_ip, destination_ip
        )
        ip_header = ip_header[:10] + struct.pack("!H", _ip_checksum(ip_header)) + ip_header[12:]
        frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip_header + udp
        microseconds = index * spacing_ms * 1000
        seconds, fraction = divmod(microseconds, 1_000_000)
        records.append(struct.pack("<IIII", 1_700_000_000 + seconds, fraction, len(frame), len(frame)) + frame)
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET
    return header + b"".join(records)


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

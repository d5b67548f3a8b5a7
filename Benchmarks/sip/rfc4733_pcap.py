#!/usr/bin/env python3
"""Writes a pcap of one key press as RFC 4733 telephone-event packets, for SIPp's
`play_pcap_audio` (which sends each packet's UDP payload, paced by the capture times, from its
media port to the address of the SDP answer).

The press is what a phone sends: a first packet with the marker bit, one packet every 20 ms with
the same RTP timestamp and a growing duration, then the end packet three times (RFC 4733 §2.5.1.4).

    python3 Benchmarks/sip/rfc4733_pcap.py --digit 4 --payload-type 101 key4.pcap
"""

from __future__ import annotations

import argparse
import struct

EVENTS = {str(digit): digit for digit in range(10)} | {"*": 10, "#": 11}
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz


def key_press_packets(digit: str, payload_type: int, packets: int = 8, volume: int = 10) -> list[bytes]:
    """RTP packets (header + 4-byte event) of one press of `digit`, lasting `packets` × 20 ms."""
    event = EVENTS[digit]
    ssrc, timestamp, sequence = 0x0E05384E, 0x9100, 0x1FB9
    result = []
    for index in range(packets + 2):
        last = index >= packets - 1
        duration = (min(index, packets - 1) + 1) * SAMPLES_PER_PACKET
        marker = 0x80 if index == 0 else 0
        header = struct.pack("!BBHII", 0x80, marker | payload_type, (sequence + min(index, packets - 1)) & 0xFFFF, timestamp, ssrc)
        body = struct.pack("!BBH", event, (0x80 if last else 0) | volume, duration)
        result.append(header + body)
    return result


def udp_frame(payload: bytes, source_port: int = 6000, destination_port: int = 6000) -> bytes:
    """Ethernet + IPv4 + UDP around `payload`; SIPp reads only the UDP payload and the times."""
    udp = struct.pack("!HHHH", source_port, destination_port, 8 + len(payload), 0) + payload
    ip_header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                            bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    checksum = _ip_checksum(ip_header)
    ip_header = ip_header[:10] + struct.pack("!H", checksum) + ip_header[12:]
    return b"\x00" * 12 + b"\x08\x00" + ip_header + udp


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_pcap(path: str, digit: str, payload_type: int) -> None:
    packets = key_press_packets(digit, payload_type)
    with open(path, "wb") as file:
        file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet link type
        start = 1_700_000_000 * 1_000_000
        for index, packet in enumerate(packets):
            # The end packets are repeated back to back, as phones do, not 20 ms apart.
            micros = start + min(index, len(packets) - 3) * 20_000 + max(0, index - (len(packets) - 3)) * 100
            frame = udp_frame(packet)
            file.write(struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)))
            file.write(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digit", default="4", choices=sorted(EVENTS))
    parser.add_argument("--payload-type", type=int, default=101)
    parser.add_argument("output")
    arguments = parser.parse_args()
    write_pcap(arguments.output, arguments.digit, arguments.payload_type)


if __name__ == "__main__":
    main()

/// An RTP packet (RFC 3550 §5.1). Parsing refuses, never traps, on any bytes.
public struct RTPPacket: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var payload: [UInt8]

    public init(marker: Bool, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32, payload: [UInt8]) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
    }

    /// Parses a datagram; nil for anything that is not RTP version 2 with consistent lengths
    /// (CSRC list, header extension and padding are skipped and checked).
    public init?(parsing bytes: [UInt8]) {
        guard bytes.count >= 12, bytes[0] >> 6 == 2 else { return nil }
        let hasPadding = bytes[0] & 0x20 != 0
        let hasExtension = bytes[0] & 0x10 != 0
        var offset = 12 + Int(bytes[0] & 0x0F) * 4
        if hasExtension {
            guard bytes.count >= offset + 4 else { return nil }
            offset += 4 + (Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])) * 4
        }
        var end = bytes.count
        if hasPadding {
            guard let padding = bytes.last, padding > 0 else { return nil }
            end -= Int(padding)
        }
        guard offset <= end else { return nil }
        marker = bytes[1] & 0x80 != 0
        payloadType = bytes[1] & 0x7F
        sequenceNumber = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        timestamp = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        ssrc = UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
        payload = Array(bytes[offset..<end])
    }

    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = [0x80, (marker ? 0x80 : 0) | (payloadType & 0x7F)]
        bytes += [UInt8(sequenceNumber >> 8), UInt8(sequenceNumber & 0xFF)]
        bytes += [UInt8(timestamp >> 24), UInt8(timestamp >> 16 & 0xFF), UInt8(timestamp >> 8 & 0xFF), UInt8(timestamp & 0xFF)]
        bytes += [UInt8(ssrc >> 24), UInt8(ssrc >> 16 & 0xFF), UInt8(ssrc >> 8 & 0xFF), UInt8(ssrc & 0xFF)]
        return bytes + payload
    }
}

/// Cuts audio into 20 ms packets for one outgoing stream: consecutive sequence numbers and
/// timestamps across prompts, one SSRC, the marker bit on the first packet after a silence
/// (RFC 3550 §5.1, RFC 3551 §4.1). Sending them 20 ms apart is the I/O layer's job.
public struct RTPStreamSender: Sendable {
    public static let samplesPerPacket = 160

    public let ssrc: UInt32
    private var sequenceNumber: UInt16
    private var timestamp: UInt32
    private var talking = false

    public init(using generator: inout some RandomNumberGenerator) {
        // Random starting points, as RFC 3550 §5.1 asks, so streams are hard to forge.
        ssrc = UInt32.random(in: .min ... .max, using: &generator)
        sequenceNumber = UInt16.random(in: .min ... .max, using: &generator)
        timestamp = UInt32.random(in: .min ... .max, using: &generator)
    }

    /// The next packet of a sound: `frame` is up to 160 G.711 samples (the last may be short
    /// and is padded with silence of the codec, `silence`).
    public mutating func packet(_ frame: ArraySlice<UInt8>, payloadType: UInt8, silence: UInt8) -> RTPPacket {
        var payload = Array(frame.prefix(Self.samplesPerPacket))
        if payload.count < Self.samplesPerPacket { payload += Array(repeating: silence, count: Self.samplesPerPacket - payload.count) }
        let packet = RTPPacket(
            marker: !talking, payloadType: payloadType, sequenceNumber: sequenceNumber, timestamp: timestamp, ssrc: ssrc, payload: payload)
        talking = true
        sequenceNumber &+= 1
        timestamp &+= UInt32(Self.samplesPerPacket)
        return packet
    }

    /// A telephone event's packet in this stream, which events share with the audio (RFC 4733
    /// §2.1: the same SSRC, sequence numbers and timestamp base): the next sequence number, the
    /// event's timestamp `timestampOffset` samples before this packet's place. It takes a
    /// packet's 20 ms, as audio would, and the audio after it starts a talkspurt (no audio went
    /// meanwhile).
    public mutating func packet(_ event: TelephoneEventSender.Packet, payloadType: UInt8) -> RTPPacket {
        let packet = RTPPacket(
            marker: event.marker, payloadType: payloadType, sequenceNumber: sequenceNumber, timestamp: timestamp &- event.timestampOffset,
            ssrc: ssrc, payload: event.event.payload)
        talking = false
        sequenceNumber &+= 1
        timestamp &+= UInt32(Self.samplesPerPacket)
        return packet
    }

    /// Time passed without sending (20 ms per missed packet): the clock goes on, and the next
    /// packet starts a talkspurt.
    public mutating func skip(packets: Int) {
        timestamp &+= UInt32(packets * Self.samplesPerPacket)
        talking = false
    }
}

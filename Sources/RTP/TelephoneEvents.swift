/// An RFC 4733 telephone-event payload (§2.3): the key, whether the press has ended, its volume
/// and its length.
public struct TelephoneEvent: Sendable, Equatable {
    /// The DTMF keys in the order of their event codes, 0 to 15 (RFC 4733 §3.2).
    public static let keys: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"]

    private var code: UInt8
    public var isEnd: Bool
    /// The power level of the tone as −dBm0, 0 to 63 (§2.3.4): 10 is −10 dBm0.
    public var volume: UInt8
    /// In RTP timestamp units: the event began at the packet's timestamp and has lasted this long
    /// so far (§2.3.5).
    public var duration: UInt16

    public var key: Character { Self.keys[Int(code)] }

    /// `key` must be one of `keys` (a `KeySequence` holds no other).
    public init(key: Character, isEnd: Bool, volume: UInt8, duration: UInt16) {
        guard let code = Self.keys.firstIndex(of: key) else { preconditionFailure("\(key) is no DTMF key") }
        self.code = UInt8(code)
        self.isEnd = isEnd
        self.volume = volume
        self.duration = duration
    }

    public init?(payload: [UInt8]) {
        guard payload.count >= 4, Int(payload[0]) < Self.keys.count else { return nil }
        code = payload[0]
        isEnd = payload[1] & 0x80 != 0
        volume = payload[1] & 0x3F
        duration = UInt16(payload[2]) << 8 | UInt16(payload[3])
    }

    /// The 4 bytes of the payload (§2.3, Figure 1): event code; E bit, reserved bit (0) and
    /// volume; duration.
    public var payload: [UInt8] {
        [code, (isEnd ? 0x80 : 0) | volume & 0x3F, UInt8(duration >> 8), UInt8(duration & 0xFF)]
    }
}

/// Turns a stream of RFC 4733 packets into key presses: one press however many packets carry
/// it (updates and the three redundant end packets share the press's RTP timestamp), and the
/// same key pressed twice counts twice (a new press has a new timestamp).
public struct KeyPressDetector: Sendable {
    public let payloadType: UInt8
    private var lastPress: (timestamp: UInt32, ssrc: UInt32)?

    public init(payloadType: UInt8) { self.payloadType = payloadType }

    /// The key this packet starts, if it starts one.
    public mutating func key(in packet: RTPPacket) -> Character? {
        guard packet.payloadType == payloadType, let event = TelephoneEvent(payload: packet.payload) else { return nil }
        if let lastPress, lastPress.timestamp == packet.timestamp, lastPress.ssrc == packet.ssrc { return nil }
        lastPress = (packet.timestamp, packet.ssrc)
        return event.key
    }
}

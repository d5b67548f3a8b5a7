/// An RFC 4733 telephone-event payload: the key, whether the press has ended, and its length.
public struct TelephoneEvent: Sendable, Equatable {
    public static let keys: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"]

    public var key: Character
    public var isEnd: Bool
    public var duration: UInt16

    public init?(payload: [UInt8]) {
        guard payload.count >= 4, Int(payload[0]) < Self.keys.count else { return nil }
        key = Self.keys[Int(payload[0])]
        isEnd = payload[1] & 0x80 != 0
        duration = UInt16(payload[2]) << 8 | UInt16(payload[3])
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

/// Keys to send into a call, as a callback's `dst_dtmf` gives them: the DTMF keys `0`–`9`, `*`,
/// `#` and `A`–`D`, and pauses, `W` of a second and `w` of half a second.
public struct KeySequence: Sendable, Equatable {
    public enum Element: Sendable, Equatable {
        /// One of `TelephoneEvent.keys`.
        case key(Character)
        case pause(milliseconds: Int)
    }

    /// The most characters a sequence is written with.
    public static let maximumLength = 64

    public let elements: [Element]

    /// nil for an empty text, a longer one than `maximumLength`, or one with any other character
    /// (lower-case `a`–`d` included: `w` is a pause, so case matters).
    public init?(_ text: String) {
        // Every character taken is one byte of UTF-8, so a text of more bytes is refused before
        // its characters are walked, however long it is.
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength else { return nil }
        var elements: [Element] = []
        for character in text {
            switch character {
            case "W": elements.append(.pause(milliseconds: 1_000))
            case "w": elements.append(.pause(milliseconds: 500))
            case _ where TelephoneEvent.keys.contains(character): elements.append(.key(character))
            default: return nil
            }
        }
        self.elements = elements
    }
}

/// What to send of a `KeySequence`, one 20 ms packet interval (a tick of the audio stream the
/// events go in) at a time. The events take the sequence numbers, timestamps and SSRC of that
/// stream (RFC 4733 §2.1), so this value only says what each tick carries and how far back the
/// event's timestamp lies; the stream stamps the packet.
///
/// Each key is an event of 100 ms at volume 10: its first packet with the marker bit, an update
/// every 20 ms with the same timestamp and the duration so far (§2.5.1.2), and the end packet
/// (E bit) three times at the update interval (§2.5.1.4). The next key's event begins 60 ms
/// after the tone ended, the two repeats of the end packet falling within that gap. A pause is
/// its length in ticks without a packet.
///
/// A late tick (the pacer skips tick numbers, never sends a burst) delays what is left of the
/// schedule; timestamps and durations follow the tick numbers, so all packets of one event keep
/// its timestamp and its duration is what really passed.
public struct TelephoneEventSender: Sendable {
    /// The interval of the audio's packets, `RTPStreamSender.samplesPerPacket` at 8 kHz.
    static let millisecondsPerTick = 20
    static let samplesPerTick = UInt32(RTPStreamSender.samplesPerPacket)
    /// A key's tone: 100 ms.
    static let toneTicks = 5
    /// From a key's first packet to the next key's: the tone and 60 ms of silence.
    static let keyTicks = 8
    /// The end packet and its two repeats.
    static let endPackets = 3
    public static let volume: UInt8 = 10

    public struct Packet: Sendable, Equatable {
        public var event: TelephoneEvent
        public var marker: Bool
        /// How many samples before this tick the event began: the packet's RTP timestamp is the
        /// stream's for this tick minus this.
        public var timestampOffset: UInt32
    }

    public struct Step: Sendable, Equatable {
        public var packet: Packet?
        /// The sequence is over with this step: nothing more will be sent.
        public var isFinished: Bool
    }

    private let elements: [KeySequence.Element]
    private var index = 0
    /// Ticks into the current element.
    private var elapsed = 0
    private var eventStartTick: Int64 = 0
    private var duration: UInt16 = 0

    public init(_ keys: KeySequence) { elements = keys.elements }

    /// What tick `tick` carries; the ticks given must rise.
    public mutating func next(atTick tick: Int64) -> Step {
        guard index < elements.count else { return Step(packet: nil, isFinished: true) }
        let length: Int
        var packet: Packet?
        switch elements[index] {
        case .pause(let milliseconds):
            length = milliseconds / Self.millisecondsPerTick
        case .key(let key):
            length = Self.keyTicks
            packet = eventPacket(key, atTick: tick)
        }
        elapsed += 1
        if elapsed >= length {
            index += 1
            elapsed = 0
        }
        return Step(packet: packet, isFinished: index == elements.count)
    }

    private mutating func eventPacket(_ key: Character, atTick tick: Int64) -> Packet? {
        if elapsed == 0 { eventStartTick = tick }
        guard elapsed < Self.toneTicks + Self.endPackets - 1 else { return nil }
        let samples = (tick - eventStartTick) * Int64(Self.samplesPerTick)
        if elapsed < Self.toneTicks {
            // To the end of this packet's 20 ms (§2.3.5); the end packet's repeats keep the
            // duration the end packet gave. Saturated: only a loop stalled for 8 s reaches it.
            duration = UInt16(clamping: samples + Int64(Self.samplesPerTick))
        }
        let event = TelephoneEvent(key: key, isEnd: elapsed >= Self.toneTicks - 1, volume: Self.volume, duration: duration)
        // Timestamps are modulo 2³² (RFC 3550 §5.1).
        return Packet(event: event, marker: elapsed == 0, timestampOffset: UInt32(truncatingIfNeeded: samples))
    }
}

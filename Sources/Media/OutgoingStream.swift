import RTP

/// What one leg sends on each 20 ms tick of its event loop: the frames of the prompt playing,
/// through the leg's one `RTPStreamSender`, so that sequence numbers and timestamps run on
/// across prompts. Ticks are numbered by the wall clock (tick n starts n × 20 ms after the
/// pacer's epoch), and every tick without a packet — silence between prompts, hold, a late
/// tick — moves the timestamp on by 160 samples, as a receiver's playout clock expects.
struct OutgoingStream {
    private var stream: RTPStreamSender
    private var audio: [UInt8] = []
    private var position = 0
    private(set) var isPlaying = false
    private var startsTalkspurt = false
    private var lastSentTick: Int64?

    init(stream: RTPStreamSender) { self.stream = stream }

    /// Starts `audio` from its beginning, in place of whatever played.
    mutating func play(_ audio: [UInt8]) {
        self.audio = audio
        position = 0
        isPlaying = true
        startsTalkspurt = true
    }

    mutating func stop() {
        audio = []
        isPlaying = false
    }

    struct Frame {
        /// What to send; nil when nothing is (`sending` was false, or the prompt was empty).
        var packet: RTPPacket?
        /// The prompt has no frame left: it is finished.
        var isLast: Bool
    }

    /// The next frame of the prompt, for tick `tick`. When `sending` is false (the leg is on
    /// hold) the prompt moves on in time without a packet.
    mutating func frame(atTick tick: Int64, payloadType: UInt8, silence: UInt8, sending: Bool) -> Frame {
        guard isPlaying else { return Frame(packet: nil, isLast: false) }
        var packet: RTPPacket?
        if position < audio.count {
            let frame = audio[position..<min(position + RTPStreamSender.samplesPerPacket, audio.count)]
            position += RTPStreamSender.samplesPerPacket
            if sending {
                let silentTicks = lastSentTick.map { max(0, tick - $0 - 1) } ?? 0
                if startsTalkspurt || silentTicks > 0 {
                    skip(ticks: silentTicks)
                    startsTalkspurt = false
                }
                packet = stream.packet(frame, payloadType: payloadType, silence: silence)
                lastSentTick = tick
            }
        }
        let isLast = position >= audio.count
        if isLast { stop() }
        return Frame(packet: packet, isLast: isLast)
    }

    /// `RTPStreamSender.skip` in steps it can take: days of silence overflow one step's
    /// sample count, and the timestamp wraps modulo 2³² anyway.
    private mutating func skip(ticks: Int64) {
        var remaining = ticks
        repeat {
            let step = min(remaining, 1 << 20)
            stream.skip(packets: Int(step))
            remaining -= step
        } while remaining > 0
    }
}

import RTP

/// What one leg sends on each 20 ms tick of its event loop: the frames of the prompt playing and
/// the telephone events of the keys being sent, through the leg's one `RTPStreamSender`, so that
/// sequence numbers and timestamps run on across prompts and keys (RFC 4733 §2.1: events share
/// the audio's SSRC, sequence numbers and timestamp base). Ticks are numbered by the wall clock
/// (tick n starts n × 20 ms after the pacer's epoch), and every tick without a packet — silence
/// between prompts, hold, a late tick — moves the timestamp on by 160 samples, as a receiver's
/// playout clock expects.
///
/// While keys are sent they have the stream to themselves, their pauses included: a prompt
/// playing meanwhile runs on in time unheard, as on hold, and still finishes. One packet a tick
/// keeps the stream simple to follow; a receiver then never has to tell a prompt's audio from
/// the tone it is told about. (Audio relayed from a bridged leg is another stream, with that
/// leg's SSRC, and is not this value's business.)
struct OutgoingStream {
    private var stream: RTPStreamSender
    private var audio: [UInt8] = []
    private var position = 0
    private(set) var isPlaying = false
    private var startsTalkspurt = false
    private var lastSentTick: Int64?
    private var keys: TelephoneEventSender?

    init(stream: RTPStreamSender) { self.stream = stream }

    /// Neither a prompt nor keys left to send.
    var isIdle: Bool { !isPlaying && keys == nil }

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

    /// Starts sending `keys` on the next tick, in place of keys still being sent.
    mutating func send(_ keys: KeySequence) {
        self.keys = TelephoneEventSender(keys)
    }

    mutating func stopKeys() {
        keys = nil
    }

    struct Frame {
        /// What to send; nil when nothing is.
        var packet: RTPPacket?
        /// The prompt has no frame left: it is finished.
        var isLast = false
        /// The keys ended on this tick: true when every packet of theirs was sent, false when one
        /// could not be (the leg on hold, or its format without a telephone-event payload type
        /// any more), which ends them at once.
        var keysSent: Bool?
    }

    /// What tick `tick` carries. When `sending` is false (the leg is on hold, or has no format)
    /// the prompt moves on in time without a packet.
    mutating func frame(atTick tick: Int64, format: MediaFormat?, sending: Bool) -> Frame {
        var frame = Frame()
        var audioFrame: ArraySlice<UInt8>?
        if isPlaying {
            if position < audio.count {
                audioFrame = audio[position..<min(position + RTPStreamSender.samplesPerPacket, audio.count)]
                position += RTPStreamSender.samplesPerPacket
            }
            frame.isLast = position >= audio.count
            if frame.isLast { stop() }
        }
        if var keys {
            let step = keys.next(atTick: tick)
            self.keys = step.isFinished ? nil : keys
            if let event = step.packet {
                guard sending, let payloadType = format?.telephoneEventPayloadType else {
                    self.keys = nil
                    frame.keysSent = false
                    return frame
                }
                catchUp(to: tick)
                frame.packet = stream.packet(event, payloadType: payloadType)
            }
            if step.isFinished { frame.keysSent = true }
        } else if let audioFrame, sending, let format {
            if startsTalkspurt {
                // A new prompt is a new talkspurt even right after the last (RFC 3551 §4.1):
                // skipping no packet marks the next.
                stream.skip(packets: 0)
                startsTalkspurt = false
            }
            catchUp(to: tick)
            frame.packet = stream.packet(audioFrame, payloadType: format.payloadType, silence: format.codec.silence)
        }
        return frame
    }

    /// Moves the stream's clock on by the ticks since its last packet (a silence, which the next
    /// audio packet ends as a new talkspurt); the packet sent next is this tick's.
    private mutating func catchUp(to tick: Int64) {
        var remaining = lastSentTick.map { max(0, tick - $0 - 1) } ?? 0
        lastSentTick = tick
        // `RTPStreamSender.skip` in steps it can take: days of silence overflow one step's
        // sample count, and the timestamp wraps modulo 2³² anyway.
        while remaining > 0 {
            let step = min(remaining, 1 << 20)
            stream.skip(packets: Int(step))
            remaining -= step
        }
    }
}

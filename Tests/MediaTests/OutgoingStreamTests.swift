import RTP
import Testing

@testable import Media

@Suite struct OutgoingStreamTests {
    static let pcmu = MediaFormat(remote: nil, codec: .pcmu, payloadType: 0, telephoneEventPayloadType: 101)
    static let pcma = MediaFormat(remote: nil, codec: .pcma, payloadType: 8, telephoneEventPayloadType: nil)

    func makeStream() -> OutgoingStream {
        var generator = SystemRandomNumberGenerator()
        return OutgoingStream(stream: RTPStreamSender(using: &generator))
    }

    @Test func timestampsFollowTheTicksThroughSilenceLateTicksAndHold() throws {
        var stream = makeStream()
        stream.play([UInt8](repeating: 1, count: 480))
        let first = try #require(stream.frame(atTick: 10, format: Self.pcmu, sending: true).packet)
        // Tick 11 was missed (a late tick): one frame at tick 12, its timestamp where the clock is.
        let late = try #require(stream.frame(atTick: 12, format: Self.pcmu, sending: true).packet)
        #expect(late.timestamp == first.timestamp &+ 320 && late.sequenceNumber == first.sequenceNumber &+ 1)
        let last = stream.frame(atTick: 13, format: Self.pcmu, sending: true)
        #expect(last.isLast && !stream.isPlaying && stream.isIdle)
        #expect(stream.frame(atTick: 14, format: Self.pcmu, sending: true).packet == nil, "nothing plays")

        // The next prompt, after 6 silent ticks, with its first 2 frames on hold.
        stream.play([UInt8](repeating: 2, count: 480))
        #expect(stream.frame(atTick: 20, format: Self.pcmu, sending: false).packet == nil)
        #expect(stream.frame(atTick: 21, format: Self.pcmu, sending: false).packet == nil)
        let resumed = stream.frame(atTick: 22, format: Self.pcmu, sending: true)
        let packet = try #require(resumed.packet)
        #expect(resumed.isLast && packet.marker)
        #expect(packet.timestamp == last.packet!.timestamp &+ 9 * 160 && packet.sequenceNumber == last.packet!.sequenceNumber &+ 1)
    }

    @Test func aNewPromptRightAfterTheLastStartsATalkspurt() throws {
        var stream = makeStream()
        stream.play([1])
        let first = try #require(stream.frame(atTick: 0, format: Self.pcma, sending: true).packet)
        #expect(first.payload == [1] + [UInt8](repeating: 0xD5, count: 159))
        stream.play([2])
        let second = try #require(stream.frame(atTick: 1, format: Self.pcma, sending: true).packet)
        #expect(second.marker && second.timestamp == first.timestamp &+ 160)
    }

    @Test func anEmptyPromptFinishesWithoutAPacket() {
        var stream = makeStream()
        stream.play([])
        let frame = stream.frame(atTick: 0, format: Self.pcmu, sending: true)
        #expect(frame.packet == nil && frame.isLast)
    }

    /// Keys sent while a prompt plays: the events alone go out, in the prompt's stream; the
    /// prompt runs on unheard and finishes in its time; the audio after the keys is marked.
    @Test func keysHaveTheStreamToThemselvesAndContinueIt() throws {
        var stream = makeStream()
        stream.play([UInt8](repeating: 3, count: 160 * 20))
        let audio = try #require(stream.frame(atTick: 0, format: Self.pcmu, sending: true).packet)
        stream.send(try #require(KeySequence("8")))
        var frames: [OutgoingStream.Frame] = []
        for tick in Int64(1)...8 { frames.append(stream.frame(atTick: tick, format: Self.pcmu, sending: true)) }
        let events = frames.compactMap(\.packet)
        #expect(events.count == 7 && events.allSatisfy { $0.payloadType == 101 && $0.ssrc == audio.ssrc })
        #expect(events.map(\.sequenceNumber) == (1...7).map { audio.sequenceNumber &+ $0 })
        #expect(events.allSatisfy { $0.timestamp == audio.timestamp &+ 160 })
        #expect(frames.map(\.keysSent) == [nil, nil, nil, nil, nil, nil, nil, true])
        #expect(stream.isPlaying && !stream.isIdle)

        let resumed = try #require(stream.frame(atTick: 9, format: Self.pcmu, sending: true).packet)
        #expect(resumed.payloadType == 0 && resumed.marker && resumed.sequenceNumber == audio.sequenceNumber &+ 8)
        #expect(resumed.timestamp == audio.timestamp &+ 9 * 160)
        #expect(resumed.payload == [UInt8](repeating: 3, count: 160))
        var tick: Int64 = 10
        while !stream.frame(atTick: tick, format: Self.pcmu, sending: true).isLast { tick += 1 }
        #expect(tick == 19, "the prompt ended in its time, 20 ticks after it began")
        #expect(stream.isIdle)
    }

    @Test func keysThatCannotBeSentEndAtTheirNextPacket() throws {
        var stream = makeStream()
        stream.send(try #require(KeySequence("w1")))
        // Held through the pause: nothing was to be sent.
        for tick in Int64(0)..<25 { #expect(stream.frame(atTick: tick, format: Self.pcmu, sending: false).keysSent == nil) }
        let held = stream.frame(atTick: 25, format: Self.pcmu, sending: false)
        #expect(held.keysSent == false && held.packet == nil && stream.isIdle)

        stream.send(try #require(KeySequence("12")))
        #expect(stream.frame(atTick: 30, format: Self.pcmu, sending: true).packet?.marker == true)
        let renegotiated = stream.frame(atTick: 31, format: Self.pcma, sending: true)
        #expect(renegotiated.keysSent == false && renegotiated.packet == nil && stream.isIdle, "no telephone-event type any more")
    }

    @Test func newKeysReplaceTheOnesBeingSent() throws {
        var stream = makeStream()
        stream.send(try #require(KeySequence("1")))
        let first = try #require(stream.frame(atTick: 0, format: Self.pcmu, sending: true).packet)
        stream.send(try #require(KeySequence("2")))
        let second = try #require(stream.frame(atTick: 1, format: Self.pcmu, sending: true).packet)
        #expect(second.marker && TelephoneEvent(payload: second.payload)?.key == "2" && second.timestamp == first.timestamp &+ 160)
    }
}

import RTP
import Testing

@Suite struct KeySequenceTests {
    @Test func readsKeysAndPauses() throws {
        let sequence = try #require(KeySequence("1W*w#09AD"))
        #expect(
            sequence.elements == [
                .key("1"), .pause(milliseconds: 1_000), .key("*"), .pause(milliseconds: 500), .key("#"), .key("0"), .key("9"), .key("A"),
                .key("D"),
            ])
        #expect(KeySequence("W")?.elements == [.pause(milliseconds: 1_000)])
        #expect(KeySequence(String(repeating: "5", count: 64))?.elements.count == 64)
    }

    @Test(arguments: ["", "12a", "1 2", "E", "x", "+", "1,2", "d", "٣", "1\u{301}", String(repeating: "5", count: 65)])
    func refuses(_ text: String) {
        #expect(KeySequence(text) == nil)
    }
}

@Suite struct TelephoneEventTests {
    @Test func payloadRoundTrips() throws {
        let event = TelephoneEvent(key: "#", isEnd: true, volume: 10, duration: 800)
        #expect(event.payload == [11, 0x8A, 0x03, 0x20])
        #expect(TelephoneEvent(payload: event.payload) == event)
        let parsed = try #require(TelephoneEvent(payload: [15, 0x3F, 0xFF, 0xFF]))
        #expect(parsed.key == "D" && !parsed.isEnd && parsed.volume == 63 && parsed.duration == 65_535)
    }
}

@Suite struct TelephoneEventSenderTests {
    /// Every step from `firstTick` on, one tick apart, until the sender says it finished.
    static func run(_ text: String, firstTick: Int64 = 100) throws -> [(tick: Int64, step: TelephoneEventSender.Step)] {
        var sender = TelephoneEventSender(try #require(KeySequence(text)))
        var steps: [(Int64, TelephoneEventSender.Step)] = []
        var tick = firstTick
        repeat {
            steps.append((tick, sender.next(atTick: tick)))
            tick += 1
        } while steps.last?.1.isFinished == false
        return steps
    }

    @Test func oneKeyIs100msOfUpdatesThenThreeEndPacketsThen60msOfSilence() throws {
        let steps = try Self.run("7")
        #expect(steps.count == 8, "the tone's 5 ticks and 3 of silence")
        #expect(steps.dropLast().allSatisfy { !$0.step.isFinished } && steps.last?.step.isFinished == true)
        let packets = steps.map(\.step.packet)
        #expect(packets[7] == nil)
        let sent = packets.compactMap { $0 }
        #expect(sent.count == 7)
        #expect(sent.map(\.marker) == [true, false, false, false, false, false, false], "the marker on the first packet only")
        #expect(sent.map(\.event.isEnd) == [false, false, false, false, true, true, true], "the end packet three times")
        #expect(sent.map(\.event.duration) == [160, 320, 480, 640, 800, 800, 800], "100 ms at 8 kHz")
        #expect(sent.allSatisfy { $0.event.key == "7" && $0.event.volume == 10 })
        // Sent a tick apart, each packet's offset reaches back to the same timestamp: the event's.
        #expect(sent.map(\.timestampOffset) == [0, 160, 320, 480, 640, 800, 960])
    }

    /// The RTP timestamp of each key's event, with the stream's clock at 160 samples a tick.
    static func eventTimestamps(_ steps: [(tick: Int64, step: TelephoneEventSender.Step)]) -> [(key: Character, timestamp: Int64)] {
        steps.compactMap { tick, step in
            guard let packet = step.packet, packet.marker else { return nil }
            return (packet.event.key, tick * 160 - Int64(packet.timestampOffset))
        }
    }

    @Test func keysFollowEach160msAndPausesAddTheirLength() throws {
        let keys = Self.eventTimestamps(try Self.run("12"))
        #expect(keys.map(\.key) == ["1", "2"])
        #expect(keys[1].timestamp - keys[0].timestamp == 1_280, "100 ms of tone and 60 ms of silence")

        let second = Self.eventTimestamps(try Self.run("1W2"))
        #expect(second.map(\.key) == ["1", "2"])
        #expect(second[1].timestamp - second[0].timestamp == 1_280 + 8_000, "W is one second more")
        #expect(second[1].timestamp - second[0].timestamp >= 8_000)

        let half = Self.eventTimestamps(try Self.run("1w2"))
        #expect(half[1].timestamp - half[0].timestamp == 1_280 + 4_000, "w is half a second more")

        let leading = try Self.run("W3")
        #expect(leading.count == 58 && leading.prefix(50).allSatisfy { $0.step.packet == nil })
        #expect(leading[50].step.packet?.marker == true)

        let trailing = try Self.run("3w")
        #expect(trailing.count == 33 && trailing.suffix(26).allSatisfy { $0.step.packet == nil }, "finished after the pause")
    }

    @Test func theSameKeyTwiceIsTwoEventsAndTheDetectorReadsThem() throws {
        let steps = try Self.run("55#")
        var detector = KeyPressDetector(payloadType: 101)
        var keys: [Character] = []
        for (index, (tick, step)) in steps.enumerated() {
            guard let event = step.packet else { continue }
            let packet = RTPPacket(
                marker: event.marker, payloadType: 101, sequenceNumber: UInt16(index), timestamp: UInt32(tick * 160) &- event.timestampOffset,
                ssrc: 9, payload: event.event.payload)
            if let key = detector.key(in: packet) { keys.append(key) }
        }
        #expect(keys == ["5", "5", "#"])
    }

    @Test func lateTicksKeepTheEventsTimestampAndLengthenItsDuration() throws {
        var sender = TelephoneEventSender(try #require(KeySequence("4")))
        // Ticks 11 and 14 were missed: no burst, every packet still goes, one a tick.
        let ticks: [Int64] = [10, 12, 13, 15, 16, 17, 18, 19]
        let steps = ticks.map { sender.next(atTick: $0) }
        let sent = steps.compactMap(\.packet)
        #expect(sent.count == 7 && steps.last?.isFinished == true)
        #expect(zip(ticks, sent).allSatisfy { tick, packet in tick * 160 - Int64(packet.timestampOffset) == 1_600 }, "one timestamp")
        #expect(sent.map(\.event.duration) == [160, 480, 640, 960, 1_120, 1_120, 1_120], "what really passed")
        let after = sender.next(atTick: 20)
        #expect(after.packet == nil && after.isFinished, "nothing after the end")
    }
}

@Suite struct RTPStreamSenderEventTests {
    @Test func eventsShareTheAudiosSSRCAndSequenceAndTheAudioAfterThemIsMarked() throws {
        var generator = SystemRandomNumberGenerator()
        var stream = RTPStreamSender(using: &generator)
        let audio = stream.packet([1, 2, 3], payloadType: 0, silence: 0xFF)
        var sender = TelephoneEventSender(try #require(KeySequence("9")))
        var events: [RTPPacket] = []
        for tick in Int64(1)...8 {
            let step = sender.next(atTick: tick)
            if let packet = step.packet {
                events.append(stream.packet(packet, payloadType: 101))
            } else {
                stream.skip(packets: 1)
            }
        }
        #expect(events.count == 7 && events.allSatisfy { $0.ssrc == audio.ssrc && $0.payloadType == 101 })
        #expect(events.map(\.sequenceNumber) == (1...7).map { audio.sequenceNumber &+ $0 })
        #expect(events.allSatisfy { $0.timestamp == audio.timestamp &+ 160 }, "the event began where the audio stopped")
        #expect(events.first?.marker == true && events.dropFirst().allSatisfy { !$0.marker })
        #expect(TelephoneEvent(payload: events[4].payload) == TelephoneEvent(key: "9", isEnd: true, volume: 10, duration: 800))
        let after = stream.packet([4], payloadType: 0, silence: 0xFF)
        #expect(after.marker && after.sequenceNumber == audio.sequenceNumber &+ 8 && after.timestamp == audio.timestamp &+ 9 * 160)
    }
}

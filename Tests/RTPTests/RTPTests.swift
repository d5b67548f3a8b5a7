import RTP
import Testing

@Suite struct RTPPacketTests {
    @Test func roundTripsAndReadsHeaderFields() throws {
        let packet = RTPPacket(marker: true, payloadType: 8, sequenceNumber: 65_535, timestamp: 0xDEAD_BEEF, ssrc: 0x0102_0304, payload: [1, 2, 3])
        let bytes = packet.serialized()
        #expect(bytes.prefix(2) == [0x80, 0x88])
        #expect(RTPPacket(parsing: bytes) == packet)
    }

    @Test func skipsCSRCsExtensionsAndPadding() throws {
        var bytes: [UInt8] = [0xB1, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9]  // V=2, P, X, CC=1
        bytes += [0, 0, 0, 7]  // one CSRC
        bytes += [0xBE, 0xDE, 0, 1, 0xAA, 0xBB, 0xCC, 0xDD]  // extension of one word
        bytes += [5, 6, 7, 0, 2]  // payload 5 6 7, then 2 bytes of padding
        let packet = try #require(RTPPacket(parsing: bytes))
        #expect(packet.payload == [5, 6, 7] && packet.timestamp == 160 && packet.ssrc == 9)
    }

    @Test func refusesWhatIsNotRTP() {
        #expect(RTPPacket(parsing: [0x80, 0, 0]) == nil)
        #expect(RTPPacket(parsing: [0x40] + Array(repeating: 0, count: 11)) == nil, "version 1")
        #expect(RTPPacket(parsing: [0x8F] + Array(repeating: 0, count: 11)) == nil, "15 CSRCs in 12 bytes")
        #expect(RTPPacket(parsing: [0xA0] + Array(repeating: 0, count: 10) + [200]) == nil, "padding longer than the packet")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            _ = RTPPacket(parsing: (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
    }
}

@Suite struct RTPStreamSenderTests {
    @Test func packetsAreConsecutiveWithOneSSRCAndAMarkerPerTalkspurt() {
        var generator = SystemRandomNumberGenerator()
        var sender = RTPStreamSender(using: &generator)
        let audio = [UInt8](repeating: 0x55, count: 400)
        let first = sender.packet(audio[0..<160], payloadType: 0, silence: 0xFF)
        let second = sender.packet(audio[160..<320], payloadType: 0, silence: 0xFF)
        let last = sender.packet(audio[320...], payloadType: 0, silence: 0xFF)
        #expect(first.marker && !second.marker && !last.marker)
        #expect(second.sequenceNumber == first.sequenceNumber &+ 1 && last.sequenceNumber == first.sequenceNumber &+ 2)
        #expect(second.timestamp == first.timestamp &+ 160 && last.timestamp == first.timestamp &+ 320)
        #expect(Set([first.ssrc, second.ssrc, last.ssrc]).count == 1)
        #expect(last.payload.count == 160 && last.payload.suffix(80).allSatisfy { $0 == 0xFF }, "the short last frame is padded with silence")
        sender.skip(packets: 10)
        let next = sender.packet(audio[0..<160], payloadType: 0, silence: 0xFF)
        #expect(next.marker && next.timestamp == first.timestamp &+ 480 &+ 1600 && next.sequenceNumber == first.sequenceNumber &+ 3)
    }
}

@Suite struct KeyPressDetectorTests {
    func event(_ key: UInt8, end: Bool, duration: UInt16, timestamp: UInt32, sequence: UInt16, payloadType: UInt8 = 101) -> RTPPacket {
        RTPPacket(
            marker: !end && duration == 160, payloadType: payloadType, sequenceNumber: sequence, timestamp: timestamp, ssrc: 42,
            payload: [key, end ? 0x8A : 0x0A, UInt8(duration >> 8), UInt8(duration & 0xFF)])
    }

    @Test func aLongPressWithRedundantEndsIsOneKey() {
        var detector = KeyPressDetector(payloadType: 101)
        var keys: [Character] = []
        var sequence: UInt16 = 1
        for duration in stride(from: UInt16(160), through: 1600, by: 160) {
            if let key = detector.key(in: event(4, end: false, duration: duration, timestamp: 8000, sequence: sequence)) { keys.append(key) }
            sequence += 1
        }
        for _ in 0..<3 {
            if let key = detector.key(in: event(4, end: true, duration: 1760, timestamp: 8000, sequence: sequence)) { keys.append(key) }
            sequence += 1
        }
        #expect(keys == ["4"])
    }

    @Test func theSameKeyTwiceCountsTwiceAndOnlyEndPacketsStillCount() {
        var detector = KeyPressDetector(payloadType: 96)
        #expect(detector.key(in: event(5, end: false, duration: 160, timestamp: 1000, sequence: 1, payloadType: 96)) == "5")
        #expect(detector.key(in: event(5, end: true, duration: 800, timestamp: 1000, sequence: 2, payloadType: 96)) == nil)
        #expect(detector.key(in: event(5, end: true, duration: 800, timestamp: 3000, sequence: 7, payloadType: 96)) == "5", "start packets lost")
        #expect(detector.key(in: event(11, end: false, duration: 160, timestamp: 5000, sequence: 9, payloadType: 96)) == "#")
        #expect(detector.key(in: event(5, end: false, duration: 160, timestamp: 7000, sequence: 11, payloadType: 101)) == nil, "another payload type is audio")
        #expect(detector.key(in: RTPPacket(marker: false, payloadType: 96, sequenceNumber: 12, timestamp: 9000, ssrc: 42, payload: [99, 0, 0, 0])) == nil)
    }
}

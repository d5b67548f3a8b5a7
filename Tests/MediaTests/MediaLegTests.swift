import Audio
import Logging
import MetricsTestKit
import NIOCore
import NIOPosix
import RTP
import Testing

@testable import Media

/// Real UDP on 127.0.0.1. Each test has a server of its own on an event loop of its own, so
/// that work handed to the legs can be waited for (`loop.submit {}` runs after it), and a port
/// range of its own below the ephemeral ports, so that no test's sockets land in another's range.
@Suite(.timeLimit(.minutes(1))) struct MediaLegTests {
    final class Fixture: Sendable {
        let group: MultiThreadedEventLoopGroup
        let metrics = TestMetrics()
        let server: MediaServer
        let events: AsyncStream<String>
        let log: AsyncStream<String>.Continuation

        init(ports: ClosedRange<Int>, eventLoops: Int = 1) {
            group = MultiThreadedEventLoopGroup(numberOfThreads: eventLoops)
            server = MediaServer(
                host: "127.0.0.1", ports: ports, eventLoopGroup: group, logger: Logger(label: "media-test"), metricsFactory: metrics)
            (events, log) = AsyncStream<String>.makeStream()
        }

        /// Runs after everything already handed to the legs.
        func settle() async throws {
            for loop in group.makeIterator() { try await loop.submit {}.get() }
        }

        func shutdown() async throws {
            try await group.shutdownGracefully()
        }
    }

    static func format(_ remote: SocketAddress?, _ codec: G711Codec = .pcmu, payloadType: UInt8 = 0, events: UInt8? = 101) -> MediaFormat {
        MediaFormat(remote: remote, codec: codec, payloadType: payloadType, telephoneEventPayloadType: events)
    }

    static func event(_ key: UInt8, end: Bool, timestamp: UInt32, sequence: UInt16, payloadType: UInt8 = 101) -> RTPPacket {
        RTPPacket(
            marker: !end, payloadType: payloadType, sequenceNumber: sequence, timestamp: timestamp, ssrc: 77,
            payload: [key, end ? 0x8A : 0x0A, 0x03, 0x20])
    }

    /// G.711 bytes that tell their 160-byte frames apart (and prompts, by `tag`).
    static func prompt(bytes: Int, tag: UInt8 = 0) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: $0 / 160 * 16 + Int(tag)) }
    }

    @Test func aPromptGoesOutIn20msFramesAndTheNextOneContinuesTheStream() async throws {
        let fixture = Fixture(ports: 26_000...26_019)
        var phone = try await UDPPeer.bind()
        let leg = try await fixture.server.openLeg { _ in }
        #expect(leg.localPort % 2 == 0 && (26_000...26_019).contains(leg.localPort))
        leg.configure(Self.format(phone.address))
        let first = Self.prompt(bytes: 1_000)
        leg.play(first) { fixture.log.yield("first") }

        var packets: [RTPPacket] = []
        for _ in 0..<7 {
            let datagram = try await phone.receive()
            #expect(datagram.sourcePort == leg.localPort)
            packets.append(datagram.packet)
        }
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "first")
        for (index, packet) in packets.enumerated() {
            #expect(packet.payloadType == 0 && packet.ssrc == packets[0].ssrc)
            #expect(packet.sequenceNumber == packets[0].sequenceNumber &+ UInt16(index))
            if index == 0 {
                #expect(packet.marker)
            } else {
                // A tick that ran late (a busy machine) moves the clock on by its 20 ms and the
                // packet after it starts a talkspurt; otherwise the stream runs on unmarked.
                let step = packet.timestamp &- packets[index - 1].timestamp
                #expect(step == 160 && !packet.marker || step > 160 && step % 160 == 0 && packet.marker, "step \(step)")
            }
            let audio = first[(index * 160)..<min(first.count, index * 160 + 160)]
            #expect(packet.payload == Array(audio) + [UInt8](repeating: 0xFF, count: 160 - audio.count))
        }

        leg.play(Self.prompt(bytes: 160, tag: 5)) { fixture.log.yield("second") }
        let next = try await phone.receive().packet
        #expect(await events.next() == "second", "the first prompt finished once")
        #expect(next.marker && next.ssrc == packets[0].ssrc && next.payload == Self.prompt(bytes: 160, tag: 5))
        #expect(next.sequenceNumber == packets[6].sequenceNumber &+ 1)
        let silentTicks = next.timestamp &- packets[6].timestamp
        #expect(silentTicks >= 160 && silentTicks % 160 == 0, "the timestamp ran on through the silence")

        leg.close()
        try await phone.close()
        try await fixture.shutdown()
    }

    @Test func aStoppedPromptSendsNothingMoreAndNeverFinishes() async throws {
        let fixture = Fixture(ports: 26_020...26_039)
        var phone = try await UDPPeer.bind()
        let stopped = try await fixture.server.openLeg { _ in }
        let clock = try await fixture.server.openLeg { _ in }
        stopped.configure(Self.format(phone.address))
        clock.configure(Self.format(phone.address))

        // Stopped while it plays: once the other leg's prompt reaches the phone, nothing of the
        // stopped one follows (both legs are driven by the same tick, so it would).
        // A minute of prompt: however long a loaded machine stalls the test between its first
        // packet and the stop, it cannot have ended by itself.
        stopped.play(Self.prompt(bytes: 160 * 3_000, tag: 1)) { fixture.log.yield("stopped finished") }
        let firstOfStopped = try await phone.receive().packet
        stopped.stopPlayback()
        clock.play(Self.prompt(bytes: 160 * 3, tag: 2)) { fixture.log.yield("clock finished") }
        var clockPackets = 0
        while clockPackets < 3 {
            let packet = try await phone.receive().packet
            if packet.ssrc == firstOfStopped.ssrc {
                #expect(clockPackets == 0, "a packet of the stopped prompt after the other leg's")
            } else {
                clockPackets += 1
            }
        }
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "clock finished")

        // Stopped before its first tick: a prompt that would have finished first never does.
        try await fixture.group.next().submit {
            stopped.play(Self.prompt(bytes: 160, tag: 3)) { fixture.log.yield("stopped finished") }
            stopped.stopPlayback()
            clock.play(Self.prompt(bytes: 320, tag: 4)) { fixture.log.yield("clock finished again") }
        }.get()
        #expect(await events.next() == "clock finished again")
        for _ in 0..<2 { #expect(try await phone.receive().packet.ssrc != firstOfStopped.ssrc) }

        stopped.close()
        clock.close()
        try await phone.close()
        try await fixture.shutdown()
    }

    @Test func aReplacedPromptNeverFinishesAndTheNewOneDoes() async throws {
        let fixture = Fixture(ports: 26_040...26_059)
        var phone = try await UDPPeer.bind()
        let leg = try await fixture.server.openLeg { _ in }
        leg.configure(Self.format(phone.address))
        // A minute of prompt: however long a loaded machine stalls the test before the new one
        // replaces it, it cannot have ended by itself.
        let old = Self.prompt(bytes: 160 * 3_000, tag: 1)
        let new = Self.prompt(bytes: 160 * 2, tag: 9)
        leg.play(old) { fixture.log.yield("old") }
        let first = try await phone.receive().packet
        #expect(first.payload == Array(old[0..<160]))
        leg.play(new) { fixture.log.yield("new") }

        var previous = first
        var frameOfNew = 0
        while frameOfNew < 2 {
            let packet = try await phone.receive().packet
            #expect(packet.sequenceNumber == previous.sequenceNumber &+ 1 && packet.ssrc == first.ssrc)
            if packet.payload == Array(new[(frameOfNew * 160)..<(frameOfNew * 160 + 160)]) {
                #expect(packet.marker == (frameOfNew == 0))
                frameOfNew += 1
            } else {
                #expect(frameOfNew == 0, "the old prompt after the new one started")
                let oldFrame = Int(packet.sequenceNumber &- first.sequenceNumber)
                #expect(packet.payload == Array(old[(oldFrame * 160)..<(oldFrame * 160 + 160)]))
                // A marker only where a stall of the machine left a gap in time: a new talkspurt
                // (RFC 3551 §4.1), the timestamp showing the missed packets.
                #expect(!packet.marker || packet.timestamp != previous.timestamp &+ 160)
            }
            previous = packet
        }
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "new")
        leg.close()
        try await phone.close()
        try await fixture.shutdown()
    }

    @Test func rtpFromTheSignallingHostMovesWhereTheLegSendsAndFromElsewhereItDoesNot() async throws {
        let fixture = Fixture(ports: 26_180...26_189)
        var phone = try await UDPPeer.bind()
        var advertised = try await UDPPeer.bind()  // the address the SDP named, e.g. a private one behind NAT
        let stranger = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.2", port: 0).get()
        let leg = try await fixture.server.openLeg { _ in }
        var format = Self.format(advertised.address)
        format.symmetricHost = "127.0.0.1"
        leg.configure(format)
        leg.play(Self.prompt(bytes: 160 * 500)) {}
        _ = try await advertised.receive()

        // Another host's packet does not move the stream.
        let probe = RTPPacket(marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 9, payload: [UInt8](repeating: 0xFF, count: 160))
        try await stranger.writeAndFlush(AddressedEnvelope(
            remoteAddress: try SocketAddress(ipAddress: "127.0.0.1", port: leg.localPort), data: ByteBuffer(bytes: probe.serialized())))
        try await fixture.settle()
        for _ in 0..<3 { _ = try await advertised.receive() }

        // The phone's own RTP, from the signalling host, does: the prompt follows it.
        try await phone.send(probe, toPort: leg.localPort)
        let followed = try await phone.receive()
        #expect(followed.sourcePort == leg.localPort && followed.packet.payloadType == 0)
        leg.close()
        try await stranger.close()
        try await phone.close()
        try await advertised.close()
        try await fixture.shutdown()
    }

    @Test func anAddressTheSocketCannotSendToCostsOneSocketNotTheLeg() async throws {
        let fixture = Fixture(ports: 26_190...26_199)
        var phone = try await UDPPeer.bind()
        let keys = fixture.events
        let leg = try await fixture.server.openLeg { key in fixture.log.yield("key \(key)") }
        // A socket bound to loopback cannot send elsewhere (EINVAL): NIO closes it on the first frame.
        var format = Self.format(try SocketAddress(ipAddress: "10.255.255.1", port: 4000))
        format.symmetricHost = "127.0.0.1"
        leg.configure(format)
        leg.play(Self.prompt(bytes: 160 * 500)) {}
        try await Task.sleep(for: .milliseconds(300))  // a dozen ticks: the first fails, the others send nothing
        #expect(try fixture.metrics.expectCounter("qualityrate_rtp_sockets_reopened_total").totalValue == 1)

        // The leg still reads its port (a key) and follows the phone's RTP (symmetric RTP).
        for end in [false, true, true] { try await phone.send(Self.event(5, end: end, timestamp: 800, sequence: 1), toPort: leg.localPort) }
        var events = keys.makeAsyncIterator()
        #expect(await events.next() == "key 5")
        let prompt = try await phone.receive()
        #expect(prompt.sourcePort == leg.localPort && prompt.packet.payloadType == 0)

        leg.close()
        try await leg.portReleased.get()
        try await phone.close()
        try await fixture.shutdown()
    }

    @Test func rfc4733KeysAreReadOncePerPressAndTwiceWhenPressedTwice() async throws {
        let fixture = Fixture(ports: 26_060...26_079)
        let phone = try await UDPPeer.bind()
        let leg = try await fixture.server.openLeg { key in fixture.log.yield(String(key)) }
        leg.configure(Self.format(nil, events: 101))
        try await fixture.settle()

        var sequence: UInt16 = 1
        func press(_ key: UInt8, at timestamp: UInt32, payloadType: UInt8 = 101) async throws {
            for end in [false, true, true, true] {
                let packet = Self.event(key, end: end, timestamp: timestamp, sequence: sequence, payloadType: payloadType)
                try await phone.send(packet, toPort: leg.localPort)
                sequence &+= 1
            }
        }
        try await phone.send([0x13, 0x37], toPort: leg.localPort)  // junk, dropped
        try await phone.send([UInt8](repeating: 0x80, count: 11), toPort: leg.localPort)
        try await press(4, at: 1_000)
        try await press(9, at: 2_000, payloadType: 100)  // not the negotiated type
        try await press(5, at: 3_000)
        try await press(4, at: 4_000)
        try await press(4, at: 5_000)
        try await press(11, at: 6_000)

        var keys = fixture.events.makeAsyncIterator()
        var read: [String] = []
        while read.last != "#" { read.append(try #require(await keys.next())) }
        #expect(read == ["4", "5", "4", "4", "#"])
        leg.close()
        try await phone.close()
        try await fixture.shutdown()
    }

    @Test func bridgedLegsRelayInTheReceivingLegsFormat() async throws {
        let fixture = Fixture(ports: 26_080...26_099)
        var caller = try await UDPPeer.bind()
        var agent = try await UDPPeer.bind()
        let callerLeg = try await fixture.server.openLeg { key in fixture.log.yield("caller pressed \(key)") }
        let agentLeg = try await fixture.server.openLeg { _ in }
        callerLeg.configure(Self.format(caller.address, .pcmu, payloadType: 0, events: 101))
        agentLeg.configure(Self.format(agent.address, .pcma, payloadType: 8, events: 96))
        bridge(callerLeg, agentLeg)
        try await fixture.settle()

        let ulaw: [UInt8] = (0..<160).map { UInt8($0) }
        let spoken = RTPPacket(marker: true, payloadType: 0, sequenceNumber: 7, timestamp: 4_000, ssrc: 1234, payload: ulaw)
        let comfortNoise = RTPPacket(marker: false, payloadType: 13, sequenceNumber: 6, timestamp: 3_840, ssrc: 1234, payload: [0])
        try await caller.send(comfortNoise, toPort: callerLeg.localPort)
        try await caller.send(spoken, toPort: callerLeg.localPort)
        let relayed = try await agent.receive()
        #expect(relayed.sourcePort == agentLeg.localPort, "sent from the agent leg's socket, the comfort noise dropped")
        #expect(relayed.packet.payloadType == 8 && relayed.packet.marker && relayed.packet.sequenceNumber == 7)
        #expect(relayed.packet.timestamp == 4_000 && relayed.packet.ssrc == 1234)
        #expect(relayed.packet.payload == ulaw.map { G711.alaw(G711.linear(ulaw: $0)) })
        #expect(relayed.packet.payload[0] != ulaw[0], "converted, not copied")

        try await caller.send(Self.event(7, end: false, timestamp: 4_160, sequence: 8), toPort: callerLeg.localPort)
        let key = try await agent.receive().packet
        #expect(key.payloadType == 96 && key.payload == Self.event(7, end: false, timestamp: 4_160, sequence: 8).payload)
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "caller pressed 7", "keys are still read while bridged")

        let alaw: [UInt8] = [0xD5, 0x55, 0x2A, 0xAA]
        let answer = RTPPacket(marker: false, payloadType: 8, sequenceNumber: 90, timestamp: 9, ssrc: 99, payload: alaw)
        try await agent.send(answer, toPort: agentLeg.localPort)
        let back = try await caller.receive()
        #expect(back.sourcePort == callerLeg.localPort && back.packet.payloadType == 0)
        #expect(back.packet.payload == alaw.map { G711.ulaw(G711.linear(alaw: $0)) })

        // Unbridged: the caller's audio goes nowhere; the agent leg's own prompt is the next
        // thing the agent gets. The key press after it shows the audio was read.
        unbridge(agentLeg)
        try await fixture.settle()
        try await caller.send(spoken, toPort: callerLeg.localPort)
        try await caller.send(Self.event(1, end: false, timestamp: 8_000, sequence: 9), toPort: callerLeg.localPort)
        #expect(await events.next() == "caller pressed 1")
        agentLeg.play(Self.prompt(bytes: 160, tag: 3)) {}
        let prompt = try await agent.receive().packet
        #expect(prompt.payload == Self.prompt(bytes: 160, tag: 3) && prompt.ssrc != 1234)

        callerLeg.close()
        agentLeg.close()
        try await caller.close()
        try await agent.close()
        try await fixture.shutdown()
    }

    @Test func relayCrossesEventLoops() async throws {
        let fixture = Fixture(ports: 26_140...26_159, eventLoops: 2)
        var caller = try await UDPPeer.bind()
        var agent = try await UDPPeer.bind()
        let callerLeg = try await fixture.server.openLeg { _ in }
        let agentLeg = try await fixture.server.openLeg { _ in }
        #expect(callerLeg.eventLoop !== agentLeg.eventLoop)
        callerLeg.configure(Self.format(caller.address, .pcma, payloadType: 8, events: 101))
        agentLeg.configure(Self.format(agent.address, .pcma, payloadType: 8, events: nil))
        bridge(callerLeg, agentLeg)
        try await fixture.settle()

        try await caller.send(Self.event(3, end: false, timestamp: 160, sequence: 1), toPort: callerLeg.localPort)
        for sequence: UInt16 in 2...4 {
            let packet = RTPPacket(
                marker: false, payloadType: 8, sequenceNumber: sequence, timestamp: 160 * UInt32(sequence), ssrc: 5, payload: [UInt8(sequence)])
            try await caller.send(packet, toPort: callerLeg.localPort)
        }
        for sequence: UInt16 in 2...4 {
            let relayed = try await agent.receive().packet
            #expect(relayed.sequenceNumber == sequence && relayed.payload == [UInt8(sequence)], "in order, the key event dropped")
        }
        let answer = RTPPacket(marker: true, payloadType: 8, sequenceNumber: 1, timestamp: 0, ssrc: 6, payload: [9])
        try await agent.send(answer, toPort: agentLeg.localPort)
        #expect(try await caller.receive().packet.payload == [9])

        callerLeg.close()
        agentLeg.close()
        try await caller.close()
        try await agent.close()
        try await fixture.shutdown()
    }

    /// An SRTP caller (RFC 3711, keys as SDES gives them: one per direction) bridged to a plain
    /// RTP agent: the caller's key press authenticates, is read and goes on in clear; a tampered
    /// or replayed packet is dropped and counted; the agent's audio reaches the caller encrypted.
    @Test func anSRTPLegIsReadAuthenticatedAndBridgedToAPlainOne() async throws {
        let fixture = Fixture(ports: 26_200...26_219)
        var caller = try await UDPPeer.bind()
        var agent = try await UDPPeer.bind()
        let ours = try #require(SRTPKeyMaterial(concatenated: Array(repeating: 0x11, count: 30)))
        let theirs = try #require(SRTPKeyMaterial(concatenated: Array(repeating: 0x22, count: 30)))
        let callerLeg = try await fixture.server.openLeg { key in fixture.log.yield("caller pressed \(key)") }
        let agentLeg = try await fixture.server.openLeg { _ in }
        var secure = Self.format(caller.address)
        secure.srtp = MediaFormat.SRTPKeys(send: ours, receive: theirs)
        callerLeg.configure(secure)
        agentLeg.configure(Self.format(agent.address))
        bridge(callerLeg, agentLeg)
        try await fixture.settle()

        var phoneSends = SRTPContext(theirs)
        let press = try phoneSends.protect(Self.event(7, end: false, timestamp: 160, sequence: 1).serialized())
        var tampered = try phoneSends.protect(Self.event(3, end: false, timestamp: 320, sequence: 2).serialized())
        tampered[13] ^= 0x01
        var plainToSecureLeg = Self.event(5, end: false, timestamp: 480, sequence: 3)
        plainToSecureLeg.payload += Array(repeating: 0, count: 10)  // as long as SRTP, but no tag
        try await caller.send(tampered, toPort: callerLeg.localPort)
        try await caller.send(plainToSecureLeg, toPort: callerLeg.localPort)
        try await caller.send(press, toPort: callerLeg.localPort)
        try await caller.send(press, toPort: callerLeg.localPort)  // replayed
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "caller pressed 7")
        let relayedKey = try await agent.receive().packet
        #expect(relayedKey == Self.event(7, end: false, timestamp: 160, sequence: 1), "in clear, the tag gone")

        let spoken = RTPPacket(marker: true, payloadType: 0, sequenceNumber: 40, timestamp: 9_000, ssrc: 555, payload: Array(repeating: 0x42, count: 160))
        try await agent.send(spoken, toPort: agentLeg.localPort)
        let heard = try await caller.receive().packet.serialized()
        #expect(heard.count == spoken.serialized().count + SRTPContext.tagLength && heard[12..<172] != spoken.serialized()[12...])
        var phoneReceives = SRTPContext(ours)
        #expect(try phoneReceives.unprotect(heard) == spoken.serialized())
        try await fixture.settle()
        #expect(try fixture.metrics.expectCounter("qualityrate_rtp_packets_dropped_total", [("reason", "srtp_refused")]).totalValue == 3)

        callerLeg.close()
        agentLeg.close()
        try await caller.close()
        try await agent.close()
        try await fixture.shutdown()
    }

    @Test func countsPacketsAndOpenLegs() async throws {
        let fixture = Fixture(ports: 26_160...26_179)
        var phone = try await UDPPeer.bind()
        let leg = try await fixture.server.openLeg { key in fixture.log.yield(String(key)) }
        #expect(try fixture.metrics.expectGauge("qualityrate_rtp_legs_open").lastValue == 1)
        leg.configure(Self.format(phone.address))
        try await fixture.settle()
        try await phone.send([0xDE, 0xAD], toPort: leg.localPort)
        try await phone.send(RTPPacket(marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 0, ssrc: 3, payload: [1]), toPort: leg.localPort)
        try await phone.send(Self.event(0, end: false, timestamp: 0, sequence: 2), toPort: leg.localPort)
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "0")
        leg.play(Self.prompt(bytes: 320)) { fixture.log.yield("played") }
        #expect(await events.next() == "played")
        for _ in 0..<2 { _ = try await phone.receive() }

        #expect(try fixture.metrics.expectCounter("qualityrate_rtp_packets_received_total").totalValue == 2)
        #expect(try fixture.metrics.expectCounter("qualityrate_rtp_packets_dropped_total", [("reason", "not_rtp")]).totalValue == 1)
        #expect(try fixture.metrics.expectCounter("qualityrate_rtp_packets_dropped_total", [("reason", "not_relayed")]).totalValue == 1)
        #expect(try fixture.metrics.expectCounter("qualityrate_rtp_packets_sent_total").totalValue == 2)
        leg.close()
        try await leg.portReleased.get()
        #expect(try fixture.metrics.expectGauge("qualityrate_rtp_legs_open").lastValue == 0)
        try await phone.close()
        try await fixture.shutdown()
    }

    /// The keys of a callback's `dst_dtmf` as the far end gets them: RFC 4733 events in the
    /// leg's own stream, after its prompt, read back by the receiving side's detector in order,
    /// with the pauses in their RTP timestamps.
    @Test func keysReachTheFarEndAsEventsInTheLegsStream() async throws {
        let fixture = Fixture(ports: 26_220...26_239)
        var phone = try await UDPPeer.bind()
        let leg = try await fixture.server.openLeg { _ in }
        leg.configure(Self.format(phone.address, events: 96))
        leg.play(Self.prompt(bytes: 320)) { fixture.log.yield("played") }
        let prompt = [try await phone.receive().packet, try await phone.receive().packet]
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "played")

        leg.sendKeys(try #require(KeySequence("1W2w#"))) { sent in fixture.log.yield("keys sent: \(sent)") }
        var packets: [RTPPacket] = []
        for _ in 0..<21 { packets.append(try await phone.receive().packet) }  // 3 keys of 7 packets
        #expect(await events.next() == "keys sent: true")

        #expect(packets.allSatisfy { $0.payloadType == 96 && $0.ssrc == prompt[0].ssrc }, "the prompt's stream")
        #expect(packets.map(\.sequenceNumber) == (1...21).map { prompt[1].sequenceNumber &+ UInt16($0) })
        var detector = KeyPressDetector(payloadType: 96)
        var presses: [(key: Character, timestamp: UInt32)] = []
        for packet in packets {
            if let key = detector.key(in: packet) { presses.append((key, packet.timestamp)) }
        }
        #expect(presses.map(\.key) == ["1", "2", "#"])
        #expect(presses[1].timestamp &- presses[0].timestamp >= 1_280 + 8_000, "a key, then W: a second more")
        #expect(presses[2].timestamp &- presses[1].timestamp >= 1_280 + 4_000, "a key, then w: half a second more")
        for (index, press) in presses.enumerated() {
            let event = Array(packets[(index * 7)..<(index * 7 + 7)])
            #expect(event.allSatisfy { $0.timestamp == press.timestamp }, "one timestamp per key")
            #expect(event.map(\.marker) == [true, false, false, false, false, false, false])
            let payloads = event.compactMap { TelephoneEvent(payload: $0.payload) }
            #expect(payloads.map(\.isEnd) == [false, false, false, false, true, true, true])
            #expect(payloads.allSatisfy { $0.key == press.key && $0.volume == 10 && $0.duration >= 160 })
            #expect(payloads.last?.duration ?? 0 >= 800, "100 ms or more")
        }

        leg.close()
        try await phone.close()
        try await fixture.shutdown()
    }

    @Test func keysOnAnSRTPLegAreEncryptedLikeItsAudio() async throws {
        let fixture = Fixture(ports: 26_240...26_259)
        var phone = try await UDPPeer.bind()
        let ours = try #require(SRTPKeyMaterial(concatenated: Array(repeating: 0x33, count: 30)))
        let theirs = try #require(SRTPKeyMaterial(concatenated: Array(repeating: 0x44, count: 30)))
        let leg = try await fixture.server.openLeg { _ in }
        var secure = Self.format(phone.address)
        secure.srtp = MediaFormat.SRTPKeys(send: ours, receive: theirs)
        leg.configure(secure)
        leg.sendKeys(try #require(KeySequence("*"))) { sent in fixture.log.yield("keys sent: \(sent)") }

        var phoneReceives = SRTPContext(ours)
        var detector = KeyPressDetector(payloadType: 101)
        var keys: [Character] = []
        for _ in 0..<7 {
            let protected = try await phone.receive().packet.serialized()
            let packet = try #require(RTPPacket(parsing: try phoneReceives.unprotect(protected)))
            #expect(protected.count == packet.serialized().count + SRTPContext.tagLength)
            if let key = detector.key(in: packet) { keys.append(key) }
        }
        #expect(keys == ["*"])
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "keys sent: true")

        leg.close()
        try await phone.close()
        try await fixture.shutdown()
    }

    /// A far end that negotiated no telephone-event: nothing is sent (no tones in the audio
    /// instead), and the caller hears so at once. A closed leg says the same.
    @Test func keysWithoutATelephoneEventTypeAreRefusedAtOnce() async throws {
        let fixture = Fixture(ports: 26_260...26_279)
        var phone = try await UDPPeer.bind()
        let leg = try await fixture.server.openLeg { _ in }
        leg.configure(Self.format(phone.address, events: nil))
        let keys = try #require(KeySequence("123"))
        leg.sendKeys(keys) { sent in fixture.log.yield("keys sent: \(sent)") }
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "keys sent: false")
        leg.play(Self.prompt(bytes: 160, tag: 1)) {}
        let first = try await phone.receive().packet
        #expect(first.payloadType == 0 && first.payload == Self.prompt(bytes: 160, tag: 1), "no key went before the prompt")

        let unconfigured = try await fixture.server.openLeg { _ in }
        unconfigured.sendKeys(keys) { sent in fixture.log.yield("unconfigured: \(sent)") }
        #expect(await events.next() == "unconfigured: false")
        leg.configure(Self.format(phone.address))
        leg.close()
        leg.sendKeys(keys) { sent in fixture.log.yield("closed: \(sent)") }
        #expect(await events.next() == "closed: false")

        unconfigured.close()
        try await phone.close()
        try await fixture.shutdown()
    }

    /// New keys replace those being sent (which report false), and closing the leg ends them.
    @Test func newKeysReplaceTheOnesBeingSentAndCloseEndsThem() async throws {
        let fixture = Fixture(ports: 26_280...26_299)
        var phone = try await UDPPeer.bind()
        let leg = try await fixture.server.openLeg { _ in }
        leg.configure(Self.format(phone.address))
        // A minute between each sequence's first key and its end: however long a loaded machine
        // stalls the test, neither can have gone further by itself.
        let aMinute = String(repeating: "W", count: 60)
        leg.sendKeys(try #require(KeySequence("1" + aMinute + "1"))) { sent in fixture.log.yield("first: \(sent)") }
        let first = try await phone.receive().packet
        leg.sendKeys(try #require(KeySequence("2" + aMinute))) { sent in fixture.log.yield("second: \(sent)") }
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "first: false")
        var detector = KeyPressDetector(payloadType: 101)
        let firstKey = detector.key(in: first)
        var keys = [try #require(firstKey)]
        while keys.count < 2 {
            if let key = detector.key(in: try await phone.receive().packet) { keys.append(key) }
        }
        #expect(keys == ["1", "2"], "the rest of the first keys never went")
        // In the second's minute: closing ends it.
        leg.close()
        #expect(await events.next() == "second: false")
        try await phone.close()
        try await fixture.shutdown()
    }

    @Test func aLegOnHoldSendsNothingAndItsPromptStillEnds() async throws {
        let fixture = Fixture(ports: 26_100...26_119)
        var phone = try await UDPPeer.bind()
        let leg = try await fixture.server.openLeg { _ in }
        leg.configure(Self.format(nil))
        leg.play(Self.prompt(bytes: 320, tag: 1)) { fixture.log.yield("held prompt ended") }
        var events = fixture.events.makeAsyncIterator()
        #expect(await events.next() == "held prompt ended")
        leg.configure(Self.format(phone.address))
        leg.play(Self.prompt(bytes: 160, tag: 2)) { fixture.log.yield("second") }
        let first = try await phone.receive().packet
        #expect(first.payload == Self.prompt(bytes: 160, tag: 2), "nothing of the held prompt reached the phone")
        #expect(await events.next() == "second")
        leg.close()
        try await phone.close()
        try await fixture.shutdown()
    }

    @Test func theRangeRunsOutAndAClosedLegsPortComesBack() async throws {
        let fixture = Fixture(ports: 26_120...26_123)
        let first = try await fixture.server.openLeg { _ in }
        let second = try await fixture.server.openLeg { _ in }
        #expect(Set([first.localPort, second.localPort]) == [26_120, 26_122])
        await #expect(throws: MediaError.noFreePort) { try await fixture.server.openLeg { _ in } }
        first.close()
        try await first.portReleased.get()
        let third = try await fixture.server.openLeg { _ in }
        #expect(third.localPort == first.localPort)
        second.close()
        third.close()
        try await fixture.shutdown()
    }

    @Test func aPortHeldByAnotherProgramIsSkipped() async throws {
        let fixture = Fixture(ports: 26_130...26_135)
        let squatter = try await UDPPeer.bind(port: 26_130)
        let leg = try await fixture.server.openLeg { _ in }
        #expect(leg.localPort == 26_132)
        let other = try await fixture.server.openLeg { _ in }
        #expect(other.localPort == 26_134)
        await #expect(throws: MediaError.noFreePort) { try await fixture.server.openLeg { _ in } }
        leg.close()
        other.close()
        try await squatter.close()
        try await fixture.shutdown()
    }
}

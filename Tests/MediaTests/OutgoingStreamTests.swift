import RTP
import Testing

@testable import Media

@Suite struct OutgoingStreamTests {
    func makePlayer() -> OutgoingStream {
        var generator = SystemRandomNumberGenerator()
        return OutgoingStream(stream: RTPStreamSender(using: &generator))
    }

    @Test func timestampsFollowTheTicksThroughSilenceLateTicksAndHold() throws {
        var player = makePlayer()
        player.play([UInt8](repeating: 1, count: 480))
        let first = try #require(player.frame(atTick: 10, payloadType: 0, silence: 0xFF, sending: true).packet)
        // Tick 11 was missed (a late tick): one frame at tick 12, its timestamp where the clock is.
        let late = try #require(player.frame(atTick: 12, payloadType: 0, silence: 0xFF, sending: true).packet)
        #expect(late.timestamp == first.timestamp &+ 320 && late.sequenceNumber == first.sequenceNumber &+ 1)
        let last = player.frame(atTick: 13, payloadType: 0, silence: 0xFF, sending: true)
        #expect(last.isLast && !player.isPlaying)
        #expect(player.frame(atTick: 14, payloadType: 0, silence: 0xFF, sending: true).packet == nil, "nothing plays")

        // The next prompt, after 6 silent ticks, with its first 2 frames on hold.
        player.play([UInt8](repeating: 2, count: 480))
        #expect(player.frame(atTick: 20, payloadType: 0, silence: 0xFF, sending: false).packet == nil)
        #expect(player.frame(atTick: 21, payloadType: 0, silence: 0xFF, sending: false).packet == nil)
        let resumed = player.frame(atTick: 22, payloadType: 0, silence: 0xFF, sending: true)
        let packet = try #require(resumed.packet)
        #expect(resumed.isLast && packet.marker)
        #expect(packet.timestamp == last.packet!.timestamp &+ 9 * 160 && packet.sequenceNumber == last.packet!.sequenceNumber &+ 1)
    }

    @Test func aNewPromptRightAfterTheLastStartsATalkspurt() throws {
        var player = makePlayer()
        player.play([1])
        let first = try #require(player.frame(atTick: 0, payloadType: 8, silence: 0xD5, sending: true).packet)
        #expect(first.payload == [1] + [UInt8](repeating: 0xD5, count: 159))
        player.play([2])
        let second = try #require(player.frame(atTick: 1, payloadType: 8, silence: 0xD5, sending: true).packet)
        #expect(second.marker && second.timestamp == first.timestamp &+ 160)
    }

    @Test func anEmptyPromptFinishesWithoutAPacket() {
        var player = makePlayer()
        player.play([])
        let frame = player.frame(atTick: 0, payloadType: 0, silence: 0xFF, sending: true)
        #expect(frame.packet == nil && frame.isLast)
    }
}

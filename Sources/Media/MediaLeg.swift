import NIOCore
import Logging
public import RTP

/// One call leg's RTP socket: prompts and keys out, keys in, and the relay to the leg it is
/// bridged with.
/// Every method may be called from any thread. Calls made on the leg's event loop (from
/// `onFinished` or `onKey`) take effect at once; calls from elsewhere are handed to the loop and
/// take effect in the order they were made.
public final class MediaLeg: Sendable {
    public let localPort: Int
    let eventLoop: any EventLoop
    private let state: NIOLoopBound<LegState>
    /// Succeeds once the socket is closed and its port is back in the range.
    let portReleased: EventLoopFuture<Void>

    init(localPort: Int, state: NIOLoopBound<LegState>, eventLoop: any EventLoop, portReleased: EventLoopFuture<Void>) {
        self.localPort = localPort
        self.state = state
        self.eventLoop = eventLoop
        self.portReleased = portReleased
    }

    /// Sets or changes (re-INVITE: hold/unhold, new address, other codec) where and how to send.
    public func configure(_ format: MediaFormat) {
        onLoop { $0.configure(format) }
    }

    /// Plays `audio` (8 kHz G.711 bytes already in this leg's codec) from its start, replacing
    /// whatever played before, one 160-byte frame per 20 ms tick; the last frame is padded with
    /// the codec's silence. `onFinished` is called once, on the leg's event loop, when the last
    /// frame was sent — never if the playback was replaced or stopped. On hold the prompt runs
    /// on in time without sending, and still finishes.
    public func play(_ audio: [UInt8], onFinished: @escaping @Sendable () -> Void) {
        onLoop { $0.play(audio, onFinished: onFinished) }
    }

    public func stopPlayback() {
        onLoop { $0.stopPlayback() }
    }

    /// Sends `keys` as RFC 4733 telephone events on the leg's telephone-event payload type, in
    /// its own stream (its SSRC, sequence numbers and timestamps, SRTP if the leg is), paced at
    /// 20 ms, in place of keys still being sent. A prompt playing meanwhile runs on unheard
    /// until the keys are done; audio relayed from a bridged leg goes on.
    ///
    /// `onFinished` is called once, on the leg's event loop: `true` when every packet was sent;
    /// `false` at once when the leg has no telephone-event payload type (the far end negotiated
    /// none: keys are not sent as tones in the audio instead) or is closed, and `false` when the
    /// keys are replaced, the leg is closed, or a packet cannot be sent (on hold, or a re-INVITE
    /// took the telephone-event payload type away) before the end.
    public func sendKeys(_ keys: KeySequence, onFinished: @escaping @Sendable (Bool) -> Void) {
        onLoop { $0.sendKeys(keys, onFinished: onFinished) }
    }

    /// Closes the socket and gives the port back; playback and relay stop.
    public func close() {
        unbridge(self)
        onLoop { $0.close() }
    }

    func onLoop(_ body: @escaping @Sendable (LegState) -> Void) {
        if eventLoop.inEventLoop {
            body(state.value)
        } else {
            eventLoop.execute { body(self.state.value) }
        }
    }
}

/// Relays RTP between two legs, both ways, and stops each leg's playback: SRTP decrypted on the
/// leg it arrives on and encrypted again (under the other leg's key) on the leg it leaves from,
/// so an SRTP leg and a plain one can be bridged; payloads converted
/// µ-law↔A-law when the legs' codecs differ, payload types rewritten to the receiving leg's
/// (telephone events to its telephone-event type, dropped if it has none), sent from the
/// receiving leg's socket to its remote. Keys are still read on both legs. A leg already in a
/// relay leaves it first.
public func bridge(_ a: MediaLeg, _ b: MediaLeg) {
    precondition(a !== b, "a leg cannot be bridged with itself")
    unbridge(a)
    unbridge(b)
    let bridge = BridgeToken()
    a.onLoop { $0.join(BridgePeer(leg: b, bridge: bridge)) }
    b.onLoop { $0.join(BridgePeer(leg: a, bridge: bridge)) }
}

/// Ends the relay that `leg` is in (both directions). No-op if none.
public func unbridge(_ leg: MediaLeg) {
    leg.onLoop { state in
        guard let peer = state.leaveBridge() else { return }
        peer.leg.onLoop { peerState in
            // The other side may have been bridged anew meanwhile: only this bridge ends.
            if peerState.peer?.bridge === peer.bridge { _ = peerState.leaveBridge() }
        }
    }
}

/// Tells one `bridge` call from another, so that ending an old relay cannot end a newer one
/// between the same legs, and a packet still in flight from an ended relay is dropped.
final class BridgeToken: Sendable {}

struct BridgePeer: Sendable {
    var leg: MediaLeg
    var bridge: BridgeToken
}

/// What a relayed packet carries, as the sending leg negotiated it.
enum RelayedPayload: Sendable {
    case audio(G711Codec)
    case telephoneEvent
}

extension MediaFormat {
    /// What a packet of this payload type is on a leg with this format; nil if it was not
    /// negotiated (comfort noise, another codec).
    func relayedPayload(ofType payloadType: UInt8) -> RelayedPayload? {
        if payloadType == telephoneEventPayloadType { return .telephoneEvent }
        if payloadType == self.payloadType { return .audio(codec) }
        return nil
    }
}

/// A leg's state, on its event loop only.
final class LegState {
    private var channel: any Channel
    let logger: Logger
    private let pacer: Pacer
    private let metrics: MediaMetrics
    private let onKey: @Sendable (Character) -> Void
    private var format: MediaFormat?
    /// The leg's SRTP, one context per direction, when its format asks for it.
    private var srtpSender: SRTPContext?
    private var srtpReceiver: SRTPContext?
    private var keyDetector: KeyPressDetector?
    private var stream: OutgoingStream
    private var onFinished: (@Sendable () -> Void)?
    private var onKeysSent: (@Sendable (Bool) -> Void)?
    private(set) var peer: BridgePeer?
    /// Where the pacer keeps this leg while it plays.
    var pacerIndex: Int?
    private(set) var isClosed = false
    /// An address a send to failed fatally (`socketFailed`): nothing goes there any more.
    private var unreachable: SocketAddress?
    /// Every packet the leg sends is written here: once the previous datagram has left, the
    /// storage is free again and no packet allocates a buffer.
    private var outgoing: ByteBuffer

    init(channel: any Channel, pacer: Pacer, metrics: MediaMetrics, logger: Logger, onKey: @escaping @Sendable (Character) -> Void) {
        self.channel = channel
        self.pacer = pacer
        self.metrics = metrics
        self.logger = logger
        self.onKey = onKey
        var generator = SystemRandomNumberGenerator()
        stream = OutgoingStream(stream: RTPStreamSender(using: &generator))
        outgoing = channel.allocator.buffer(capacity: 12 + RTPStreamSender.samplesPerPacket)
    }

    func configure(_ format: MediaFormat) {
        // The same keys (a re-INVITE for hold) keep their contexts: ROC and replay window go on.
        if format.srtp != self.format?.srtp {
            srtpSender = format.srtp.map { SRTPContext($0.send) }
            srtpReceiver = format.srtp.map { SRTPContext($0.receive) }
        }
        self.format = format
        unreachable = nil
        // A re-INVITE that keeps the payload type keeps the detector, so a press in progress
        // is not counted twice.
        if keyDetector?.payloadType != format.telephoneEventPayloadType {
            keyDetector = format.telephoneEventPayloadType.map(KeyPressDetector.init(payloadType:))
        }
    }

    func play(_ audio: [UInt8], onFinished: @escaping @Sendable () -> Void) {
        guard !isClosed else { return }
        stream.play(audio)
        self.onFinished = onFinished
        pacer.add(self)
    }

    func stopPlayback() {
        stream.stop()
        onFinished = nil
        if stream.isIdle { pacer.remove(self) }
    }

    func sendKeys(_ keys: KeySequence, onFinished: @escaping @Sendable (Bool) -> Void) {
        guard !isClosed, format?.telephoneEventPayloadType != nil else {
            onFinished(false)
            return
        }
        let replaced = onKeysSent
        stream.send(keys)
        onKeysSent = onFinished
        pacer.add(self)
        // Last: the callback may send keys again.
        replaced?(false)
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        stopPlayback()
        stream.stopKeys()
        pacer.remove(self)
        channel.close(promise: nil)
        let stopped = onKeysSent
        onKeysSent = nil
        stopped?(false)
    }

    func join(_ peer: BridgePeer) {
        guard !isClosed else { return }
        stopPlayback()
        self.peer = peer
    }

    func leaveBridge() -> BridgePeer? {
        defer { peer = nil }
        return peer
    }

    /// What a leg did on one tick of its pacer.
    struct Tick {
        var sent = false
        /// The callbacks of what finished, to call once the tick has served every leg.
        var finished: [@Sendable () -> Void] = []
        /// Nothing is left to play or send: the leg leaves the pacer.
        var isIdle: Bool
    }

    /// The pacer's tick: this leg's next prompt frame or key event.
    func sendFrame(atTick tick: Int64) -> Tick {
        let remote = destination
        let frame = stream.frame(atTick: tick, format: format, sending: remote != nil)
        var outcome = Tick(isIdle: stream.isIdle)
        if let packet = frame.packet, let remote {
            send(packet, payloadType: packet.payloadType, transcodingTable: nil, to: remote)
            outcome.sent = true
        }
        if frame.isLast, let onFinished {
            self.onFinished = nil
            outcome.finished.append(onFinished)
        }
        if let keysSent = frame.keysSent, let onKeysSent {
            self.onKeysSent = nil
            outcome.finished.append { onKeysSent(keysSent) }
        }
        return outcome
    }

    func received(_ datagram: ByteBuffer, from source: SocketAddress) {
        var bytes: [UInt8]
        if srtpReceiver != nil {
            // SRTP: nothing is used, not even its source address, before it authenticates.
            do {
                bytes = try srtpReceiver!.unprotect(Array(datagram.readableBytesView))
            } catch .malformed {
                metrics.malformedDropped.increment()
                return
            } catch {
                metrics.srtpRefused.increment()
                return
            }
            followSymmetric(source)
        } else {
            followSymmetric(source)
            // Most of what arrives is a caller's audio while a prompt plays, going nowhere: it is
            // dropped on its first two bytes (RTP version, payload type), without copying it out.
            if peer == nil, datagram.readableBytes >= 12, let start = datagram.getInteger(at: datagram.readerIndex, as: UInt16.self),
                start >> 14 == 2, UInt8(start & 0x7F) != format?.telephoneEventPayloadType
            {
                metrics.packetsReceived.increment()
                metrics.unrelayedDropped.increment()
                return
            }
            bytes = Array(datagram.readableBytesView)
        }
        guard let packet = RTPPacket(parsing: bytes) else {
            metrics.malformedDropped.increment()
            return
        }
        metrics.packetsReceived.increment()
        guard let format, let payload = format.relayedPayload(ofType: packet.payloadType) else {
            metrics.unrelayedDropped.increment()
            return
        }
        if case .telephoneEvent = payload, let key = keyDetector?.key(in: packet) { onKey(key) }
        guard let peer else {
            // A telephone event has been read; audio has nowhere to go.
            if case .audio = payload { metrics.unrelayedDropped.increment() }
            return
        }
        peer.leg.onLoop { $0.relay(packet, payload, bridge: peer.bridge) }
    }

    private func followSymmetric(_ source: SocketAddress) {
        guard let moved = format?.following(rtpFrom: source) else { return }
        logger.debug("RTP follows its source (symmetric RTP)", metadata: ["from": "\(format?.remote.map { "\($0)" } ?? "")", "to": "\(source)"])
        format = moved
        unreachable = nil
    }

    /// The socket was closed under the leg by a send that failed (see `MediaServer.watch`).
    func socketFailed() {
        unreachable = format?.remote
        metrics.socketsReopened.increment()
        logger.warning("RTP could not be sent to the address the peer gave; its socket is reopened, nothing more goes there",
                       metadata: ["remote": "\(unreachable.map { "\($0)" } ?? "none")"])
    }

    func replaceSocket(_ channel: any Channel) {
        self.channel = channel
        if isClosed { channel.close(promise: nil) }
    }

    /// Where this leg sends now: nowhere on hold, nor to an address a send failed to.
    private var destination: SocketAddress? {
        guard let remote = format?.remote, remote != unreachable else { return nil }
        return remote
    }

    /// A packet the bridged leg received, to send on from this one.
    func relay(_ packet: RTPPacket, _ payload: RelayedPayload, bridge: BridgeToken) {
        guard peer?.bridge === bridge, let format, let remote = destination else {
            metrics.unrelayedDropped.increment()
            return
        }
        switch payload {
        case .telephoneEvent:
            guard let payloadType = format.telephoneEventPayloadType else {
                metrics.unrelayedDropped.increment()
                return
            }
            send(packet, payloadType: payloadType, transcodingTable: nil, to: remote)
        case .audio(let codec):
            send(packet, payloadType: format.payloadType, transcodingTable: codec.transcodingTable(to: format.codec), to: remote)
        }
        metrics.packetsSent.increment()
    }

    /// Writes the packet's header in place, with `payloadType`, then its payload, through
    /// `transcodingTable` if there is one.
    private func send(_ packet: RTPPacket, payloadType: UInt8, transcodingTable: [UInt8]?, to remote: SocketAddress) {
        outgoing.clear()
        outgoing.writeInteger(UInt8(0x80))
        outgoing.writeInteger((packet.marker ? 0x80 : 0) | payloadType & 0x7F)
        outgoing.writeInteger(packet.sequenceNumber)
        outgoing.writeInteger(packet.timestamp)
        outgoing.writeInteger(packet.ssrc)
        if let transcodingTable {
            let payload = packet.payload
            outgoing.writeWithUnsafeMutableBytes(minimumWritableBytes: payload.count) { bytes in
                for index in payload.indices { bytes[index] = transcodingTable[Int(payload[index])] }
                return payload.count
            }
        } else {
            outgoing.writeBytes(packet.payload)
        }
        if srtpSender != nil {
            // The header was written here, so it is RTP: `protect` cannot refuse it.
            guard let protected = try? srtpSender!.protect(Array(outgoing.readableBytesView)) else { return }
            outgoing.clear()
            outgoing.writeBytes(protected)
        }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: outgoing), promise: nil)
    }
}

/// Hands a leg's datagrams to its state.
final class LegHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let leg: LegState

    init(leg: LegState) { self.leg = leg }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        leg.received(envelope.data, from: envelope.remoteAddress)
    }

    /// Kept open: a failed read or send (an ICMP error from a phone gone away) must not end the
    /// call's media; the call ends it.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        leg.logger.debug("RTP socket error", metadata: ["error": "\(error)"])
    }
}

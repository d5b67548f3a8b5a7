import Metrics
import NIOCore
import SIP
import Synchronization

/// What the NIO handlers and timers tell the endpoint.
enum EndpointEvent: Sendable {
    case message(SIPMessage, from: SIPPeer)
    case malformed(SIPParseError, bytes: [UInt8], from: SIPPeer)
    case timerFired(TransactionID, SIPTimer, serial: UInt64)
    case transportFailed(TransactionID)
    case connectionOpened(any Channel)
    case connectionClosed(any Channel, remote: SocketAddress)
    case connectFinished(SocketAddress, Result<any Channel, any Error>)
    /// The UDP socket closed: by `stop`, or by NIO after a send it counts as fatal.
    case udpClosed(any Channel)
}

/// Where the handlers and timers put events: one stream, in the order they happened (a TCP
/// connection's opening before its first message). Messages count against `capacity` until the
/// endpoint has taken them; past it a flood's messages are dropped and counted. Timers and
/// connection events are never dropped: there are only as many as transactions and sockets.
struct EndpointInbox: Sendable {
    let events: AsyncStream<EndpointEvent>.Continuation
    let waitingMessages: WaitingMessages
    let capacity: Int
    let dropped: Counter

    final class WaitingMessages: Sendable {
        let count = Atomic<Int>(0)
    }

    func yield(_ event: EndpointEvent) {
        switch event {
        case .message, .malformed:
            guard waitingMessages.count.add(1, ordering: .relaxed).newValue <= capacity else {
                waitingMessages.count.subtract(1, ordering: .relaxed)
                dropped.increment()
                return
            }
        default:
            break
        }
        events.yield(event)
    }

    /// The endpoint took `event` off the stream.
    func taken(_ event: EndpointEvent) {
        switch event {
        case .message, .malformed: waitingMessages.count.subtract(1, ordering: .relaxed)
        default: break
        }
    }
}

/// Parses each datagram on the event loop and hands the result to the endpoint.
final class UDPInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let events: EndpointInbox

    init(events: EndpointInbox) { self.events = events }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        let peer = SIPPeer(transport: .udp, address: envelope.remoteAddress)
        // Keep-alives (RFC 5626 §4.4.1, a bare CRLF) carry nothing.
        if bytes.allSatisfy({ $0 == 0x0D || $0 == 0x0A }) { return }
        do {
            events.yield(.message(try SIPParser.parse(bytes), from: peer))
        } catch {
            events.yield(.malformed(error, bytes: bytes, from: peer))
        }
    }

    /// A failed send (an ICMP error on some systems) must not close the one UDP socket.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Frames one TCP connection's stream into messages. After a framing error it reads no more:
/// the endpoint answers if it can and closes the connection.
final class TCPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let events: EndpointInbox
    // `SIPStreamFramer` refuses a message over 64 KiB before keeping more than that and one
    // read's worth of bytes, so an endless stream cannot grow this.
    private var framer = SIPStreamFramer()
    private var remote: SocketAddress?
    private var failed = false

    init(events: EndpointInbox) { self.events = events }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.channel.remoteAddress
        events.yield(.connectionOpened(context.channel))
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let remote { events.yield(.connectionClosed(context.channel, remote: remote)) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed, let remote else { return }
        let chunk = unwrapInboundIn(data)
        framer.append(chunk.readableBytesView)
        let peer = SIPPeer(transport: .tcp, address: remote)
        do {
            while let message = try framer.nextMessage() { events.yield(.message(message, from: peer)) }
        } catch {
            failed = true
            // The framer keeps its buffer to itself: the 400 is read from the segment that broke
            // the framing, which holds the offending head when the message came in one segment.
            events.yield(.malformed(error, bytes: Array(chunk.readableBytesView), from: peer))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

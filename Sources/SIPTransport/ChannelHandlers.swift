import Admission
import Logging
import Metrics
public import NIOCore
import NIOSSL
import SIP
import Synchronization

/// What the NIO handlers and timers tell the endpoint.
enum EndpointEvent: Sendable {
    case message(SIPMessage, from: SIPPeer)
    case malformed(SIPParseError, bytes: [UInt8], from: SIPPeer)
    case timerFired(TransactionID, SIPTimer, serial: UInt64)
    case transportFailed(TransactionID)
    case connectionOpened(any Channel, SIPTransportKind)
    case connectionClosed(any Channel, remote: SocketAddress, SIPTransportKind)
    case connectFinished(SocketAddress, Result<any Channel, any Error>)
    /// The UDP socket closed: by `stop`, or by NIO after a send it counts as fatal.
    case udpClosed(any Channel)
    /// A TLS connection failed (handshake, bad records): logged, then closed.
    case tlsFailed(SocketAddress?, String)
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

/// What a SIP/TCP client may hold (issue "Security and resilience at the edges"). A connection
/// is closed after `idleTimeout` without a byte from its peer — unless it carries a phone's
/// registration, which keeps it until the binding expires (as Kamailio's registrar does; the
/// server reaches the phone over it) — and after `partialMessageTimeout` holding part of a
/// message (a peer sending a message byte by byte). Past `maximumConnections` in all or
/// `maximumConnectionsPerAddress` from one address, a new connection is closed at once and the
/// cause logged: no SIP request has been read yet that a 503 could answer.
public struct SIPConnectionLimits: Sendable {
    public var maximumConnections: Int
    public var maximumConnectionsPerAddress: Int
    public var idleTimeout: TimeAmount
    public var partialMessageTimeout: TimeAmount

    public init(
        maximumConnections: Int = 1_000, maximumConnectionsPerAddress: Int = 64, idleTimeout: TimeAmount = .seconds(120),
        partialMessageTimeout: TimeAmount = .seconds(10)
    ) {
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.idleTimeout = idleTimeout
        self.partialMessageTimeout = partialMessageTimeout
    }
}

/// Asks a connection's handler to keep it open until `deadline` at least: it carries a
/// registration that lasts until then.
struct KeepConnection: Sendable {
    let deadline: NIODeadline
}

/// Frames one TCP connection's stream into messages — over TLS, the stream NIOSSL's handler
/// decrypted. After a framing error it reads no more: the endpoint answers if it can and closes
/// the connection. Connections this server accepted (TCP or TLS) hold a place among `counts`
/// and close by its timeouts; those it opened itself do not.
final class TCPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private let events: EndpointInbox
    /// `.tcp`, or `.tls` behind a `NIOSSLServerHandler` (its decrypted stream).
    private let transport: SIPTransportKind
    private let gate: ConnectionGate?
    private let limits: SIPConnectionLimits
    private let logger: Logger
    // `SIPStreamFramer` refuses a message over 64 KiB before keeping more than that and one
    // read's worth of bytes, so an endless stream cannot grow this.
    private var framer = SIPStreamFramer()
    private var remote: SocketAddress?
    private var counted: String?
    private var failed = false
    private var lastRead = NIODeadline.now()
    private var partialSince: NIODeadline?
    private var keepUntil = NIODeadline.uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?
    private var scheduledAt: NIODeadline?

    /// `gate`: where an accepted connection takes its place (nil for one this server opened).
    init(
        events: EndpointInbox, transport: SIPTransportKind = .tcp, gate: ConnectionGate?, limits: SIPConnectionLimits = SIPConnectionLimits(),
        logger: Logger
    ) {
        self.events = events
        self.transport = transport
        self.gate = gate
        self.limits = limits
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.channel.remoteAddress
        if let gate {
            let address = remote?.ipAddress ?? "unknown"
            if let refusal = gate.take(from: address) {
                let cause = refusal == .full
                    ? "\(limits.maximumConnections) SIP/TCP connections are open, the maximum"
                    : "\(limits.maximumConnectionsPerAddress) SIP/TCP connections from this address are open, the maximum per address"
                logger.notice("SIP/TCP connection refused: \(cause)", metadata: ["source": "\(address)"])
                remote = nil
                context.close(promise: nil)
                return
            }
            counted = address
            lastRead = .now()
            scheduleCheck(context, at: lastRead + limits.idleTimeout)
        }
        if remote != nil { events.yield(.connectionOpened(context.channel, transport)) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if let counted, let gate {
            gate.release(from: counted)
            self.counted = nil
        }
        if let remote { events.yield(.connectionClosed(context.channel, remote: remote, transport)) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed, let remote else { return }
        let chunk = unwrapInboundIn(data)
        lastRead = .now()
        framer.append(chunk.readableBytesView)
        let peer = SIPPeer(transport: transport, address: remote)
        do {
            while let message = try framer.nextMessage() { events.yield(.message(message, from: peer)) }
            partialSince = framer.holdsPartialMessage ? (partialSince ?? lastRead) : nil
        } catch {
            failed = true
            // The framer keeps its buffer to itself: the 400 is read from the segment that broke
            // the framing, which holds the offending head when the message came in one segment.
            events.yield(.malformed(error, bytes: Array(chunk.readableBytesView), from: peer))
        }
        if let partialSince, gate != nil { scheduleCheck(context, at: partialSince + limits.partialMessageTimeout) }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let keep = event as? KeepConnection else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        keepUntil = max(keepUntil, keep.deadline)
        promise?.succeed()
    }

    /// A reset, or over TLS a failed handshake or garbage instead of TLS records (NIOSSL's
    /// error): the connection is closed, its transactions fail with it. A peer closing without
    /// TLS close_notify (most do) is no failure.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if transport == .tls, (error as? NIOSSLError) != .uncleanShutdown {
            events.yield(.tlsFailed(remote, String(describing: error)))
        }
        context.close(promise: nil)
    }

    /// One timer per connection, for the earliest deadline; each firing re-reads the state.
    private func scheduleCheck(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        if let scheduledAt, scheduledAt <= deadline { return }  // an earlier check comes first
        timer?.cancel()
        scheduledAt = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            scheduledAt = nil
            check(context)
        }
    }

    private func check(_ context: ChannelHandlerContext) {
        guard gate != nil, counted != nil else { return }
        let now = NIODeadline.now()
        if let partialSince, now - partialSince >= limits.partialMessageTimeout {
            close(context, because: "part of a message held too long")
            return
        }
        let idleDeadline = max(lastRead + limits.idleTimeout, keepUntil)
        if now >= idleDeadline {
            close(context, because: "idle")
            return
        }
        scheduleCheck(context, at: min(idleDeadline, partialSince.map { $0 + limits.partialMessageTimeout } ?? idleDeadline))
    }

    private func close(_ context: ChannelHandlerContext, because cause: String) {
        gate?.closedByTimeout()
        logger.debug("SIP/TCP connection closed", metadata: ["cause": "\(cause)", "sip.peer": "\(remote.map { "\($0)" } ?? "?")"])
        context.close(promise: nil)
    }
}

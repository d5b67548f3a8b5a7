import Logging
import NIOCore
import NIOPosix
import SIP
import SIPTransport
import Testing

/// What the endpoint told its transaction user, in order.
enum UserEvent: Sendable {
    case request(SIPMessage, SIPPeer)
    case cancelled(SIPMessage)
    case notAcknowledged(SIPMessage)

    var message: SIPMessage {
        switch self {
        case .request(let message, _), .cancelled(let message), .notAcknowledged(let message): message
        }
    }
}

final class RecordingUser: SIPTransactionUser {
    let events: AsyncStream<UserEvent>
    private let continuation: AsyncStream<UserEvent>.Continuation

    init() { (events, continuation) = AsyncStream.makeStream() }

    func received(request: SIPMessage, from peer: SIPPeer) async { continuation.yield(.request(request, peer)) }
    func cancelled(invite: SIPMessage) async { continuation.yield(.cancelled(invite)) }
    func answerNotAcknowledged(_ response: SIPMessage) async { continuation.yield(.notAcknowledged(response)) }
}

/// A user that takes its time: each request (of `holding`'s methods; nil: all) waits for a
/// `release` before `received` returns; the others return at once.
final class SlowUser: SIPTransactionUser {
    let arrived: AsyncStream<SIPMessage>
    private let arrivals: AsyncStream<SIPMessage>.Continuation
    private let releases: AsyncStream<Void>
    private let release: AsyncStream<Void>.Continuation
    private let holding: Set<String>?

    init(holding: Set<String>? = nil) {
        self.holding = holding
        (arrived, arrivals) = AsyncStream.makeStream()
        (releases, release) = AsyncStream.makeStream()
    }

    /// Only one request may be waiting at a time: the releases are one stream.
    func received(request: SIPMessage, from peer: SIPPeer) async {
        arrivals.yield(request)
        if let holding, !holding.contains(request.method ?? "") { return }
        var iterator = releases.makeAsyncIterator()
        _ = await iterator.next()
    }

    func releaseOne() { release.yield() }
    func cancelled(invite: SIPMessage) async {}
    func answerNotAcknowledged(_ response: SIPMessage) async {}
}

/// The standard T1 unless a test waits for a timer to run out: on a busy machine a shorter one
/// can expire before the test's next message is handled.
func endpointOptions(t1: Duration = SIPTimerValues.standard.t1) -> (timers: SIPTimerValues, logger: Logger) {
    var logger = Logger(label: "sip-transport-test")
    logger.logLevel = .critical
    return (SIPTimerValues(t1: t1, t2: t1 * 8, t4: t1 * 10), logger)
}

/// An endpoint on 127.0.0.1 with a free port and a recording user.
func startEndpoint(
    t1: Duration = SIPTimerValues.standard.t1, port: Int = 0, connectionLimits: SIPConnectionLimits = SIPConnectionLimits()
) async throws -> (SIPEndpoint, RecordingUser) {
    let user = RecordingUser()
    return (try await startEndpoint(serving: user, t1: t1, port: port, connectionLimits: connectionLimits), user)
}

/// An endpoint on 127.0.0.1 (by default on a free port), running for `user` (the test owns its
/// `run()`).
func startEndpoint(
    serving user: some SIPTransactionUser, t1: Duration = SIPTimerValues.standard.t1, port: Int = 0,
    connectionLimits: SIPConnectionLimits = SIPConnectionLimits()
) async throws -> SIPEndpoint {
    let (timers, logger) = endpointOptions(t1: t1)
    let endpoint = SIPEndpoint(host: "127.0.0.1", port: port, timers: timers, connectionLimits: connectionLimits, logger: logger)
    try await endpoint.start(user: user)
    Task { await endpoint.run() }
    return endpoint
}

/// A SIP phone or trunk for the endpoint to talk to: a plain UDP socket.
final class UDPTestPeer: Sendable {
    let channel: any Channel
    let received: AsyncStream<[UInt8]>

    init() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        received = stream
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector<AddressedEnvelope<ByteBuffer>>(continuation) { Array($0.data.readableBytesView) })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    var port: Int { channel.localAddress?.port ?? 0 }
    var peer: SIPPeer { SIPPeer(transport: .udp, address: channel.localAddress!) }

    func send(_ text: String, to address: SocketAddress) async throws {
        try await send(Array(text.utf8), to: address)
    }

    func send(_ bytes: [UInt8], to address: SocketAddress) async throws {
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: bytes))).get()
    }

    func close() async { try? await channel.close() }
}

/// A TCP connection to the endpoint, or one the endpoint opened to a `TCPTestListener`.
final class TCPTestConnection: Sendable {
    let channel: any Channel
    /// The bytes as they arrive; finishes when the connection closes.
    let received: AsyncStream<[UInt8]>

    init(channel: any Channel, received: AsyncStream<[UInt8]>) {
        self.channel = channel
        self.received = received
    }

    static func connect(to address: SocketAddress) async throws -> TCPTestConnection {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector<ByteBuffer>(continuation) { Array($0.readableBytesView) })
                }
            }
            .connect(to: address).get()
        return TCPTestConnection(channel: channel, received: stream)
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    func close() async { try? await channel.close() }
}

/// A TCP listener whose accepted connections come out of `connections`.
final class TCPTestListener: Sendable {
    let channel: any Channel
    let connections: AsyncStream<TCPTestConnection>

    init() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: TCPTestConnection.self)
        connections = stream
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (bytes, bytesContinuation) = AsyncStream.makeStream(of: [UInt8].self)
                    try channel.pipeline.syncOperations.addHandler(Collector<ByteBuffer>(bytesContinuation) { Array($0.readableBytesView) })
                    continuation.yield(TCPTestConnection(channel: channel, received: bytes))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    var peer: SIPPeer { SIPPeer(transport: .tcp, address: channel.localAddress!) }

    func close() async { try? await channel.close() }
}

/// Hands what a channel reads to a stream, and finishes it when the channel closes.
final class Collector<Inbound>: ChannelInboundHandler {
    typealias InboundIn = Inbound
    private let continuation: AsyncStream<[UInt8]>.Continuation
    private let bytes: (Inbound) -> [UInt8]

    init(_ continuation: AsyncStream<[UInt8]>.Continuation, bytes: @escaping (Inbound) -> [UInt8]) {
        self.continuation = continuation
        self.bytes = bytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(bytes(unwrapInboundIn(data))) }
    func channelInactive(context: ChannelHandlerContext) { continuation.finish() }
}

/// Reads SIP messages from a peer's datagrams or stream.
struct MessageReader {
    private var iterator: AsyncStream<[UInt8]>.Iterator
    private var framer = SIPStreamFramer()
    private let stream: Bool

    init(datagrams: AsyncStream<[UInt8]>) {
        iterator = datagrams.makeAsyncIterator()
        stream = false
    }

    init(stream: AsyncStream<[UInt8]>) {
        iterator = stream.makeAsyncIterator()
        self.stream = true
    }

    /// The next message; nil when the connection closed.
    mutating func next() async throws -> SIPMessage? {
        if !stream {
            guard let bytes = await iterator.next() else { return nil }
            return try SIPParser.parse(bytes)
        }
        while true {
            if let message = try framer.nextMessage() { return message }
            guard let bytes = await iterator.next() else { return nil }
            framer.append(bytes)
        }
    }
}

/// A request as a phone would write it.
func request(
    _ method: String, branch: String, callID: String = "call-1", cseq: UInt32 = 1, viaHost: String = "127.0.0.1",
    port: Int, transport: String = "UDP", toTag: String? = nil, extraHeaders: String = ""
) -> String {
    "\(method) sip:200@127.0.0.1 SIP/2.0\r\n"
        + "Via: SIP/2.0/\(transport) \(viaHost):\(port);rport;branch=\(branch)\r\n"
        + "Max-Forwards: 70\r\n"
        + "From: <sip:caller@127.0.0.1>;tag=caller\r\n"
        + "To: <sip:200@127.0.0.1>\(toTag.map { ";tag=\($0)" } ?? "")\r\n"
        + "Call-ID: \(callID)\r\n"
        + "CSeq: \(cseq) \(method)\r\n"
        + extraHeaders
        + "Content-Length: 0\r\n\r\n"
}

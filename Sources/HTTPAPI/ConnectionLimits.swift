public import Admission
import HTTPTypes
import Logging
import Metrics
public import NIOCore
import NIOHTTPTypes
import Synchronization

/// What the HTTP server lets a client hold (issue "Security and resilience at the edges"): a
/// connection that sends its request head too slowly or stays idle is closed after
/// `idleTimeout` (Hummingbird's idle timer starts when the connection opens and after each
/// response, and a head dribbled byte by byte is no progress to it); a body not complete within
/// `bodyTimeout` of its head is cut; past `maximumConnections` in all or
/// `maximumConnectionsPerAddress` from one address, a new connection is answered `503` at once
/// with the cause and closed — it never waits unanswered in the listen queue.
public struct HTTPLimits: Sendable {
    public var loginBans: AuthenticationBans<String>.Policy
    public var maximumConnections: Int
    public var maximumConnectionsPerAddress: Int
    public var idleTimeout: TimeAmount
    public var bodyTimeout: TimeAmount
    /// Live event streams (`…/quality_rate/events`) one client may hold open: enough for a
    /// supervisors' room of dashboards, too few for one client to take the server's connections.
    public var maximumEventStreamsPerClient: Int
    /// Live event streams in all: half the connections, so streams, which hold theirs for an
    /// hour, can never leave the rest of the API without one (docs/API.md, "Live events").
    public var maximumEventStreams: Int { max(1, maximumConnections / 2) }

    public init(
        loginBans: AuthenticationBans<String>.Policy = .standard, maximumConnections: Int = 1_000, maximumConnectionsPerAddress: Int = 100,
        idleTimeout: TimeAmount = .seconds(30), bodyTimeout: TimeAmount = .seconds(60), maximumEventStreamsPerClient: Int = 20
    ) {
        self.loginBans = loginBans
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.maximumEventStreamsPerClient = maximumEventStreamsPerClient
    }
}

/// One connection's place at the listener's `ConnectionGate` and its body timer. Sits after HTTP
/// decoding in each connection's pipeline.
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let gate: ConnectionGate
    private let bodyTimeout: TimeAmount
    private let logger: Logger
    private var address: String?
    private var bodyTimer: Scheduled<Void>?

    init(gate: ConnectionGate, bodyTimeout: TimeAmount, logger: Logger) {
        self.gate = gate
        self.bodyTimeout = bodyTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { opened(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        opened(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        released()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        released()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            bodyTimer?.cancel()
            let timeout = bodyTimeout
            bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [gate, logger] in
                gate.closedByTimeout()
                logger.notice("HTTP request body not complete in time; connection closed", metadata: ["timeout": "\(timeout)"])
                context.close(promise: nil)
            }
        case .body:
            break
        case .end:
            bodyTimer?.cancel()
            bodyTimer = nil
        }
        context.fireChannelRead(data)
    }

    private func opened(_ context: ChannelHandlerContext) {
        guard address == nil else { return }
        let from = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if let refusal = gate.take(from: from) {
            let reason = refusal == .full ? "too many HTTP connections to this server" : "too many HTTP connections from your address"
            logger.notice("HTTP connection refused: \(reason)", metadata: ["source": "\(from)"])
            refuse(context, reason)
            return
        }
        address = from
    }

    /// 503 with the cause, before the request is read, then the connection is closed: the
    /// client learns why at once (a load balancer's health check as well as a person).
    private func refuse(_ context: ChannelHandlerContext, _ reason: String) {
        let body = #"{"error":"service_unavailable","error_description":"\#(reason); try again later"}"#
        var head = HTTPResponse(status: .serviceUnavailable)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.utf8.count)
        head.headerFields[.retryAfter] = "5"
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(string: body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func released() {
        bodyTimer?.cancel()
        bodyTimer = nil
        guard let address else { return }
        self.address = nil
        gate.release(from: address)
    }
}

public import Admission
import HTTPTypes
public import Logging
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

    public init(
        loginBans: AuthenticationBans<String>.Policy = .standard, maximumConnections: Int = 1_000, maximumConnectionsPerAddress: Int = 100,
        idleTimeout: TimeAmount = .seconds(30), bodyTimeout: TimeAmount = .seconds(60)
    ) {
        self.loginBans = loginBans
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
    }
}

/// The open connections, in all and per address, shared by every connection's guard.
final class HTTPConnectionCounts: Sendable {
    private struct State {
        var total = 0
        var perAddress: [String: Int] = [:]
    }

    enum Refusal: Equatable {
        case tooManyConnections, tooManyFromAddress

        var reason: String {
            switch self {
            case .tooManyConnections: "too many HTTP connections to this server"
            case .tooManyFromAddress: "too many HTTP connections from your address"
            }
        }
    }

    private let state = Mutex(State())
    let limits: HTTPLimits
    private static let refused = Counter(label: "qualityrate_http_connections_refused_total")
    private static let closedByTimeout = Counter(label: "qualityrate_http_connections_timed_out_total")
    private let open = Gauge(label: "qualityrate_http_connections")

    init(limits: HTTPLimits) { self.limits = limits }

    /// Takes a place for a connection from `address`, or says why there is none.
    func open(from address: String) -> Refusal? {
        let (refusal, total): (Refusal?, Int) = state.withLock { state in
            if state.total >= limits.maximumConnections { return (.tooManyConnections, state.total) }
            if state.perAddress[address, default: 0] >= limits.maximumConnectionsPerAddress { return (.tooManyFromAddress, state.total) }
            state.total += 1
            state.perAddress[address, default: 0] += 1
            return (nil, state.total)
        }
        if refusal != nil { Self.refused.increment() }
        open.record(total)
        return refusal
    }

    func close(from address: String) {
        open.record(state.withLock { state in
            state.total -= 1
            let left = state.perAddress[address, default: 1] - 1
            state.perAddress[address] = left > 0 ? left : nil
            return state.total
        })
    }

    func timedOut() { Self.closedByTimeout.increment() }
}

/// One connection's place among `HTTPConnectionCounts` and its body timer. Sits after HTTP
/// decoding in each connection's pipeline.
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let counts: HTTPConnectionCounts
    private let logger: Logger
    private var address: String?
    private var bodyTimer: Scheduled<Void>?

    init(counts: HTTPConnectionCounts, logger: Logger) {
        self.counts = counts
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
            let timeout = counts.limits.bodyTimeout
            bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [counts, logger] in
                counts.timedOut()
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
        if let refusal = counts.open(from: from) {
            logger.notice("HTTP connection refused: \(refusal.reason)", metadata: ["source": "\(from)"])
            refuse(context, refusal)
            return
        }
        address = from
    }

    /// 503 with the cause, before the request is read, then the connection is closed: the
    /// client learns why at once (a load balancer's health check as well as a person).
    private func refuse(_ context: ChannelHandlerContext, _ refusal: HTTPConnectionCounts.Refusal) {
        let body = #"{"error":"service_unavailable","error_description":"\#(refusal.reason); try again later"}"#
        var head = HTTPResponse(status: .serviceUnavailable)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.utf8.count)
        head.headerFields[.retryAfter] = "5"
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(string: body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    private func released() {
        bodyTimer?.cancel()
        bodyTimer = nil
        guard let address else { return }
        self.address = nil
        counts.close(from: address)
    }
}

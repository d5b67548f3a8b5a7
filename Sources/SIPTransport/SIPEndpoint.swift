public import Logging
import Admission
import Metrics
public import NIOCore
public import NIOPosix
public import NIOSSL
public import SIP
import Synchronization

/// Where SIP over TLS (RFC 3261 §26.2.1) is served, and with which certificate and key.
public struct SIPTLSListener: Sendable {
    public var host: String
    public var port: Int
    /// A server context (`TLSConfiguration.makeServerConfiguration`).
    public var context: NIOSSLContext

    public init(host: String, port: Int, context: NIOSSLContext) {
        self.host = host
        self.port = port
        self.context = context
    }
}

/// SIP over UDP, TCP and TLS (RFC 3261 §18) around the transaction layer (`TransactionLayer`, §17):
/// the NIO handlers parse bytes on their event loops and feed this actor, which hands each
/// message to the layer and performs what it returns — bytes to sockets, timers on an event
/// loop, deliveries to the transaction user. The user is called from lanes, one per group of
/// Call-IDs, so a slow user never holds up retransmissions and the calls of one Call-ID keep
/// their order while different calls are handled side by side.
///
/// Every queue is bounded: a flood fills them and what does not fit is dropped and counted
/// (`qualityrate_sip_inbound_dropped_total`); a request dropped on its way to the user is
/// answered 503 with Retry-After (RFC 3261 §21.5.4), so its sender neither retransmits into the
/// flood forever nor leaves a transaction behind. `run()` is the endpoint's work, owned by the
/// caller's task (the service group); `stop()` ends it.
public actor SIPEndpoint {
    private let host: String
    private let port: Int
    private let tls: SIPTLSListener?
    private let timers: SIPTimerValues
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger

    /// What the sockets and timers report, in order; its messages are bounded (`EndpointInbox`).
    private let events: (stream: AsyncStream<EndpointEvent>, continuation: AsyncStream<EndpointEvent>.Continuation)
    private let inbox: EndpointInbox
    private let lanes: [(stream: AsyncStream<TransactionLayer.Delivery>, continuation: AsyncStream<TransactionLayer.Delivery>.Continuation)]
    private var user: (any SIPTransactionUser)?

    private var layer: TransactionLayer
    private var requesters: [ClientTransactionKey: Requester] = [:]

    /// Who a client transaction's responses go to.
    private enum Requester {
        case stream(AsyncStream<SIPMessage>.Continuation)
        case handler(@Sendable (SIPMessage) -> Void)

        func deliver(_ response: SIPMessage) {
            switch self {
            case .stream(let continuation): continuation.yield(response)
            case .handler(let handler): handler(response)
            }
        }

        func finish() {
            if case .stream(let continuation) = self { continuation.finish() }
        }
    }

    private var udpChannel: (any Channel)?
    /// The loop of the first UDP socket: timers run there, also while a new socket is opened.
    private var timerLoop: (any EventLoop)?
    private var isStopped = false
    private var tcpListener: (any Channel)?
    private var tlsListener: (any Channel)?
    private var boundAddress: SocketAddress?
    private var tlsBoundAddress: SocketAddress?
    /// The bound port, read by `newVia`, which is nonisolated so that building a request needs
    /// no actor hop.
    private let boundPort: Mutex<Int>
    private let tlsBoundPort: Mutex<Int>

    /// TCP and TLS connections, by transport and remote address: a phone registered over one
    /// is reached over it (RFC 3261 §18.2.2, RFC 5626 §5).
    private var connections: [SIPPeer: any Channel] = [:]
    /// The accepted TCP and TLS connections, against `SIPConnectionLimits`.
    private let connectionGate: ConnectionGate
    private let connectionLimits: SIPConnectionLimits
    /// Bytes for a TCP peer being connected to, sent once the connection is up.
    private var pendingWrites: [SocketAddress: [(bytes: [UInt8], owner: TransactionID?)]] = [:]

    private var runningTimers: [TimerSlot: (serial: UInt64, scheduled: Scheduled<Void>)] = [:]
    private var timerSerial: UInt64 = 0

    private let malformed: [SIPTransportKind: Counter]
    private let unmatchedResponses: [SIPTransportKind: Counter]
    private let udpReopened = Counter(label: "qualityrate_sip_udp_sockets_reopened_total")
    private let droppedBeforeUser = Counter(label: "qualityrate_sip_inbound_dropped_total", dimensions: [("queue", "user")])

    /// Messages read from the sockets and not yet handled: a burst of this many is absorbed,
    /// more is dropped (UDP peers retransmit; RFC 3261 §17).
    public static let inboundCapacity = 4_096
    /// Requests waiting for the user in one lane.
    public static let laneCapacity = 256

    /// `tls`: also serve SIP over TLS there (none: UDP and TCP only).
    public init(
        host: String, port: Int, tls: SIPTLSListener? = nil, timers: SIPTimerValues = .standard,
        connectionLimits: SIPConnectionLimits = SIPConnectionLimits(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        connectionGate = ConnectionGate(
            maximum: connectionLimits.maximumConnections, maximumPerAddress: connectionLimits.maximumConnectionsPerAddress,
            name: "qualityrate_sip_tcp_connections")
        self.connectionLimits = connectionLimits
        self.host = host
        self.port = port
        self.tls = tls
        self.timers = timers
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        layer = TransactionLayer(timers: timers)
        events = AsyncStream.makeStream()
        inbox = EndpointInbox(
            events: events.continuation, waitingMessages: .init(), capacity: Self.inboundCapacity,
            dropped: Counter(label: "qualityrate_sip_inbound_dropped_total", dimensions: [("queue", "sockets")]))
        // The call lanes, then the probe lane (`deliver`).
        lanes = (0...Self.laneCount).map { _ in AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(Self.laneCapacity)) }
        boundPort = Mutex(port)
        tlsBoundPort = Mutex(tls?.port ?? port)
        var malformed: [SIPTransportKind: Counter] = [:]
        var unmatched: [SIPTransportKind: Counter] = [:]
        for kind in SIPTransportKind.allCases {
            let transport = [("transport", kind.rawValue.lowercased())]
            malformed[kind] = Counter(label: "qualityrate_sip_messages_malformed_total", dimensions: transport)
            unmatched[kind] = Counter(label: "qualityrate_sip_responses_unmatched_total", dimensions: transport)
        }
        self.malformed = malformed
        unmatchedResponses = unmatched
    }

    /// Binds UDP and TCP on host:port (port 0: any free port, the same for both when it is free
    /// for TCP too, else TCP gets its own); what arrives is handled once `run()` runs.
    public func start(user: any SIPTransactionUser) async throws {
        self.user = user
        let (udp, tcp) = try await bind()
        let udpPort = udp.localAddress?.port ?? port
        udpChannel = udp
        timerLoop = udp.eventLoop
        watch(udp)
        tcpListener = tcp
        boundAddress = udp.localAddress
        boundPort.withLock { $0 = udpPort }
        logger.info(
            "SIP listening",
            metadata: ["sip.udp": "\(udp.localAddress.map(String.init(describing:)) ?? "?")", "sip.tcp": "\(tcp.localAddress.map(String.init(describing:)) ?? "?")"])
        if let tls {
            do {
                let listener = try await tlsBootstrap(tls.context).bind(host: tls.host, port: tls.port).get()
                tlsListener = listener
                tlsBoundAddress = listener.localAddress
                tlsBoundPort.withLock { $0 = listener.localAddress?.port ?? tls.port }
                logger.info("SIP over TLS listening", metadata: ["sip.tls": "\(listener.localAddress.map(String.init(describing:)) ?? "?")"])
            } catch {
                try? await udp.close()
                try? await tcp.close()
                throw error
            }
        }
    }

    /// The TLS listener: each connection's bytes go through NIOSSL (the handshake with this
    /// server's certificate, then decryption) before the SIP framing.
    private func tlsBootstrap(_ context: NIOSSLContext) -> ServerBootstrap {
        let (inbox, gate, limits, logger) = (inbox, connectionGate, connectionLimits, logger)
        return ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(TCPConnectionHandler(events: inbox, transport: .tls, gate: gate, limits: limits, logger: logger))
                }
            }
    }

    /// The endpoint's work — the messages from the sockets, the timers, the lanes to the user —
    /// as child tasks of the caller's; returns once `stop()` has ended them.
    public func run() async {
        guard let user else { preconditionFailure("SIPEndpoint.run() before start(user:)") }
        let events = events.stream
        let inbox = inbox
        let lanes = lanes.map(\.stream)
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await event in events {
                    inbox.taken(event)
                    await self.handle(event)
                }
            }
            for lane in lanes {
                group.addTask {
                    for await delivery in lane {
                        switch delivery {
                        case .request(let request, let peer): await user.received(request: request, from: peer)
                        case .cancelled(let invite): await user.cancelled(invite: invite)
                        case .notAcknowledged(let response): await user.answerNotAcknowledged(response)
                        }
                    }
                }
            }
        }
    }

    /// The UDP socket's bootstrap, for the first bind and for a socket opened again.
    private var udpBootstrap: DatagramBootstrap {
        let inbox = inbox
        // No SO_REUSEADDR on UDP: on Linux it would let a second server share the port silently.
        return DatagramBootstrap(group: eventLoopGroup)
            // A SIP message may be 64 KiB; NIO's default datagram buffer is 2 KiB.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: SIPParser.maxMessageSize + 1))
            // A burst (a trunk's busy hour, a flood) waits in the kernel while the loop reads:
            // with Linux's default of 208 KiB, a few hundred INVITEs fill it and the rest are
            // dropped unanswered. 1 MiB holds about a thousand — a second or so of work, a longer
            // queue would only delay everyone; the kernel caps it at net.core.rmem_max.
            .channelOption(.socketOption(.so_rcvbuf), value: 1 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPInboundHandler(events: inbox))
                }
            }
    }

    private func watch(_ udp: any Channel) {
        let inbox = inbox
        udp.closeFuture.whenComplete { _ in inbox.yield(.udpClosed(udp)) }
    }

    /// NIO closes a UDP socket after a send it counts as fatal (EINVAL, ENETUNREACH, EPERM,
    /// EACCES: an address this host cannot send to, a firewall's refusal). SIP over UDP must not
    /// end there: the socket is opened again on the same address; what was being sent is lost
    /// and retransmitted by its transaction.
    private func udpClosed(_ channel: any Channel) async {
        guard !isStopped, udpChannel === channel, let boundAddress else { return }
        udpChannel = nil
        udpReopened.increment()
        logger.error("SIP UDP socket closed after a failed send; opening it again", metadata: ["sip.udp": "\(boundAddress)"])
        do {
            let udp = try await udpBootstrap.bind(to: boundAddress).get()
            guard !isStopped else {
                try? await udp.close()
                return
            }
            udpChannel = udp
            watch(udp)
        } catch {
            logger.critical("SIP over UDP is down: its socket could not be opened again", metadata: ["error": "\(error)"])
        }
    }

    /// UDP, then TCP on the same port. With port 0 the free port UDP got may be taken for TCP
    /// (by the local end of some connection): a few fresh UDP ports are tried before TCP gets a
    /// port of its own.
    private func bind() async throws -> (udp: any Channel, tcp: any Channel) {
        let inbox = inbox
        let udpBootstrap = udpBootstrap
        let (gate, limits, logger) = (connectionGate, connectionLimits, logger)
        let tcpBootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPConnectionHandler(events: inbox, gate: gate, limits: limits, logger: logger))
                }
            }
        var attempts = 0
        while true {
            attempts += 1
            let udp = try await udpBootstrap.bind(host: host, port: port).get()
            do {
                return (udp, try await tcpBootstrap.bind(host: host, port: udp.localAddress?.port ?? port).get())
            } catch where port == 0 && attempts < 20 {
                try? await udp.close()
            } catch where port == 0 {
                return (udp, try await tcpBootstrap.bind(host: host, port: 0).get())
            } catch {
                try? await udp.close()
                throw error
            }
        }
    }

    /// The bound address (UDP's), also the host:port of this server's Via. Only after `start`.
    public var localAddress: SocketAddress {
        guard let boundAddress else { preconditionFailure("SIPEndpoint.localAddress read before start()") }
        return boundAddress
    }

    /// The TLS listener's bound address, the host:port of this server's Via over TLS; nil
    /// without TLS. Only after `start`.
    public var tlsLocalAddress: SocketAddress? { tlsBoundAddress }

    /// Closes the sockets and cancels the timers; requesters' streams finish, and `run()` returns
    /// once the user has been handed what was queued.
    public func stop() async {
        isStopped = true
        for (_, timer) in runningTimers { timer.scheduled.cancel() }
        runningTimers = [:]
        perform(layer.stop())
        let channels = [udpChannel, tcpListener, tlsListener].compactMap { $0 } + Array(connections.values)
        connections = [:]
        pendingWrites = [:]
        udpChannel = nil
        tcpListener = nil
        tlsListener = nil
        for channel in channels { try? await channel.close() }
        events.continuation.finish()
        for lane in lanes { lane.continuation.finish() }
    }

    // MARK: The transaction user's side

    /// Sends a response through the server transaction of its request (RFC 3261 §17.2.3),
    /// retransmitting a 2xx to an INVITE until its ACK (`TransactionLayer.respond`).
    public func respond(_ response: SIPMessage) async {
        perform(layer.respond(response))
    }

    /// Sends a request through a new client transaction: the stream yields the provisional
    /// responses, then the final one; for an INVITE, later 2xx (retransmissions, forks) until the
    /// transaction ends (RFC 6026 timer M). A timeout yields a 408 made here, a transport error a
    /// 503 (RFC 3261 §8.1.3.1); then the stream finishes. An ACK is sent without a transaction.
    public func send(request: SIPMessage, to peer: SIPPeer) -> AsyncStream<SIPMessage> {
        let (stream, responses) = AsyncStream.makeStream(of: SIPMessage.self)
        start(request, to: peer, for: .stream(responses))
        return stream
    }

    /// The same, each response handed to `onResponse` as it arrives, on this actor: no task
    /// waits for them (a call sends a request or two per leg; thousands of calls do).
    public func send(request: SIPMessage, to peer: SIPPeer, onResponse: @escaping @Sendable (SIPMessage) -> Void) {
        start(request, to: peer, for: .handler(onResponse))
    }

    private func start(_ request: SIPMessage, to peer: SIPPeer, for requester: Requester) {
        switch layer.start(request, to: peer) {
        case .success((let key, let outputs)):
            if let key, !isStopped { requesters[key] = requester } else { requester.finish() }
            perform(outputs)
        case .failure:
            logger.warning("SIP request not sent: no unique Via branch", metadata: ["sip.message": "\(firstLine(of: request))"])
            requester.deliver(request.response(status: 503, reason: "Request Has No Unique Via Branch"))
            requester.finish()
        }
    }

    /// The ACK of a 2xx, or anything else sent outside a transaction.
    public func sendWithoutTransaction(_ message: SIPMessage, to peer: SIPPeer) async {
        transmit(message, to: peer, owner: nil)
    }

    /// A Via value for a new request from this server: `SIP/2.0/UDP host:port;branch=z9hG4bK<random>;rport`
    /// (over TLS, the TLS listener's port).
    public nonisolated func newVia(transport: SIPTransportKind) -> String {
        let port = transport == .tls ? tlsBoundPort.withLock { $0 } : boundPort.withLock { $0 }
        return Via.forNewRequest(transport: transport.rawValue, host: host, port: port)
    }

    // MARK: Events

    private func handle(_ event: EndpointEvent) async {
        switch event {
        case .message(let message, let peer):
            logIncoming(message, from: peer)
            perform(layer.received(message, from: peer))
        case .malformed(let error, let bytes, let peer):
            refuse(bytes, error: error, from: peer)
        case .timerFired(let owner, let timer, let serial):
            let slot = TimerSlot(owner: owner, timer: timer)
            guard runningTimers[slot]?.serial == serial else { return }
            runningTimers[slot] = nil
            perform(layer.timerFired(timer, for: owner))
        case .transportFailed(let owner):
            perform(layer.transportFailed(owner))
        case .connectionOpened(let channel, let transport):
            if let remote = channel.remoteAddress { connections[SIPPeer(transport: transport, address: remote)] = channel }
        case .connectionClosed(let channel, let remote, let transport):
            let peer = SIPPeer(transport: transport, address: remote)
            guard connections[peer] === channel else { return }
            connections[peer] = nil
            perform(layer.connectionClosed(peer))
        case .tlsFailed(let remote, let error):
            malformed[.tls]?.increment()
            logger.notice("SIP TLS connection closed after an error", metadata: ["sip.peer": "\(remote.map { "\($0)" } ?? "?")", "error": "\(error)"])
        case .connectFinished(let address, .success(let channel)):
            let peer = SIPPeer(transport: .tcp, address: address)
            if connections[peer] == nil { connections[peer] = channel }
            for pending in pendingWrites.removeValue(forKey: address) ?? [] { write(pending.bytes, to: channel) }
        case .connectFinished(let address, .failure(let error)):
            logger.warning("SIP TCP connect failed", metadata: ["sip.peer": "\(address)", "error": "\(error)"])
            for pending in pendingWrites.removeValue(forKey: address) ?? [] {
                if let owner = pending.owner { perform(layer.transportFailed(owner)) }
            }
        case .udpClosed(let channel):
            await udpClosed(channel)
        }
    }

    /// Does what the transaction layer returned, in order.
    private func perform(_ outputs: [TransactionLayer.Output]) {
        for output in outputs {
            switch output {
            case .transmit(let message, let peer, let owner): transmit(message, to: peer, owner: owner)
            case .startTimer(let owner, let timer, let duration): startTimer(timer, duration, for: owner)
            case .cancelTimer(let owner, let timer): cancelTimer(timer, for: owner)
            case .cancelTimers(let owner): for timer in TimerSlot.all { cancelTimer(timer, for: owner) }
            case .deliver(let delivery): deliver(delivery)
            case .response(let response, let key): requesters[key]?.deliver(response)
            case .clientFinished(let key): requesters.removeValue(forKey: key)?.finish()
            case .refused(let request, let reason, let peer):
                malformed[peer.transport]?.increment()
                logger.warning("SIP request refused", metadata: ["sip.peer": "\(peer)", "sip.reason": "\(reason)", "sip.message": "\(firstLine(of: request))"])
            case .unmatchedResponse(let response, let peer):
                unmatchedResponses[peer.transport]?.increment()
                logger.warning("SIP response dropped: no client transaction", metadata: ["sip.peer": "\(peer)", "sip.message": "\(firstLine(of: response))"])
            case .responseDropped(let response):
                logger.warning("SIP response dropped: no server transaction", metadata: ["sip.message": "\(firstLine(of: response))"])
            case .serverTransactionFailed(let request, let timedOut):
                logger.warning(
                    timedOut ? "SIP server transaction timed out" : "SIP server transaction lost its transport",
                    metadata: ["sip.message": "\(firstLine(of: request))"])
            }
        }
    }

    /// Answers bytes that did not parse with a 400 when enough of them can be read, else drops
    /// them; either way they are counted. A TCP connection is closed after: its framing is lost.
    private func refuse(_ bytes: [UInt8], error: SIPParseError, from peer: SIPPeer) {
        if let head = SIPParser.readableRequestHead(bytes) {
            malformed[peer.transport]?.increment()
            logger.warning("SIP request refused", metadata: ["sip.peer": "\(peer)", "sip.reason": "\(error.reasonPhrase)"])
            transmit(head.response(status: 400, reason: error.reasonPhrase), to: peer, owner: nil)
        } else {
            malformed[peer.transport]?.increment()
            logger.warning("SIP message dropped", metadata: ["sip.peer": "\(peer)", "sip.reason": "\(error)"])
        }
        // Its transactions fail when it has closed (`connectionClosed`).
        if peer.transport.isReliable { connections[peer]?.close(promise: nil) }
    }

    /// Enough lanes that a user busy with one call (a database read, a media port) seldom holds
    /// up another; one is a task and a stream.
    private static let laneCount = 64

    /// Hands a delivery to the lane of its Call-ID. A lane that is full drops it: a request is
    /// then answered 503 with Retry-After (RFC 3261 §21.5.4: overloaded), so that its
    /// transaction ends and its sender backs off.
    ///
    /// OPTIONS go to a lane of their own, the last: a proxy's probe (Kamailio's dispatcher, an
    /// SBC's keep-alive) must be answered within its timeout while every call lane waits on the
    /// database, or the proxy takes a busy server for a dead one — at 150 calls/s a cluster had
    /// all its nodes marked down at once (issue 12, docs/BENCHMARKS.md). The user answers an
    /// OPTIONS from no call's state, so it needs no order with its Call-ID's other requests.
    private func deliver(_ delivery: TransactionLayer.Delivery) {
        let callID = delivery.message.headers["Call-ID"] ?? ""
        let lane = delivery.message.method == "OPTIONS"
            ? Self.laneCount : Int(UInt(bitPattern: callID.hashValue) % UInt(Self.laneCount))
        guard case .dropped = lanes[lane].continuation.yield(delivery) else { return }
        droppedBeforeUser.increment()
        guard case .request(let request, _) = delivery, request.method != "ACK" else { return }
        var overloaded = request.response(status: 503, reason: "Service Unavailable (overloaded)", toTag: request.method == "INVITE" ? "overload" : nil)
        overloaded.headers.add("Retry-After", "5")
        perform(layer.respond(overloaded))
    }

    // MARK: Timers

    private func startTimer(_ timer: SIPTimer, _ duration: Duration, for owner: TransactionID) {
        guard let loop = timerLoop, !isStopped else { return }
        let slot = TimerSlot(owner: owner, timer: timer)
        runningTimers[slot]?.scheduled.cancel()
        timerSerial += 1
        let serial = timerSerial
        let inbox = inbox
        let scheduled = loop.scheduleTask(in: TimeAmount(duration)) {
            inbox.yield(.timerFired(owner, timer, serial: serial))
        }
        runningTimers[slot] = (serial, scheduled)
    }

    private func cancelTimer(_ timer: SIPTimer, for owner: TransactionID) {
        runningTimers.removeValue(forKey: TimerSlot(owner: owner, timer: timer))?.scheduled.cancel()
    }


    // MARK: Sockets

    private func transmit(_ message: SIPMessage, to peer: SIPPeer, owner: TransactionID?) {
        let bytes = message.serialized()
        logOutgoing(message, bytes: bytes, to: peer)
        switch peer.transport {
        case .udp:
            guard let udp = udpChannel else {
                if let owner { inbox.yield(.transportFailed(owner)) }
                return
            }
            // Requests over 1300 bytes should go over TCP (RFC 3261 §18.1.1); they are sent over
            // UDP anyway, as the peers of this server are on networks that carry them.
            let envelope = AddressedEnvelope(remoteAddress: peer.address, data: udp.allocator.buffer(bytes: bytes))
            udp.writeAndFlush(envelope, promise: nil)
        case .tcp:
            // While a connect is finishing, later messages queue behind the first: order matters.
            if pendingWrites[peer.address] != nil {
                pendingWrites[peer.address]?.append((bytes, owner))
            } else if let connection = connections[peer] {
                write(message, bytes, to: connection)
            } else {
                pendingWrites[peer.address] = [(bytes, owner)]
                connect(to: peer.address)
            }
        case .tls:
            // A TLS peer is reached over the connection it opened (its registration's or its
            // request's): this server opens no TLS connections of its own, since it would have
            // to verify a phone's certificate it has no trust anchor for.
            guard let connection = connections[peer] else {
                logger.warning("SIP over TLS not sent: the peer's connection is closed", metadata: ["sip.peer": "\(peer)"])
                if let owner { inbox.yield(.transportFailed(owner)) }
                return
            }
            write(message, bytes, to: connection)
        }
    }

    /// Writes on an open TCP or TLS connection; a 2xx to a REGISTER keeps the connection open
    /// while the binding lives: the phone is reached over it.
    private func write(_ message: SIPMessage, _ bytes: [UInt8], to connection: any Channel) {
        write(bytes, to: connection)
        if let seconds = message.registrationLifetime {
            connection.triggerUserOutboundEvent(KeepConnection(deadline: .now() + .seconds(seconds + 30)), promise: nil)
        }
    }

    private func write(_ bytes: [UInt8], to connection: any Channel) {
        // A failed write closes the connection, and its transactions fail with it.
        connection.writeAndFlush(connection.allocator.buffer(bytes: bytes), promise: nil)
    }

    private func connect(to address: SocketAddress) {
        let (inbox, logger) = (inbox, logger)
        ClientBootstrap(group: eventLoopGroup)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(TimeAmount(timers.transactionTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPConnectionHandler(events: inbox, gate: nil, logger: logger))
                }
            }
            .connect(to: address)
            .whenComplete { result in inbox.yield(.connectFinished(address, result)) }
    }

    /// `--log-level debug`: each message's first line; `trace`: the whole message, so an engineer
    /// can follow a call without a packet capture — but for the credentials of Authorization and
    /// Proxy-Authorization: a digest `response` lets anyone who reads the log guess the password
    /// offline.
    private func logIncoming(_ message: SIPMessage, from peer: SIPPeer) {
        if logger.logLevel <= .trace {
            logger.trace("SIP in", metadata: ["sip.peer": "\(peer)", "sip.message": "\(Self.loggable(message.serialized()))"])
        } else {
            logger.debug("SIP in", metadata: ["sip.peer": "\(peer)", "sip.message": "\(firstLine(of: message))"])
        }
    }

    private func logOutgoing(_ message: SIPMessage, bytes: [UInt8], to peer: SIPPeer) {
        if logger.logLevel <= .trace {
            logger.trace("SIP out", metadata: ["sip.peer": "\(peer)", "sip.message": "\(Self.loggable(bytes))"])
        } else {
            logger.debug("SIP out", metadata: ["sip.peer": "\(peer)", "sip.message": "\(firstLine(of: message))"])
        }
    }

    /// …nor SRTP master keys: an SDP `a=crypto` line (RFC 4568) keeps its tag and suite, not its key.
    static func loggable(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false).map { line in
            if line.hasPrefix("a=crypto:") {
                return line.split(separator: " ").prefix(2).joined(separator: " ") + " (key not logged)"
            }
            let name = line.prefix { $0 != ":" }.trimmingCharacters(in: .whitespaces).lowercased()
            return name == "authorization" || name == "proxy-authorization" ? "\(line.prefix { $0 != ":" }): (credentials not logged)" : String(line)
        }.joined(separator: "\r\n")
    }

    private func firstLine(of message: SIPMessage) -> String {
        switch message.startLine {
        case .request(let method, let uri): "\(method) \(uri)"
        case .response(let status, let reason): "\(status) \(reason)"
        }
    }
}

private struct TimerSlot: Hashable, Sendable {
    var owner: TransactionID
    var timer: SIPTimer

    static let all: [SIPTimer] = [.a, .b, .d, .e, .f, .g, .h, .i, .j, .k, .l, .m]
}

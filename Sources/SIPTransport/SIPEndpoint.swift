public import Logging
import Metrics
public import NIOCore
public import NIOPosix
public import SIP
import Synchronization

/// The SIP transport and transaction layer (RFC 3261 §17, §18) over UDP and TCP: the NIO
/// handlers parse bytes on their event loops and feed one ordered stream of events into this
/// actor, which runs the transaction values of the SIP module, their timers (as event-loop
/// scheduled tasks feeding the same stream) and the sockets. The transaction user is called from
/// other streams, one per lane of Call-IDs, so a slow user never holds up retransmissions and
/// the calls of one Call-ID keep their order while different calls are handled side by side.
public actor SIPEndpoint {
    private let host: String
    private let port: Int
    private let timers: SIPTimerValues
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger

    private let events: AsyncStream<EndpointEvent>.Continuation
    private let eventStream: AsyncStream<EndpointEvent>
    private let lanes: [(stream: AsyncStream<Delivery>, continuation: AsyncStream<Delivery>.Continuation)]
    private var tasks: [Task<Void, Never>] = []

    private var udpChannel: (any Channel)?
    /// The loop of the first UDP socket: timers run there, also while a new socket is opened.
    private var timerLoop: (any EventLoop)?
    private var isStopped = false
    private var tcpListener: (any Channel)?
    private var boundAddress: SocketAddress?
    /// Read by `newVia`, which is nonisolated so that building a request needs no actor hop.
    private let sentBy: Mutex<String>

    private var connections: [SocketAddress: any Channel] = [:]
    /// Bytes for a TCP peer being connected to, sent once the connection is up.
    private var pendingWrites: [SocketAddress: [(bytes: [UInt8], owner: TransactionID?)]] = [:]

    private var serverTransactions: [ServerTransactionKey: ServerEntry] = [:]
    private var clientTransactions: [ClientTransactionKey: ClientEntry] = [:]
    private var answers: [AnswerKey: Answer] = [:]
    private var runningTimers: [TimerSlot: (serial: UInt64, scheduled: Scheduled<Void>)] = [:]
    private var timerSerial: UInt64 = 0

    private let malformed: [SIPTransportKind: Counter]
    private let unmatchedResponses: [SIPTransportKind: Counter]
    private let udpReopened = Counter(label: "qualityrate_sip_udp_sockets_reopened_total")

    public init(
        host: String, port: Int, timers: SIPTimerValues = .standard,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.host = host
        self.port = port
        self.timers = timers
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        (eventStream, events) = AsyncStream.makeStream()
        lanes = (0..<Self.laneCount).map { _ in AsyncStream.makeStream() }
        sentBy = Mutex(Self.sentBy(host: host, port: port))
        var malformed: [SIPTransportKind: Counter] = [:]
        var unmatched: [SIPTransportKind: Counter] = [:]
        for kind in [SIPTransportKind.udp, .tcp] {
            let transport = [("transport", kind.rawValue.lowercased())]
            malformed[kind] = Counter(label: "qualityrate_sip_messages_malformed_total", dimensions: transport)
            unmatched[kind] = Counter(label: "qualityrate_sip_responses_unmatched_total", dimensions: transport)
        }
        self.malformed = malformed
        unmatchedResponses = unmatched
    }

    /// Binds UDP and TCP on host:port (port 0: any free port, the same for both when it is free
    /// for TCP too, else TCP gets its own) and starts delivering to `user`.
    public func start(user: any SIPTransactionUser) async throws {
        let (udp, tcp) = try await bind()
        let udpPort = udp.localAddress?.port ?? port
        udpChannel = udp
        timerLoop = udp.eventLoop
        watch(udp)
        tcpListener = tcp
        boundAddress = udp.localAddress
        sentBy.withLock { $0 = Self.sentBy(host: host, port: udpPort) }
        logger.info(
            "SIP listening",
            metadata: ["sip.udp": "\(udp.localAddress.map(String.init(describing:)) ?? "?")", "sip.tcp": "\(tcp.localAddress.map(String.init(describing:)) ?? "?")"])

        let eventStream = eventStream
        tasks.append(Task { [weak self] in
            for await event in eventStream {
                guard let self else { return }
                await self.handle(event)
            }
        })
        for lane in lanes {
            tasks.append(Task {
                for await delivery in lane.stream {
                    switch delivery {
                    case .request(let request, let peer): await user.received(request: request, from: peer)
                    case .cancelled(let invite): await user.cancelled(invite: invite)
                    case .notAcknowledged(let response): await user.answerNotAcknowledged(response)
                    }
                }
            })
        }
    }

    /// The UDP socket's bootstrap, for the first bind and for a socket opened again.
    private var udpBootstrap: DatagramBootstrap {
        let events = events
        // No SO_REUSEADDR on UDP: on Linux it would let a second server share the port silently.
        return DatagramBootstrap(group: eventLoopGroup)
            // A SIP message may be 64 KiB; NIO's default datagram buffer is 2 KiB.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: SIPParser.maxMessageSize + 1))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPInboundHandler(events: events))
                }
            }
    }

    private func watch(_ udp: any Channel) {
        let events = events
        udp.closeFuture.whenComplete { _ in events.yield(.udpClosed(udp)) }
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
        let events = events
        let udpBootstrap = udpBootstrap
        let tcpBootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPConnectionHandler(events: events))
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

    /// Closes the sockets and cancels the timers; client transactions' streams finish.
    public func stop() async {
        isStopped = true
        for (_, timer) in runningTimers { timer.scheduled.cancel() }
        runningTimers = [:]
        for (_, entry) in clientTransactions { entry.responses.finish() }
        clientTransactions = [:]
        serverTransactions = [:]
        answers = [:]
        let channels = [udpChannel, tcpListener].compactMap { $0 } + Array(connections.values)
        connections = [:]
        pendingWrites = [:]
        udpChannel = nil
        tcpListener = nil
        for channel in channels { try? await channel.close() }
        events.finish()
        for lane in lanes { lane.continuation.finish() }
        for task in tasks { task.cancel() }
        tasks = []
    }

    // MARK: The transaction user's side

    /// Sends a response through the server transaction of its request (RFC 3261 §17.2.3). A 2xx
    /// to an INVITE is retransmitted here (T1 doubling to T2) until its ACK arrives, else
    /// `answerNotAcknowledged` after 64·T1 (§13.3.1.4). Responses go back to the address and
    /// connection the request came from (RFC 3581). Without a transaction it is dropped.
    public func respond(_ response: SIPMessage) async {
        guard let status = response.status, let key = ServerTransactionKey(response), serverTransactions[key] != nil else {
            logger.warning("SIP response dropped: no server transaction", metadata: ["sip.message": "\(firstLine(of: response))"])
            return
        }
        let actions = handle(.send(response), server: key)
        if key.method == "INVITE", (200..<300).contains(status), actions.contains(.send(response)),
            let answerKey = AnswerKey(response), let peer = serverTransactions[key]?.peer
        {
            answers[answerKey] = Answer(response: response, peer: peer, interval: timers.t1)
            startTimer(.g, timers.t1, for: .answer(answerKey))
            startTimer(.h, timers.transactionTimeout, for: .answer(answerKey))
        }
    }

    /// Sends a request through a new client transaction: the stream yields the provisional
    /// responses, then the final one; for an INVITE, later 2xx (retransmissions, forks) until the
    /// transaction ends (RFC 6026 timer M). A timeout yields a 408 made here, a transport error a
    /// 503 (RFC 3261 §8.1.3.1); then the stream finishes. An ACK is sent without a transaction.
    public func send(request: SIPMessage, to peer: SIPPeer) -> AsyncStream<SIPMessage> {
        let (stream, responses) = AsyncStream.makeStream(of: SIPMessage.self)
        if request.method == "ACK" {
            transmit(request, to: peer, owner: nil)
            responses.finish()
            return stream
        }
        guard let key = ClientTransactionKey(request), clientTransactions[key] == nil else {
            logger.warning("SIP request not sent: no unique Via branch", metadata: ["sip.message": "\(firstLine(of: request))"])
            responses.yield(request.response(status: 503, reason: "Request Has No Unique Via Branch"))
            responses.finish()
            return stream
        }
        var transaction = ClientTransaction(request: request, reliable: peer.transport == .tcp, timers: timers)
        let actions = transaction.start()
        clientTransactions[key] = ClientEntry(transaction: transaction, request: request, peer: peer, responses: responses)
        perform(actions, client: key)
        return stream
    }

    /// The ACK of a 2xx, or anything else sent outside a transaction.
    public func sendWithoutTransaction(_ message: SIPMessage, to peer: SIPPeer) async {
        transmit(message, to: peer, owner: nil)
    }

    /// A Via value for a new request from this server: `SIP/2.0/UDP host:port;branch=z9hG4bK<random>;rport`.
    public nonisolated func newVia(transport: SIPTransportKind) -> String {
        let random = UInt64.random(in: .min ... .max)
        let branch = String(random, radix: 16)
        return "SIP/2.0/\(transport.rawValue) \(sentBy.withLock { $0 });branch=z9hG4bK\(branch);rport"
    }

    // MARK: Events

    private func handle(_ event: EndpointEvent) {
        switch event {
        case .message(let message, let peer):
            logger.debug("SIP in", metadata: ["sip.peer": "\(peer)", "sip.message": "\(firstLine(of: message))"])
            if message.isRequest { receive(request: message, from: peer) } else { receive(response: message, from: peer) }
        case .malformed(let error, let bytes, let peer):
            refuse(bytes, error: error, from: peer)
        case .timerFired(let owner, let timer, let serial):
            let slot = TimerSlot(owner: owner, timer: timer)
            guard runningTimers[slot]?.serial == serial else { return }
            runningTimers[slot] = nil
            timerFired(timer, for: owner)
        case .transportFailed(let owner):
            transportFailed(owner)
        case .connectionOpened(let channel):
            if let remote = channel.remoteAddress { connections[remote] = channel }
        case .connectionClosed(let channel, let remote):
            guard connections[remote] === channel else { return }
            connections[remote] = nil
            let peer = SIPPeer(transport: .tcp, address: remote)
            for (key, entry) in serverTransactions where entry.peer == peer { transportFailed(.server(key)) }
            for (key, entry) in clientTransactions where entry.peer == peer { transportFailed(.client(key)) }
        case .connectFinished(let address, .success(let channel)):
            if connections[address] == nil { connections[address] = channel }
            for pending in pendingWrites.removeValue(forKey: address) ?? [] { write(pending.bytes, to: channel) }
        case .connectFinished(let address, .failure(let error)):
            logger.warning("SIP TCP connect failed", metadata: ["sip.peer": "\(address)", "error": "\(error)"])
            for pending in pendingWrites.removeValue(forKey: address) ?? [] {
                if let owner = pending.owner { transportFailed(owner) }
            }
        case .udpClosed(let channel):
            Task { await self.udpClosed(channel) }
        }
    }

    private func receive(request original: SIPMessage, from peer: SIPPeer) {
        var request = original
        if let ip = peer.address.ipAddress, let port = peer.address.port { request.recordSource(host: ip, port: port) }
        guard let key = ServerTransactionKey(request) else {
            // The parser checks that Via is there, not that it reads.
            refuse(request, reason: "Malformed Via", from: peer)
            return
        }
        if request.method == "ACK" {
            receive(ack: request, key: key, from: peer)
        } else if serverTransactions[key] != nil {
            handle(.received(request), server: key)
        } else if request.method == "CANCEL" {
            receive(cancel: request, key: key, from: peer)
        } else {
            open(key, for: request, from: peer)
            // RFC 3261 §17.2.1: at once, so the caller stops retransmitting while the user works.
            if request.method == "INVITE" { handle(.send(request.response(status: 100, reason: "Trying")), server: key) }
            deliver(.request(request, peer))
        }
    }

    private func receive(ack: SIPMessage, key: ServerTransactionKey, from peer: SIPPeer) {
        if serverTransactions[key]?.transaction.awaitsNon2xxAck == true {
            handle(.received(ack), server: key)
            return
        }
        if let answerKey = AnswerKey(ack), let answer = answers[answerKey] {
            guard !answer.acknowledged else { return }  // a retransmitted ACK
            answers[answerKey]?.acknowledged = true
            // The answer stays until its timer H, to recognise retransmitted ACKs.
            cancelTimer(.g, for: .answer(answerKey))
        }
        deliver(.request(ack, peer))
    }

    private func receive(cancel: SIPMessage, key: ServerTransactionKey, from peer: SIPPeer) {
        open(key, for: cancel, from: peer)
        guard let invite = serverTransactions[key.invite] else {
            handle(.send(cancel.response(status: 481, reason: "Call/Transaction Does Not Exist")), server: key)
            return
        }
        // A CANCEL of an INVITE already answered has no effect, but is still answered 200 (§9.2).
        handle(.send(cancel.response(status: 200, reason: "OK")), server: key)
        if invite.transaction.isCancellable { deliver(.cancelled(invite.request)) }
    }

    private func receive(response: SIPMessage, from peer: SIPPeer) {
        guard let key = ClientTransactionKey(response), let entry = clientTransactions[key] else {
            unmatchedResponses[peer.transport]?.increment()
            logger.warning("SIP response dropped: no client transaction", metadata: ["sip.peer": "\(peer)", "sip.message": "\(firstLine(of: response))"])
            return
        }
        var transaction = entry.transaction
        let actions = transaction.handle(.received(response))
        clientTransactions[key]?.transaction = transaction
        perform(actions, client: key)
    }

    /// Answers bytes that did not parse with a 400 when enough of them can be read, else drops
    /// them; either way they are counted. A TCP connection is closed after: its framing is lost.
    private func refuse(_ bytes: [UInt8], error: SIPParseError, from peer: SIPPeer) {
        if let head = SIPParser.readableRequestHead(bytes) {
            refuse(head, reason: error.reasonPhrase, from: peer)
        } else {
            malformed[peer.transport]?.increment()
            logger.warning("SIP message dropped", metadata: ["sip.peer": "\(peer)", "sip.reason": "\(error)"])
        }
        // Its transactions fail when it has closed (`connectionClosed`).
        if peer.transport == .tcp { connections[peer.address]?.close(promise: nil) }
    }

    private func refuse(_ request: SIPMessage, reason: String, from peer: SIPPeer) {
        malformed[peer.transport]?.increment()
        logger.warning("SIP request refused", metadata: ["sip.peer": "\(peer)", "sip.reason": "\(reason)"])
        guard request.method != "ACK" else { return }
        transmit(request.response(status: 400, reason: reason), to: peer, owner: nil)
    }

    // MARK: Transactions

    private func open(_ key: ServerTransactionKey, for request: SIPMessage, from peer: SIPPeer) {
        let transaction = ServerTransaction(method: key.method, reliable: peer.transport == .tcp, timers: timers)
        serverTransactions[key] = ServerEntry(transaction: transaction, request: request, peer: peer)
    }

    @discardableResult
    private func handle(_ event: TransactionEvent, server key: ServerTransactionKey) -> [TransactionAction] {
        guard var entry = serverTransactions[key] else { return [] }
        let actions = entry.transaction.handle(event)
        serverTransactions[key] = entry
        for action in actions {
            switch action {
            case .send(let response): transmit(response, to: entry.peer, owner: .server(key))
            case .startTimer(let timer, let duration): startTimer(timer, duration, for: .server(key))
            case .cancelTimer(let timer): cancelTimer(timer, for: .server(key))
            case .deliver(let request): deliver(.request(request, entry.peer))
            case .timedOut:
                logger.warning("SIP server transaction timed out", metadata: ["sip.message": "\(firstLine(of: entry.request))"])
            case .transportFailed:
                logger.warning("SIP server transaction lost its transport", metadata: ["sip.message": "\(firstLine(of: entry.request))"])
            case .terminated:
                serverTransactions[key] = nil
                cancelTimers(of: .server(key))
            }
        }
        return actions
    }

    private func perform(_ actions: [TransactionAction], client key: ClientTransactionKey) {
        guard let entry = clientTransactions[key] else { return }
        for action in actions {
            switch action {
            case .send(let request): transmit(request, to: entry.peer, owner: .client(key))
            case .startTimer(let timer, let duration): startTimer(timer, duration, for: .client(key))
            case .cancelTimer(let timer): cancelTimer(timer, for: .client(key))
            case .deliver(let response): entry.responses.yield(response)
            case .timedOut: entry.responses.yield(entry.request.response(status: 408, reason: "Request Timeout"))
            case .transportFailed: entry.responses.yield(entry.request.response(status: 503, reason: "Service Unavailable"))
            case .terminated:
                clientTransactions[key] = nil
                cancelTimers(of: .client(key))
            }
        }
        if entry.transaction.deliversNoMore || clientTransactions[key] == nil { entry.responses.finish() }
    }

    private func timerFired(_ timer: SIPTimer, for owner: TransactionID) {
        switch owner {
        case .server(let key):
            handle(.timerFired(timer), server: key)
        case .client(let key):
            guard var transaction = clientTransactions[key]?.transaction else { return }
            let actions = transaction.handle(.timerFired(timer))
            clientTransactions[key]?.transaction = transaction
            perform(actions, client: key)
        case .answer(let key):
            // §13.3.1.4's timers have no names: G and H are the ones of the same rule (§17.2.1).
            guard var answer = answers[key] else { return }
            if timer == .g {
                transmit(answer.response, to: answer.peer, owner: owner)
                answer.interval = min(answer.interval * 2, timers.t2)
                answers[key] = answer
                startTimer(.g, answer.interval, for: owner)
            } else {
                answers[key] = nil
                cancelTimers(of: owner)
                if !answer.acknowledged { deliver(.notAcknowledged(answer.response)) }
            }
        }
    }

    private func transportFailed(_ owner: TransactionID) {
        switch owner {
        case .server(let key):
            handle(.transportError, server: key)
        case .client(let key):
            guard var transaction = clientTransactions[key]?.transaction else { return }
            let actions = transaction.handle(.transportError)
            clientTransactions[key]?.transaction = transaction
            perform(actions, client: key)
        case .answer(let key):
            // The 2xx cannot reach the caller: the dialog is as dead as without an ACK.
            guard let answer = answers.removeValue(forKey: key) else { return }
            cancelTimers(of: owner)
            if !answer.acknowledged { deliver(.notAcknowledged(answer.response)) }
        }
    }

    /// Enough lanes that a user busy with one call (a database read, a media port) seldom holds
    /// up another; one is a task and a stream.
    private static let laneCount = 64

    private func deliver(_ delivery: Delivery) {
        let callID = delivery.message.headers["Call-ID"] ?? ""
        let lane = Int(UInt(bitPattern: callID.hashValue) % UInt(lanes.count))
        lanes[lane].continuation.yield(delivery)
    }

    // MARK: Timers

    private func startTimer(_ timer: SIPTimer, _ duration: Duration, for owner: TransactionID) {
        guard let loop = timerLoop, !isStopped else { return }
        let slot = TimerSlot(owner: owner, timer: timer)
        runningTimers[slot]?.scheduled.cancel()
        timerSerial += 1
        let serial = timerSerial
        let events = events
        let scheduled = loop.scheduleTask(in: TimeAmount(duration)) {
            _ = events.yield(.timerFired(owner, timer, serial: serial))
        }
        runningTimers[slot] = (serial, scheduled)
    }

    private func cancelTimer(_ timer: SIPTimer, for owner: TransactionID) {
        runningTimers.removeValue(forKey: TimerSlot(owner: owner, timer: timer))?.scheduled.cancel()
    }

    private func cancelTimers(of owner: TransactionID) {
        for timer in TimerSlot.all { cancelTimer(timer, for: owner) }
    }

    // MARK: Sockets

    private func transmit(_ message: SIPMessage, to peer: SIPPeer, owner: TransactionID?) {
        logger.debug("SIP out", metadata: ["sip.peer": "\(peer)", "sip.message": "\(firstLine(of: message))"])
        let bytes = message.serialized()
        switch peer.transport {
        case .udp:
            guard let udp = udpChannel else {
                if let owner { events.yield(.transportFailed(owner)) }
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
            } else if let connection = connections[peer.address] {
                write(bytes, to: connection)
            } else {
                pendingWrites[peer.address] = [(bytes, owner)]
                connect(to: peer.address)
            }
        }
    }

    private func write(_ bytes: [UInt8], to connection: any Channel) {
        // A failed write closes the connection, and its transactions fail with it.
        connection.writeAndFlush(connection.allocator.buffer(bytes: bytes), promise: nil)
    }

    private func connect(to address: SocketAddress) {
        let events = events
        ClientBootstrap(group: eventLoopGroup)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(TimeAmount(timers.transactionTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPConnectionHandler(events: events))
                }
            }
            .connect(to: address)
            .whenComplete { result in events.yield(.connectFinished(address, result)) }
    }

    private func firstLine(of message: SIPMessage) -> String {
        switch message.startLine {
        case .request(let method, let uri): "\(method) \(uri)"
        case .response(let status, let reason): "\(status) \(reason)"
        }
    }

    private static func sentBy(host: String, port: Int) -> String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }
}

private enum Delivery: Sendable {
    case request(SIPMessage, SIPPeer)
    case cancelled(SIPMessage)
    case notAcknowledged(SIPMessage)

    var message: SIPMessage {
        switch self {
        case .request(let message, _), .cancelled(let message), .notAcknowledged(let message): message
        }
    }
}

private struct ServerEntry: Sendable {
    var transaction: ServerTransaction
    let request: SIPMessage
    let peer: SIPPeer
}

private struct ClientEntry: Sendable {
    var transaction: ClientTransaction
    let request: SIPMessage
    let peer: SIPPeer
    let responses: AsyncStream<SIPMessage>.Continuation
}

/// A 2xx to an INVITE that this endpoint retransmits until its ACK (RFC 3261 §13.3.1.4).
private struct Answer: Sendable {
    let response: SIPMessage
    let peer: SIPPeer
    var interval: Duration
    var acknowledged = false
}

private struct TimerSlot: Hashable, Sendable {
    var owner: TransactionID
    var timer: SIPTimer

    static let all: [SIPTimer] = [.a, .b, .d, .e, .f, .g, .h, .i, .j, .k, .l, .m]
}

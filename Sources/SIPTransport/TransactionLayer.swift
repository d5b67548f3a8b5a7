public import SIP

/// The transaction layer of RFC 3261 §17 as a value: which transaction a message belongs to
/// (§17.1.3, §17.2.3), what retransmissions are absorbed, where a CANCEL or an ACK goes (§9.2,
/// §17.2.1), and the retransmission of a 2xx until its ACK (§13.3.1.4). It takes one input at a
/// time and returns what to do; it sends nothing, keeps no clock and knows no socket, so it is
/// tested in memory. `SIPEndpoint` performs its outputs: bytes to sockets, timers on an event
/// loop, deliveries to the transaction user.
public struct TransactionLayer: Sendable {
    /// What the transaction user is handed (`SIPTransactionUser`).
    public enum Delivery: Sendable, Equatable {
        case request(SIPMessage, from: SIPPeer)
        case cancelled(invite: SIPMessage)
        case notAcknowledged(SIPMessage)

        public var message: SIPMessage {
            switch self {
            case .request(let message, _), .cancelled(let message), .notAcknowledged(let message): message
            }
        }
    }

    public enum Output: Sendable, Equatable {
        /// Bytes to send; `owner` is told of a transport failure (`transportFailed`).
        case transmit(SIPMessage, to: SIPPeer, owner: TransactionID?)
        case startTimer(TransactionID, SIPTimer, Duration)
        case cancelTimer(TransactionID, SIPTimer)
        /// The transaction is over: every timer it still has is cancelled.
        case cancelTimers(TransactionID)
        case deliver(Delivery)
        /// A response (or one made here: 408 on timeout, 503 on transport failure) for the
        /// client transaction's requester.
        case response(SIPMessage, for: ClientTransactionKey)
        /// Nothing more will reach that requester.
        case clientFinished(ClientTransactionKey)
        /// A request whose Via cannot be read: answered 400, counted and logged.
        case refused(SIPMessage, reason: String, from: SIPPeer)
        /// A response no client transaction sent for: dropped, counted and logged.
        case unmatchedResponse(SIPMessage, from: SIPPeer)
        /// A response the user gave with no server transaction to carry it: dropped and logged.
        case responseDropped(SIPMessage)
        /// A server transaction timed out or lost its transport: logged.
        case serverTransactionFailed(SIPMessage, timedOut: Bool)
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
    }

    /// A 2xx to an INVITE retransmitted until its ACK (RFC 3261 §13.3.1.4).
    private struct Answer: Sendable {
        let response: SIPMessage
        let peer: SIPPeer
        var interval: Duration
        var acknowledged = false
    }

    private let timers: SIPTimerValues
    private var servers: [ServerTransactionKey: ServerEntry] = [:]
    private var clients: [ClientTransactionKey: ClientEntry] = [:]
    private var answers: [AnswerKey: Answer] = [:]

    public init(timers: SIPTimerValues) { self.timers = timers }

    /// Transactions alive now, for tests and gauges.
    public var count: (server: Int, client: Int, answers: Int) { (servers.count, clients.count, answers.count) }

    // MARK: Received

    /// A message parsed from a transport. Requests get their source recorded on the top Via
    /// (RFC 3261 §18.2.1, RFC 3581) before anything else.
    public mutating func received(_ message: SIPMessage, from peer: SIPPeer) -> [Output] {
        message.isRequest ? received(request: message, from: peer) : received(response: message, from: peer)
    }

    private mutating func received(request original: SIPMessage, from peer: SIPPeer) -> [Output] {
        var request = original
        if let ip = peer.address.ipAddress, let port = peer.address.port { request.recordSource(host: ip, port: port) }
        guard let key = ServerTransactionKey(request) else {
            // The parser checks that Via is there, not that it reads.
            return refuse(request, reason: "Malformed Via", from: peer)
        }
        if request.method == "ACK" { return received(ack: request, key: key, from: peer) }
        if servers[key] != nil { return handle(.received(request), server: key) }
        if request.method == "CANCEL" { return received(cancel: request, key: key, from: peer) }
        open(key, for: request, from: peer)
        // RFC 3261 §17.2.1: at once, so the caller stops retransmitting while the user works.
        var outputs = request.method == "INVITE" ? handle(.send(request.response(status: 100, reason: "Trying")), server: key) : []
        outputs.append(.deliver(.request(request, from: peer)))
        return outputs
    }

    /// An ACK: of a non-2xx, absorbed by its INVITE transaction; of a 2xx, it stops that
    /// answer's retransmission and belongs to the dialog (the user's), as does an ACK that
    /// matches nothing (it may be of a dialog whose answer is no longer retransmitted).
    private mutating func received(ack: SIPMessage, key: ServerTransactionKey, from peer: SIPPeer) -> [Output] {
        if servers[key]?.transaction.awaitsNon2xxAck == true { return handle(.received(ack), server: key) }
        var outputs: [Output] = []
        if let answerKey = AnswerKey(ack), let answer = answers[answerKey] {
            guard !answer.acknowledged else { return [] }  // a retransmitted ACK
            answers[answerKey]?.acknowledged = true
            // The answer stays until its timer H, to recognise retransmitted ACKs.
            outputs.append(.cancelTimer(.answer(answerKey), .g))
        }
        outputs.append(.deliver(.request(ack, from: peer)))
        return outputs
    }

    private mutating func received(cancel: SIPMessage, key: ServerTransactionKey, from peer: SIPPeer) -> [Output] {
        open(key, for: cancel, from: peer)
        guard let invite = servers[key.invite] else {
            return handle(.send(cancel.response(status: 481, reason: "Call/Transaction Does Not Exist")), server: key)
        }
        // A CANCEL of an INVITE already answered has no effect, but is still answered 200 (§9.2).
        var outputs = handle(.send(cancel.response(status: 200, reason: "OK")), server: key)
        if invite.transaction.isCancellable { outputs.append(.deliver(.cancelled(invite: invite.request))) }
        return outputs
    }

    private mutating func received(response: SIPMessage, from peer: SIPPeer) -> [Output] {
        guard let key = ClientTransactionKey(response), clients[key] != nil else { return [.unmatchedResponse(response, from: peer)] }
        return handle(.received(response), client: key)
    }

    private func refuse(_ request: SIPMessage, reason: String, from peer: SIPPeer) -> [Output] {
        var outputs: [Output] = [.refused(request, reason: reason, from: peer)]
        if request.method != "ACK" { outputs.append(.transmit(request.response(status: 400, reason: reason), to: peer, owner: nil)) }
        return outputs
    }

    // MARK: The user's side

    /// A response of the user, through the server transaction of its request (RFC 3261 §17.2.3),
    /// back to where the request came from (RFC 3581). A 2xx to an INVITE is then retransmitted
    /// here, T1 doubling up to T2, until its ACK, else `notAcknowledged` after 64·T1.
    public mutating func respond(_ response: SIPMessage) -> [Output] {
        guard let status = response.status, let key = ServerTransactionKey(response), let entry = servers[key] else {
            return [.responseDropped(response)]
        }
        var outputs = handle(.send(response), server: key)
        if key.method == "INVITE", (200..<300).contains(status), outputs.contains(.transmit(response, to: entry.peer, owner: .server(key))),
            let answerKey = AnswerKey(response)
        {
            answers[answerKey] = Answer(response: response, peer: entry.peer, interval: timers.t1)
            outputs += [.startTimer(.answer(answerKey), .g, timers.t1), .startTimer(.answer(answerKey), .h, timers.transactionTimeout)]
        }
        return outputs
    }

    public enum StartRefusal: Error, Sendable, Equatable {
        /// Another client transaction has the request's Via branch and method.
        case branchNotUnique
    }

    /// A request of the user through a new client transaction; its responses come as
    /// `.response(_, for: key)`. An ACK goes without a transaction (it has none, §17.1.1.3).
    public mutating func start(_ request: SIPMessage, to peer: SIPPeer) -> Result<(ClientTransactionKey?, [Output]), StartRefusal> {
        if request.method == "ACK" { return .success((nil, [.transmit(request, to: peer, owner: nil)])) }
        guard let key = ClientTransactionKey(request), clients[key] == nil else { return .failure(.branchNotUnique) }
        var transaction = ClientTransaction(request: request, reliable: peer.transport.isReliable, timers: timers)
        let actions = transaction.start()
        clients[key] = ClientEntry(transaction: transaction, request: request, peer: peer)
        return .success((key, perform(actions, client: key)))
    }

    // MARK: Timers and transports

    public mutating func timerFired(_ timer: SIPTimer, for owner: TransactionID) -> [Output] {
        switch owner {
        case .server(let key):
            return handle(.timerFired(timer), server: key)
        case .client(let key):
            return handle(.timerFired(timer), client: key)
        case .answer(let key):
            // §13.3.1.4's timers have no names: G and H are the ones of the same rule (§17.2.1).
            guard var answer = answers[key] else { return [] }
            if timer == .g {
                answer.interval = min(answer.interval * 2, timers.t2)
                answers[key] = answer
                return [.transmit(answer.response, to: answer.peer, owner: owner), .startTimer(owner, .g, answer.interval)]
            }
            answers[key] = nil
            return [.cancelTimers(owner)] + (answer.acknowledged ? [] : [.deliver(.notAcknowledged(answer.response))])
        }
    }

    public mutating func transportFailed(_ owner: TransactionID) -> [Output] {
        switch owner {
        case .server(let key):
            return handle(.transportError, server: key)
        case .client(let key):
            return handle(.transportError, client: key)
        case .answer(let key):
            // The 2xx cannot reach the caller: the dialog is as dead as without an ACK.
            guard let answer = answers.removeValue(forKey: key) else { return [] }
            return [.cancelTimers(owner)] + (answer.acknowledged ? [] : [.deliver(.notAcknowledged(answer.response))])
        }
    }

    /// A TCP connection closed: every transaction over it fails with it.
    public mutating func connectionClosed(_ peer: SIPPeer) -> [Output] {
        let serverKeys = servers.filter { $0.value.peer == peer }.keys
        let clientKeys = clients.filter { $0.value.peer == peer }.keys
        return serverKeys.flatMap { transportFailed(.server($0)) } + clientKeys.flatMap { transportFailed(.client($0)) }
    }

    /// Everything ends (the endpoint stops): each requester is told nothing more comes.
    public mutating func stop() -> [Output] {
        let finished = clients.keys.map { Output.clientFinished($0) }
        servers = [:]
        clients = [:]
        answers = [:]
        return finished
    }

    // MARK: Transactions

    private mutating func open(_ key: ServerTransactionKey, for request: SIPMessage, from peer: SIPPeer) {
        let transaction = ServerTransaction(method: key.method, reliable: peer.transport.isReliable, timers: timers)
        servers[key] = ServerEntry(transaction: transaction, request: request, peer: peer)
    }

    private mutating func handle(_ event: TransactionEvent, server key: ServerTransactionKey) -> [Output] {
        guard var entry = servers[key] else { return [] }
        let actions = entry.transaction.handle(event)
        servers[key] = entry
        var outputs: [Output] = []
        for action in actions {
            switch action {
            case .send(let response): outputs.append(.transmit(response, to: entry.peer, owner: .server(key)))
            case .startTimer(let timer, let duration): outputs.append(.startTimer(.server(key), timer, duration))
            case .cancelTimer(let timer): outputs.append(.cancelTimer(.server(key), timer))
            case .deliver(let request): outputs.append(.deliver(.request(request, from: entry.peer)))
            case .timedOut: outputs.append(.serverTransactionFailed(entry.request, timedOut: true))
            case .transportFailed: outputs.append(.serverTransactionFailed(entry.request, timedOut: false))
            case .terminated:
                servers[key] = nil
                outputs.append(.cancelTimers(.server(key)))
            }
        }
        return outputs
    }

    private mutating func handle(_ event: TransactionEvent, client key: ClientTransactionKey) -> [Output] {
        guard var transaction = clients[key]?.transaction else { return [] }
        let actions = transaction.handle(event)
        clients[key]?.transaction = transaction
        return perform(actions, client: key)
    }

    private mutating func perform(_ actions: [TransactionAction], client key: ClientTransactionKey) -> [Output] {
        guard let entry = clients[key] else { return [] }
        var outputs: [Output] = []
        for action in actions {
            switch action {
            case .send(let request): outputs.append(.transmit(request, to: entry.peer, owner: .client(key)))
            case .startTimer(let timer, let duration): outputs.append(.startTimer(.client(key), timer, duration))
            case .cancelTimer(let timer): outputs.append(.cancelTimer(.client(key), timer))
            case .deliver(let response): outputs.append(.response(response, for: key))
            case .timedOut: outputs.append(.response(entry.request.response(status: 408, reason: "Request Timeout"), for: key))
            case .transportFailed: outputs.append(.response(entry.request.response(status: 503, reason: "Service Unavailable"), for: key))
            case .terminated:
                clients[key] = nil
                outputs.append(.cancelTimers(.client(key)))
            }
        }
        if clients[key] == nil || clients[key]?.transaction.deliversNoMore == true { outputs.append(.clientFinished(key)) }
        return outputs
    }
}

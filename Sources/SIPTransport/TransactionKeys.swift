public import SIP

/// A server transaction (RFC 3261 §17.2.3): the top Via's branch and sent-by, and the method,
/// where an ACK is the INVITE's. A CANCEL has its own transaction under the INVITE's branch.
public struct ServerTransactionKey: Hashable, Sendable {
    public var branch: String
    public var sentBy: String
    public var method: String

    /// The key of a request, or of a response (whose CSeq says the method).
    public init?(_ message: SIPMessage) {
        guard let cseq = message.headers["CSeq"].flatMap(CSeq.init), let top = message.headers.values("Via").first,
            let via = Via(top)
        else { return nil }
        // Without the RFC 3261 magic cookie the branch may be absent or reused (RFC 2543
        // peers): Call-ID and CSeq number then stand in for it.
        branch = via.branch.flatMap { $0.hasPrefix("z9hG4bK") ? $0 : nil }
            ?? "rfc2543 \(message.headers["Call-ID"] ?? "") \(cseq.number) \(via.branch ?? "")"
        sentBy = "\(via.host.lowercased()):\(via.port ?? 5060)"
        method = cseq.method == "ACK" ? "INVITE" : cseq.method
    }

    var invite: ServerTransactionKey {
        var key = self
        key.method = "INVITE"
        return key
    }
}

/// A client transaction (RFC 3261 §17.1.3): the top Via's branch, which this endpoint made
/// unique, and the CSeq method.
public struct ClientTransactionKey: Hashable, Sendable {
    public var branch: String
    public var method: String

    public init?(_ message: SIPMessage) {
        guard let cseq = message.headers["CSeq"].flatMap(CSeq.init), let top = message.headers.values("Via").first,
            let branch = Via(top)?.branch
        else { return nil }
        self.branch = branch
        method = cseq.method
    }
}

/// A 2xx answer to an INVITE, waiting for its ACK: the ACK has a new branch (RFC 3261
/// §17.1.1.3), so it is found by Call-ID and CSeq number.
public struct AnswerKey: Hashable, Sendable {
    public var callID: String
    public var sequence: UInt32

    public init?(_ message: SIPMessage) {
        guard let callID = message.headers["Call-ID"], let cseq = message.headers["CSeq"].flatMap(CSeq.init) else { return nil }
        self.callID = callID
        sequence = cseq.number
    }
}

/// Whatever timers and transport failures belong to.
public enum TransactionID: Hashable, Sendable {
    case server(ServerTransactionKey)
    case client(ClientTransactionKey)
    case answer(AnswerKey)
}

enum ServerTransaction: Sendable {
    case invite(ServerInviteTransaction)
    case nonInvite(ServerNonInviteTransaction)

    init(method: String, reliable: Bool, timers: SIPTimerValues) {
        self = method == "INVITE"
            ? .invite(ServerInviteTransaction(reliable: reliable, timers: timers))
            : .nonInvite(ServerNonInviteTransaction(reliable: reliable, timers: timers))
    }

    mutating func handle(_ event: TransactionEvent) -> [TransactionAction] {
        switch self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.handle(event)
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.handle(event)
        }
    }

    /// An INVITE that a CANCEL can still stop: no final response yet.
    var isCancellable: Bool {
        if case .invite(let transaction) = self { transaction.state == .proceeding } else { false }
    }

    /// An INVITE answered with a non-2xx, whose ACK this transaction absorbs.
    var awaitsNon2xxAck: Bool {
        if case .invite(let transaction) = self { [.completed, .confirmed].contains(transaction.state) } else { false }
    }
}

enum ClientTransaction: Sendable {
    case invite(ClientInviteTransaction)
    case nonInvite(ClientNonInviteTransaction)

    init(request: SIPMessage, reliable: Bool, timers: SIPTimerValues) {
        self = request.method == "INVITE"
            ? .invite(ClientInviteTransaction(invite: request, reliable: reliable, timers: timers))
            : .nonInvite(ClientNonInviteTransaction(request: request, reliable: reliable, timers: timers))
    }

    mutating func start() -> [TransactionAction] {
        switch self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.start()
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.start()
        }
    }

    mutating func handle(_ event: TransactionEvent) -> [TransactionAction] {
        switch self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.handle(event)
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.handle(event)
        }
    }

    /// Nothing more will be delivered: a final response other than an INVITE's 2xx has arrived
    /// (the transaction lives on only to absorb retransmissions), or the transaction is over.
    var deliversNoMore: Bool {
        switch self {
        case .invite(let transaction): [.completed, .terminated].contains(transaction.state)
        case .nonInvite(let transaction): [.completed, .terminated].contains(transaction.state)
        }
    }
}

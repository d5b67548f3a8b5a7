/// RFC 3261 §17 transactions, as values: they take events (a message, a timer, a transport
/// failure) and return what to do. The transport layer around them sends the bytes and runs the
/// timers; `reliable` is true on TCP, where nothing is retransmitted and wait timers are zero.

/// The timer values of RFC 3261 §17.1.1.1 / Table 4.
public struct SIPTimerValues: Sendable, Equatable {
    public var t1: Duration
    public var t2: Duration
    public var t4: Duration

    public static let standard = SIPTimerValues(t1: .milliseconds(500), t2: .seconds(4), t4: .seconds(5))

    public init(t1: Duration, t2: Duration, t4: Duration) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
    }

    /// Timers B, F, H, J, L and M: 64·T1.
    public var transactionTimeout: Duration { t1 * 64 }
}

/// The named timers of RFC 3261 §17 (and L, M of RFC 6026).
public enum SIPTimer: String, Sendable, Hashable {
    case a = "A", b = "B", d = "D", e = "E", f = "F", g = "G", h = "H", i = "I", j = "J", k = "K", l = "L", m = "M"
}

public enum TransactionAction: Sendable, Equatable {
    case send(SIPMessage)
    case startTimer(SIPTimer, Duration)
    case cancelTimer(SIPTimer)
    /// A message for the transaction user (the dialog or call layer).
    case deliver(SIPMessage)
    /// The transaction failed: no answer in time, or the transport failed.
    case timedOut
    case transportFailed
    /// The transaction is over; forget it.
    case terminated
}

public enum TransactionEvent: Sendable, Equatable {
    /// A message from the network that matched this transaction.
    case received(SIPMessage)
    /// A message the transaction user asks this transaction to send.
    case send(SIPMessage)
    case timerFired(SIPTimer)
    case transportError
}

/// RFC 3261 §17.2.1 with RFC 6026: the server side of an INVITE.
public struct ServerInviteTransaction: Sendable {
    public enum State: Sendable, Equatable { case proceeding, completed, confirmed, accepted, terminated }

    public private(set) var state: State = .proceeding
    private let reliable: Bool
    private let timers: SIPTimerValues
    private var lastResponse: SIPMessage?
    private var retransmitInterval: Duration

    /// Created when the INVITE arrives; the transaction user answers through `handle(.send(…))`.
    public init(reliable: Bool, timers: SIPTimerValues = .standard) {
        self.reliable = reliable
        self.timers = timers
        retransmitInterval = timers.t1
    }

    public mutating func handle(_ event: TransactionEvent) -> [TransactionAction] {
        switch (state, event) {
        case (.proceeding, .send(let response)):
            guard let status = response.status else { return [] }
            lastResponse = response
            switch status {
            case 100..<200:
                return [.send(response)]
            case 200..<300:
                state = .accepted
                return [.send(response), .startTimer(.l, timers.transactionTimeout)]
            default:
                state = .completed
                var actions: [TransactionAction] = [.send(response), .startTimer(.h, timers.transactionTimeout)]
                if !reliable { actions.append(.startTimer(.g, retransmitInterval)) }
                return actions
            }
        case (.accepted, .send(let response)) where (200..<300).contains(response.status ?? 0):
            // Retransmissions of the 2xx are the transaction user's (RFC 6026 §7.1).
            return [.send(response)]
        case (.proceeding, .received(let request)) where request.method == "INVITE",
             (.completed, .received(let request)) where request.method == "INVITE":
            return lastResponse.map { [.send($0)] } ?? []
        case (.completed, .received(let request)) where request.method == "ACK":
            state = .confirmed
            let wait = reliable ? Duration.zero : timers.t4
            return [.cancelTimer(.g), .cancelTimer(.h), .startTimer(.i, wait)]
        case (.accepted, .received(let request)) where request.method == "ACK":
            // The ACK of a 2xx belongs to the dialog.
            return [.deliver(request)]
        case (.completed, .timerFired(.g)):
            retransmitInterval = min(retransmitInterval * 2, timers.t2)
            return (lastResponse.map { [.send($0)] } ?? []) + [.startTimer(.g, retransmitInterval)]
        case (.completed, .timerFired(.h)):
            state = .terminated
            return [.cancelTimer(.g), .timedOut, .terminated]
        case (.confirmed, .timerFired(.i)), (.accepted, .timerFired(.l)):
            state = .terminated
            return [.terminated]
        case (.terminated, _):
            return []
        case (_, .transportError):
            state = .terminated
            return [.cancelTimer(.g), .cancelTimer(.h), .cancelTimer(.l), .transportFailed, .terminated]
        default:
            return []
        }
    }
}

/// RFC 3261 §17.2.2: the server side of any other request (BYE, OPTIONS, REGISTER, INFO…).
public struct ServerNonInviteTransaction: Sendable {
    public enum State: Sendable, Equatable { case trying, proceeding, completed, terminated }

    public private(set) var state: State = .trying
    private let reliable: Bool
    private let timers: SIPTimerValues
    private var lastResponse: SIPMessage?

    public init(reliable: Bool, timers: SIPTimerValues = .standard) {
        self.reliable = reliable
        self.timers = timers
    }

    public mutating func handle(_ event: TransactionEvent) -> [TransactionAction] {
        switch (state, event) {
        case (.trying, .send(let response)), (.proceeding, .send(let response)):
            guard let status = response.status else { return [] }
            lastResponse = response
            if status < 200 {
                state = .proceeding
                return [.send(response)]
            }
            state = .completed
            return [.send(response), .startTimer(.j, reliable ? .zero : timers.transactionTimeout)]
        case (.proceeding, .received), (.completed, .received):
            // A retransmitted request gets the last response again.
            return lastResponse.map { [.send($0)] } ?? []
        case (.completed, .timerFired(.j)):
            state = .terminated
            return [.terminated]
        case (.terminated, _):
            return []
        case (_, .transportError):
            state = .terminated
            return [.cancelTimer(.j), .transportFailed, .terminated]
        default:
            return []
        }
    }
}

/// RFC 3261 §17.1.1 with RFC 6026: an INVITE this server sends (ringing an agent).
public struct ClientInviteTransaction: Sendable {
    public enum State: Sendable, Equatable { case calling, proceeding, completed, accepted, terminated }

    public private(set) var state: State = .calling
    private let reliable: Bool
    private let timers: SIPTimerValues
    private let invite: SIPMessage
    private var retransmitInterval: Duration

    public init(invite: SIPMessage, reliable: Bool, timers: SIPTimerValues = .standard) {
        self.invite = invite
        self.reliable = reliable
        self.timers = timers
        retransmitInterval = timers.t1
    }

    /// Sends the INVITE and starts its timers.
    public mutating func start() -> [TransactionAction] {
        var actions: [TransactionAction] = [.send(invite), .startTimer(.b, timers.transactionTimeout)]
        if !reliable { actions.append(.startTimer(.a, retransmitInterval)) }
        return actions
    }

    public mutating func handle(_ event: TransactionEvent) -> [TransactionAction] {
        switch (state, event) {
        case (.calling, .timerFired(.a)):
            retransmitInterval = retransmitInterval * 2
            return [.send(invite), .startTimer(.a, retransmitInterval)]
        case (.calling, .timerFired(.b)):
            state = .terminated
            return [.cancelTimer(.a), .timedOut, .terminated]
        case (.calling, .received(let response)), (.proceeding, .received(let response)):
            guard let status = response.status else { return [] }
            switch status {
            case 100..<200:
                let wasCalling = state == .calling
                state = .proceeding
                return (wasCalling ? [.cancelTimer(.a), .cancelTimer(.b)] : []) + [.deliver(response)]
            case 200..<300:
                state = .accepted
                return [.cancelTimer(.a), .cancelTimer(.b), .deliver(response), .startTimer(.m, timers.transactionTimeout)]
            default:
                state = .completed
                return [.cancelTimer(.a), .cancelTimer(.b), .send(ack(for: response)), .deliver(response),
                        .startTimer(.d, reliable ? .zero : .seconds(32))]
            }
        case (.completed, .received(let response)) where (300..<700).contains(response.status ?? 0):
            // A retransmitted final response: the ACK was lost.
            return [.send(ack(for: response))]
        case (.accepted, .received(let response)) where (200..<300).contains(response.status ?? 0):
            // Retransmitted or forked 2xx go to the dialog, which ACKs them.
            return [.deliver(response)]
        case (.completed, .timerFired(.d)), (.accepted, .timerFired(.m)):
            state = .terminated
            return [.terminated]
        case (.terminated, _):
            return []
        case (_, .transportError):
            state = .terminated
            return [.cancelTimer(.a), .cancelTimer(.b), .transportFailed, .terminated]
        default:
            return []
        }
    }

    /// The ACK of a non-2xx final response (RFC 3261 §17.1.1.3): same Request-URI, Call-ID,
    /// From, CSeq number and top Via as the INVITE, To from the response.
    func ack(for response: SIPMessage) -> SIPMessage {
        var headers = SIPHeaders()
        if let via = invite.headers.values("Via").first { headers.add("Via", via) }
        for name in ["From", "Call-ID"] { if let value = invite.headers[name] { headers.add(name, value) } }
        if let to = response.headers["To"] { headers.add("To", to) }
        for route in invite.headers.values("Route") { headers.add("Route", route) }
        let number = invite.headers["CSeq"].flatMap(CSeq.init)?.number ?? 1
        headers.add("CSeq", CSeq(number: number, method: "ACK").description)
        headers.add("Max-Forwards", "70")
        guard case .request(_, let uri) = invite.startLine else { return invite }
        return SIPMessage(startLine: .request(method: "ACK", uri: uri), headers: headers)
    }
}

/// RFC 3261 §17.1.2: a non-INVITE request this server sends (a BYE, a CANCEL).
public struct ClientNonInviteTransaction: Sendable {
    public enum State: Sendable, Equatable { case trying, proceeding, completed, terminated }

    public private(set) var state: State = .trying
    private let reliable: Bool
    private let timers: SIPTimerValues
    private let request: SIPMessage
    private var retransmitInterval: Duration

    public init(request: SIPMessage, reliable: Bool, timers: SIPTimerValues = .standard) {
        self.request = request
        self.reliable = reliable
        self.timers = timers
        retransmitInterval = timers.t1
    }

    public mutating func start() -> [TransactionAction] {
        var actions: [TransactionAction] = [.send(request), .startTimer(.f, timers.transactionTimeout)]
        if !reliable { actions.append(.startTimer(.e, retransmitInterval)) }
        return actions
    }

    public mutating func handle(_ event: TransactionEvent) -> [TransactionAction] {
        switch (state, event) {
        case (.trying, .timerFired(.e)), (.proceeding, .timerFired(.e)):
            retransmitInterval = state == .proceeding ? timers.t2 : min(retransmitInterval * 2, timers.t2)
            return [.send(request), .startTimer(.e, retransmitInterval)]
        case (.trying, .timerFired(.f)), (.proceeding, .timerFired(.f)):
            state = .terminated
            return [.cancelTimer(.e), .timedOut, .terminated]
        case (.trying, .received(let response)), (.proceeding, .received(let response)):
            guard let status = response.status else { return [] }
            if status < 200 {
                state = .proceeding
                return [.deliver(response)]
            }
            state = .completed
            return [.cancelTimer(.e), .cancelTimer(.f), .deliver(response), .startTimer(.k, reliable ? .zero : timers.t4)]
        case (.completed, .timerFired(.k)):
            state = .terminated
            return [.terminated]
        case (.terminated, _):
            return []
        case (_, .transportError):
            state = .terminated
            return [.cancelTimer(.e), .cancelTimer(.f), .transportFailed, .terminated]
        default:
            return []
        }
    }
}

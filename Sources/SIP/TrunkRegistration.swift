/// This server registering an account at a provider (RFC 3261 §10.2), as a value: it takes an
/// event (start, a response to its REGISTER, its timer, stop) and returns what to do (send a
/// REGISTER, arm the one timer, report the state). The service around it moves the bytes and
/// keeps the timer; nothing here waits.
///
/// What it does, after Asterisk's `res_pjsip_outbound_registration` (expiration, retry and
/// forbidden-retry intervals, a random first delay) and RFC 3261 §10.2.4:
/// - answers 401 and 407 with digest credentials (`DigestClient`, RFC 7616 `qop=auth`), and
///   reuses them for refreshes while the provider accepts them;
/// - refreshes after `refreshFraction` of the expiry the provider granted (the 2xx's Contact
///   `expires`, else its `Expires`), one Call-ID for the life of the binding, CSeq counting up;
/// - after a failure (timeout, 5xx, an answer it cannot use) tries again after a delay that
///   doubles from `firstRetry` up to `maximumRetry`; after wrong credentials (403, or a
///   challenge to credentials just given) only after `forbiddenRetry`, since a provider
///   that sees an account fail again and again bans it;
/// - on stop, removes the binding (`Expires: 0`) when it had one.
public struct TrunkRegistration: Sendable {
    public struct Account: Sendable, Equatable {
        /// The REGISTER's Request-URI: `sip:host:port` (RFC 3261 §10.2: the registrar's domain).
        public var registrar: String
        /// The address of record: `sip:username@domain`, the REGISTER's From and To.
        public var addressOfRecord: String
        public var username: String
        public var password: String
        /// Seconds asked for.
        public var expires: Int
        /// This server's Contact for the binding: where the provider sends calls to the account.
        public var contact: String
        /// A Via for a new request from this server (a fresh branch each time it is called).
        public var via: @Sendable () -> String

        public init(
            registrar: String, addressOfRecord: String, username: String, password: String, expires: Int, contact: String,
            via: @escaping @Sendable () -> String
        ) {
            self.registrar = registrar
            self.addressOfRecord = addressOfRecord
            self.username = username
            self.password = password
            self.expires = expires
            self.contact = contact
            self.via = via
        }

        public static func == (lhs: Account, rhs: Account) -> Bool {
            lhs.registrar == rhs.registrar && lhs.addressOfRecord == rhs.addressOfRecord && lhs.username == rhs.username
                && lhs.password == rhs.password && lhs.expires == rhs.expires && lhs.contact == rhs.contact
        }
    }

    public enum Phase: Sendable, Equatable {
        case registering
        /// The provider holds the binding until `until` (Unix seconds).
        case registered(until: Int64)
        /// The last attempt failed for `reason`; another follows after a delay.
        case failed(reason: String)
        case stopped
    }

    public enum Event: Sendable {
        case start
        /// A final response to the last REGISTER sent (the endpoint makes 408 of a timeout and
        /// 503 of a transport error, RFC 3261 §8.1.3.1).
        case response(SIPMessage)
        case timerFired
        /// Stop registering: unregister when registered.
        case stop
    }

    public enum Action: Sendable, Equatable {
        case send(SIPMessage)
        /// Replaces any timer armed before.
        case armTimer(after: Duration)
        case cancelTimer
        /// The phase changed: what the API shows (`status`, `last_error`).
        case report(Phase)
    }

    public static let refreshFraction = 0.8
    public static let firstRetry: Duration = .seconds(5)
    public static let maximumRetry: Duration = .seconds(300)
    public static let forbiddenRetry: Duration = .seconds(600)
    /// Spread over the first registrations of many trunks after a start (Asterisk's
    /// `max_random_initial_delay`), so a restart does not hit every provider in one instant.
    public static let maximumInitialDelay = 3.0

    public let account: Account
    public private(set) var phase: Phase = .registering
    private var digest: DigestClient
    private let callID: String
    private let fromTag: String
    private var sequence: UInt32 = 0
    /// The REGISTER sent and not answered yet.
    private var pending: SIPMessage?
    /// Failures in a row, for the backoff.
    private var failures = 0
    private var started = false

    public init(account: Account, callID: String, fromTag: String) {
        self.account = account
        self.callID = callID
        self.fromTag = fromTag
        digest = DigestClient(username: account.username, password: account.password)
    }

    public mutating func handle(_ event: Event, at now: Int64) -> [Action] {
        switch event {
        case .start:
            guard !started else { return [] }
            started = true
            return [.report(.registering), .armTimer(after: .milliseconds(Int64(Double.random(in: 0...Self.maximumInitialDelay) * 1000)))]
        case .timerFired:
            guard phase != .stopped, pending == nil else { return [] }
            return [register(expires: account.expires)]
        case .response(let response):
            return received(response, at: now)
        case .stop:
            let wasRegistered = if case .registered = phase { true } else { false }
            phase = .stopped
            pending = nil
            return [.cancelTimer] + (wasRegistered ? [register(expires: 0)] : [])
        }
    }

    private mutating func received(_ response: SIPMessage, at now: Int64) -> [Action] {
        guard let status = response.status, status >= 200, let sent = pending,
            response.headers["CSeq"].flatMap(CSeq.init)?.number == sequence
        else { return [] }
        pending = nil
        guard phase != .stopped else { return [] }
        switch status {
        case 200..<300:
            digest.settled()
            failures = 0
            let granted = Self.grantedExpiry(of: response, contact: account.contact) ?? account.expires
            guard granted > 0 else { return fail("the provider granted no time (Expires 0)", retry: retryDelay()) }
            phase = .registered(until: now + Int64(granted))
            let refresh = Duration.milliseconds(Int64(Double(granted) * Self.refreshFraction * 1000))
            return [.report(phase), .armTimer(after: refresh)]
        case 401, 407:
            switch digest.answer(response, method: "REGISTER", uri: account.registrar, clientNonce: Self.clientNonce()) {
            case .answer(let header, let value):
                var again = request(expires: expires(of: sent))
                again.headers.add(header, value)
                pending = again
                return [.send(again)]
            case .refused:
                digest.reset()
                return fail("the provider refused the credentials (\(status) again after answering its challenge)", retry: Self.forbiddenRetry)
            case .unanswerable:
                digest.reset()
                return fail("\(status) without a digest challenge this server can answer", retry: retryDelay())
            }
        case 403:
            digest.reset()
            return fail("403 \(Self.reason(of: response)): the provider refused the account", retry: Self.forbiddenRetry)
        case 423:
            // Interval Too Brief (RFC 3261 §10.3 step 7): ask again with the provider's minimum.
            digest.settled()
            guard let minimum = response.headers["Min-Expires"].flatMap({ Int($0.trimmingSIPWhitespace()) }), minimum > expires(of: sent)
            else { return fail("423 without a usable Min-Expires", retry: retryDelay()) }
            var again = request(expires: minimum)
            if let credentials = digest.preemptive(method: "REGISTER", uri: account.registrar, clientNonce: Self.clientNonce()) {
                again.headers.add(credentials.header, credentials.value)
            }
            pending = again
            return [.send(again)]
        default:
            digest.reset()
            return fail("\(status) \(Self.reason(of: response))", retry: retryDelay())
        }
    }

    private mutating func fail(_ reason: String, retry: Duration) -> [Action] {
        failures += 1
        phase = .failed(reason: reason)
        return [.report(phase), .armTimer(after: retry)]
    }

    /// `firstRetry`, doubling with each failure in a row, up to `maximumRetry`.
    private func retryDelay() -> Duration {
        let doublings = min(max(failures, 0), 10)
        return min(Self.firstRetry * (1 << doublings), Self.maximumRetry)
    }

    /// A new REGISTER (credentials the provider accepted before go with it, RFC 7616 §3.4).
    private mutating func register(expires: Int) -> Action {
        var message = request(expires: expires)
        if let credentials = digest.preemptive(method: "REGISTER", uri: account.registrar, clientNonce: Self.clientNonce()) {
            message.headers.add(credentials.header, credentials.value)
        }
        pending = expires == 0 ? nil : message
        return .send(message)
    }

    private mutating func request(expires: Int) -> SIPMessage {
        sequence += 1
        let headers = SIPHeaders([
            ("Via", account.via()), ("Max-Forwards", "70"), ("From", "<\(account.addressOfRecord)>;tag=\(fromTag)"),
            ("To", "<\(account.addressOfRecord)>"), ("Call-ID", callID), ("CSeq", "\(sequence) REGISTER"),
            ("Contact", account.contact), ("Expires", String(expires)), ("Allow", SIPMessage.allowedMethods),
            ("User-Agent", "QualityRate"),
        ])
        return SIPMessage(startLine: .request(method: "REGISTER", uri: account.registrar), headers: headers)
    }

    private func expires(of request: SIPMessage) -> Int {
        request.headers["Expires"].flatMap { Int($0.trimmingSIPWhitespace()) } ?? account.expires
    }

    /// The expiry the provider granted our binding: the `expires` of our Contact among those it
    /// lists, else its `Expires` header (RFC 3261 §10.2.4).
    static func grantedExpiry(of response: SIPMessage, contact: String) -> Int? {
        let ours = NameAddress(contact)?.uri
        for value in response.headers.values("Contact") {
            guard let listed = NameAddress(value), let ours, listed.uri.user == ours.user, listed.uri.host == ours.host,
                listed.uri.port == ours.port,
                let expires = (listed.parameters["expires"] ?? nil).flatMap({ Int($0) })
            else { continue }
            return expires
        }
        return response.headers["Expires"].flatMap { Int($0.trimmingSIPWhitespace()) }
    }

    private static func reason(of response: SIPMessage) -> String {
        if case .response(_, let reason) = response.startLine { return reason }
        return ""
    }

    private static func clientNonce() -> String { String(UInt64.random(in: 1...UInt64.max), radix: 36) }
}

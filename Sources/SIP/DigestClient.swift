/// This server as a digest client (RFC 3261 §22.2, RFC 7616 §3.4): what it answers a provider's
/// 401 or 407 with when it registers a trunk or sends a call through it.
public struct DigestClient: Sendable, Equatable {
    /// A challenge as a provider sends it (`WWW-Authenticate`, `Proxy-Authenticate`).
    public struct Challenge: Sendable, Equatable {
        public var realm: String
        public var nonce: String
        public var algorithm: DigestAlgorithm
        /// The provider offers `qop=auth`; without it the answer takes the older RFC 2069 form.
        public var offersAuthQOP: Bool
        /// Returned unchanged in the answer (RFC 7616 §3.3).
        public var opaque: String?
        public var stale: Bool

        /// Nil for anything but a digest challenge this server can answer: an unknown algorithm
        /// (RFC 8760 §2.4 lets a client skip it), or `qop` without `auth` (`auth-int` needs the body).
        public init?(_ header: String) {
            guard let fields = DigestCredentials.fields(ofDigest: header), let realm = fields["realm"], let nonce = fields["nonce"],
                let algorithm = DigestAlgorithm(rawValue: fields["algorithm"]?.uppercased() ?? "MD5")
            else { return nil }
            let qops = fields["qop"].map { $0.split(separator: ",").map { $0.trimmingSIPWhitespace().lowercased() } }
            if let qops, !qops.contains("auth") { return nil }
            self.realm = realm
            self.nonce = nonce
            self.algorithm = algorithm
            offersAuthQOP = qops != nil
            opaque = fields["opaque"]
            stale = fields["stale"]?.lowercased() == "true"
        }
    }

    public var username: String
    public var password: String
    /// The challenge being answered, and how many requests have answered it (`nc`).
    private var current: Challenge?
    private var nonceCount: UInt32 = 0
    /// A challenge was answered and no response other than a challenge has come since.
    private var awaitingVerdict = false
    /// The challenge came in a 407: its credentials go in `Proxy-Authorization`.
    private var currentIsProxy = false

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public enum Outcome: Sendable, Equatable {
        /// Send the request again with this header (`Authorization` or `Proxy-Authorization`).
        case answer(header: String, value: String)
        /// The provider refused credentials it had already been given for this nonce: the
        /// account or password is wrong. Sending them again would only be refused again.
        case refused
        /// No challenge in the response this server can answer.
        case unanswerable
    }

    /// The answer to a 401 or 407 to `method` sent to `uri`. A challenge to a request that
    /// already answered one means the credentials are wrong (whatever nonce it carries: some
    /// providers make a new one for every challenge), unless the provider marks it `stale` (the
    /// nonce expired, RFC 7616 §3.3): answering again would only be refused again, and a
    /// provider bans an account that keeps trying.
    public mutating func answer(_ response: SIPMessage, method: String, uri: String, clientNonce: String) -> Outcome {
        let proxy = response.status == 407
        let header = proxy ? "Proxy-Authenticate" : "WWW-Authenticate"
        // SHA-256 when offered, else the first (RFC 8760 §2.4: the server lists its preference).
        let challenges = response.headers.values(header).compactMap(Challenge.init)
        guard let challenge = challenges.first(where: { $0.algorithm == .sha256 }) ?? challenges.first else { return .unanswerable }
        if awaitingVerdict, !challenge.stale { return .refused }
        awaitingVerdict = true
        if current?.nonce != challenge.nonce { nonceCount = 0 }
        current = challenge
        currentIsProxy = proxy
        nonceCount += 1
        return .answer(
            header: proxy ? "Proxy-Authorization" : "Authorization",
            value: Self.credentials(
                for: challenge, method: method, uri: uri, username: username, password: password, nonceCount: nonceCount,
                clientNonce: clientNonce))
    }

    /// A response other than a challenge came: the next challenge is answered afresh.
    public mutating func settled() {
        awaitingVerdict = false
    }

    /// The credentials for the challenge last answered, for the next request to the same
    /// provider (a refresh REGISTER): it may accept them without a new challenge (RFC 7616 §3.4,
    /// `nc` counts up). Nil before any challenge.
    public mutating func preemptive(method: String, uri: String, clientNonce: String) -> (header: String, value: String)? {
        guard let current else { return nil }
        nonceCount += 1
        return (
            currentIsProxy ? "Proxy-Authorization" : "Authorization",
            Self.credentials(
                for: current, method: method, uri: uri, username: username, password: password, nonceCount: nonceCount,
                clientNonce: clientNonce)
        )
    }

    /// Forget the challenge (a new registration starts from an unauthenticated request).
    public mutating func reset() {
        current = nil
        nonceCount = 0
        awaitingVerdict = false
    }

    /// The `Digest …` credentials value (RFC 7616 §3.4.1; with `qop=auth` when offered, else the
    /// RFC 2069 form RFC 3261 §22.4 keeps).
    static func credentials(
        for challenge: Challenge, method: String, uri: String, username: String, password: String, nonceCount: UInt32,
        clientNonce: String
    ) -> String {
        let algorithm = challenge.algorithm
        let ha1 = algorithm.hash("\(username):\(challenge.realm):\(password)")
        let ha2 = algorithm.hash("\(method):\(uri)")
        var value = "Digest username=\"\(username)\", realm=\"\(challenge.realm)\", nonce=\"\(challenge.nonce)\", uri=\"\(uri)\""
        if challenge.offersAuthQOP {
            let count = String(nonceCount, radix: 16)
            let nc = String(repeating: "0", count: max(0, 8 - count.count)) + count
            let response = algorithm.hash("\(ha1):\(challenge.nonce):\(nc):\(clientNonce):auth:\(ha2)")
            value += ", response=\"\(response)\", algorithm=\(algorithm.rawValue), qop=auth, nc=\(nc), cnonce=\"\(clientNonce)\""
        } else {
            value += ", response=\"\(algorithm.hash("\(ha1):\(challenge.nonce):\(ha2)"))\", algorithm=\(algorithm.rawValue)"
        }
        if let opaque = challenge.opaque { value += ", opaque=\"\(opaque)\"" }
        return value
    }
}

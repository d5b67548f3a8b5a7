import Crypto
import Foundation

/// HTTP digest authentication as SIP uses it (RFC 3261 §22, RFC 7616 for SHA-256): the
/// challenge the registrar sends, the credentials a phone answers with, and their check against
/// the stored HA1 = H(username:realm:password) — the password itself is never needed.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case md5 = "MD5"
    case sha256 = "SHA-256"

    func hash(_ text: String) -> String {
        switch self {
        case .md5: Insecure.MD5.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
        case .sha256: SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
        }
    }

    /// What phones are challenged with unless configured otherwise: MD5 alone. RFC 8760 §2.4 asks
    /// a phone to skip a challenge whose algorithm it does not know, but SIP stacks in wide use
    /// fail on it instead (SIPp 3.6 takes the first challenge and refuses SHA-256; libre before
    /// 2.0, under baresip 1.x, gives up on any SHA-256 challenge, wherever it comes), so offering
    /// SHA-256 is a choice of the operator who knows the phones (`--digest-algorithms`).
    public static let defaultChallenges: [DigestAlgorithm] = [.md5]

    /// `SHA-256,MD5` and the like: the algorithms to challenge with, most preferred first.
    public static func list(_ text: String) -> [DigestAlgorithm]? {
        let algorithms = text.split(separator: ",").map { DigestAlgorithm(rawValue: $0.trimmingCharacters(in: .whitespaces).uppercased()) }
        guard !algorithms.isEmpty, algorithms.allSatisfy({ $0 != nil }) else { return nil }
        let listed = algorithms.compactMap { $0 }
        return Set(listed).count == listed.count ? listed : nil
    }
}

/// Issues and checks nonces without keeping state: a nonce is its issue time, a random salt and
/// an HMAC of both under a secret of this server, so any instance sharing the secret can check
/// it, and a nonce older than `lifetime` is stale (the phone then retries with a fresh one,
/// RFC 7616 §3.3). The salt makes every challenge's nonce its own, so that the nonce counts of
/// two phones challenged in the same second never meet (`DigestAuthenticator`).
public struct DigestNonces: Sendable {
    private let secret: [UInt8]
    public let lifetime: Int64

    public init(secret: [UInt8], lifetime: Int64 = 300) {
        self.secret = secret
        self.lifetime = lifetime
    }

    public func make(at now: Int64) -> String {
        let stamped = String(now, radix: 16) + "." + String(UInt64.random(in: .min ... .max), radix: 36)
        return stamped + "." + signature(stamped)
    }

    public enum Check: Sendable, Equatable { case valid, stale, forged }

    public func check(_ nonce: String, at now: Int64) -> Check {
        guard let issued = issueTime(of: nonce) else { return .forged }
        return now - issued <= lifetime && issued <= now + 5 ? .valid : .stale
    }

    /// When a nonce of this server was made; nil for one it did not make.
    func issueTime(of nonce: String) -> Int64? {
        let parts = nonce.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let issued = Int64(parts[0], radix: 16), signature("\(parts[0]).\(parts[1])") == parts[2] else { return nil }
        return issued
    }

    private func signature(_ stamp: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Array(stamp.utf8), using: SymmetricKey(data: secret))).prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}

/// The `WWW-Authenticate` value of a 401.
public struct DigestChallenge: Sendable, Equatable {
    public var realm: String
    public var nonce: String
    public var algorithm: DigestAlgorithm
    public var stale: Bool

    public init(realm: String, nonce: String, algorithm: DigestAlgorithm, stale: Bool = false) {
        self.realm = realm
        self.nonce = nonce
        self.algorithm = algorithm
        self.stale = stale
    }

    public var headerValue: String {
        "Digest realm=\"\(realm)\", nonce=\"\(nonce)\", algorithm=\(algorithm.rawValue), qop=\"auth\"" + (stale ? ", stale=TRUE" : "")
    }
}

/// The `Authorization` value a phone answers a challenge with.
public struct DigestCredentials: Sendable, Equatable {
    public var username: String
    public var realm: String
    public var nonce: String
    public var uri: String
    public var response: String
    public var algorithm: DigestAlgorithm
    public var qop: String?
    public var nonceCount: String?
    public var clientNonce: String?

    /// Parses `Digest username="101", realm="…", …`; nil when it is not digest or a field is missing.
    public init?(_ header: String) {
        guard let fields = Self.fields(ofDigest: header), let username = fields["username"], let realm = fields["realm"], let nonce = fields["nonce"], let uri = fields["uri"],
            let response = fields["response"], let algorithm = DigestAlgorithm(rawValue: fields["algorithm"]?.uppercased() ?? "MD5")
        else { return nil }
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = algorithm
        qop = fields["qop"]
        nonceCount = fields["nc"]
        clientNonce = fields["cnonce"]
    }

    /// The `name=value` pairs of a `Digest …` header value (names lower-cased, quotes taken
    /// off); nil when it is not digest.
    static func fields(ofDigest header: String) -> [String: String]? {
        let value = header.trimmingSIPWhitespace()
        guard value.lowercased().hasPrefix("digest ") else { return nil }
        var fields: [String: String] = [:]
        for item in SIPHeaders.splitList(String(value.dropFirst(7))) {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            var content = parts[1].trimmingSIPWhitespace()
            if content.hasPrefix("\""), content.hasSuffix("\""), content.count >= 2 { content = String(content.dropFirst().dropLast()) }
            fields[parts[0].trimmingSIPWhitespace().lowercased()] = content
        }
        return fields
    }

    /// Whether `response` is right for `method`, given HA1 = H(username:realm:password) in this
    /// credentials' algorithm. Both RFC 2617 forms: with `qop=auth`, and the older one without.
    public func isValid(method: String, ha1: String) -> Bool {
        let ha2 = algorithm.hash("\(method):\(uri)")
        let expected: String
        if let qop {
            guard qop == "auth", let nonceCount, let clientNonce else { return false }
            expected = algorithm.hash("\(ha1):\(nonce):\(nonceCount):\(clientNonce):\(qop):\(ha2)")
        } else {
            expected = algorithm.hash("\(ha1):\(nonce):\(ha2)")
        }
        let given = Array(response.lowercased().utf8)
        let wanted = Array(expected.utf8)
        return given.count == wanted.count && zip(given, wanted).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The HA1 of a password, for tests and provisioning.
    public static func ha1(username: String, realm: String, password: String, algorithm: DigestAlgorithm) -> String {
        algorithm.hash("\(username):\(realm):\(password)")
    }
}

/// Checks a request's digest credentials against a phone's stored secrets (RFC 3261 §22): the
/// registrar's 401/`Authorization` for REGISTER, the proxy's 407/`Proxy-Authorization` for a
/// phone's INVITE.
public struct DigestAuthenticator: Sendable {
    public enum Challenger: Sendable {
        case registrar, proxy

        var status: (code: Int, reason: String) { self == .registrar ? (401, "Unauthorized") : (407, "Proxy Authentication Required") }
        var challengeHeader: String { self == .registrar ? "WWW-Authenticate" : "Proxy-Authenticate" }
        var credentialsHeader: String { self == .registrar ? "Authorization" : "Proxy-Authorization" }
    }

    private let nonces: DigestNonces
    private let algorithms: [DigestAlgorithm]
    /// The highest nonce count accepted with each nonce still valid, so that a request captured
    /// once cannot be played again (RFC 7616 §3.4.1: `nc` lets the server detect replays; a
    /// REGISTER replayed from elsewhere would otherwise take over the phone's calls).
    /// Credentials without `qop` carry no count: their nonce is accepted once.
    private var acceptedCounts: [String: UInt32] = [:]
    /// When `acceptedCounts` was last cleared of nonces too old to be accepted anyway.
    private var prunedAt: Int64 = 0

    /// `algorithms`: those the challenge offers, most preferred first (RFC 8760 §2.4); credentials
    /// in any other algorithm are challenged again.
    public init(nonces: DigestNonces, algorithms: [DigestAlgorithm] = DigestAlgorithm.defaultChallenges) {
        precondition(!algorithms.isEmpty, "a digest challenge offers at least one algorithm")
        self.nonces = nonces
        self.algorithms = algorithms
    }

    /// Credentials found good, with the nonce count they used (RFC 7616 §3.4.1): a server that
    /// shares its nonces with others (issue 12) checks the count against theirs as well.
    public struct Accepted: Sendable, Equatable {
        public var nonce: String
        public var count: UInt32
        /// When the nonce stops being taken: its count need not be remembered after that.
        public var nonceExpiresAt: Int64
    }

    public enum Verdict: Sendable, Equatable {
        /// The answer to send: a challenge or 403.
        case refused(SIPMessage)
        case accepted(Accepted)
    }

    /// nil when the request carries valid credentials of `user` in `realm`; otherwise the answer
    /// to send (`check`).
    public mutating func refusal(
        of request: SIPMessage, user: String, realm: String, secrets: PhoneSecrets?, challenger: Challenger, toTag: String,
        at now: Int64
    ) -> SIPMessage? {
        guard case .refused(let answer) = check(
            request, user: user, realm: realm, secrets: secrets, challenger: challenger, toTag: toTag, at: now)
        else { return nil }
        return answer
    }

    /// Whether the request carries valid credentials of `user` in `realm`; otherwise the answer to
    /// send: a challenge (none, stale or forged nonce; `stale=TRUE` also for a nonce count already
    /// used, so that a phone whose count went wrong retries without asking its user), or 403
    /// (wrong user or password). `secrets` is nil for a user, phone or domain that does not exist:
    /// it is challenged and refused exactly like a wrong password, so that a scan cannot tell which
    /// exist.
    public mutating func check(
        _ request: SIPMessage, user: String, realm: String, secrets: PhoneSecrets?, challenger: Challenger, toTag: String,
        at now: Int64
    ) -> Verdict {
        let credentials = request.headers.values(challenger.credentialsHeader).compactMap(DigestCredentials.init)
            .first { $0.realm.lowercased() == realm.lowercased() && algorithms.contains($0.algorithm) }
        guard let credentials else { return .refused(challenge(request, realm: realm, stale: false, challenger: challenger, toTag: toTag, at: now)) }
        switch nonces.check(credentials.nonce, at: now) {
        case .forged: return .refused(challenge(request, realm: realm, stale: false, challenger: challenger, toTag: toTag, at: now))
        case .stale: return .refused(staleChallenge(request, realm: realm, challenger: challenger, toTag: toTag, at: now))
        case .valid: break
        }
        guard let secrets, credentials.username == user,
            credentials.isValid(method: request.method ?? "", ha1: credentials.algorithm == .md5 ? secrets.ha1MD5 : secrets.ha1SHA256)
        else {
            return .refused(request.response(status: 403, reason: "Forbidden", toTag: toTag))
        }
        // Checked once the credentials are known good, so that guesses cannot use up counts.
        let count = credentials.qop == nil ? 0 : credentials.nonceCount.flatMap { UInt32($0, radix: 16) } ?? 0
        if let accepted = acceptedCounts[credentials.nonce], count <= accepted {
            return .refused(staleChallenge(request, realm: realm, challenger: challenger, toTag: toTag, at: now))
        }
        prune(at: now)
        acceptedCounts[credentials.nonce] = count
        let issued = nonces.issueTime(of: credentials.nonce) ?? now
        return .accepted(Accepted(nonce: credentials.nonce, count: count, nonceExpiresAt: issued + nonces.lifetime))
    }

    /// A new challenge saying the nonce used is no longer taken (`stale=TRUE`): the phone
    /// answers it without asking its user.
    public func staleChallenge(_ request: SIPMessage, realm: String, challenger: Challenger, toTag: String, at now: Int64) -> SIPMessage {
        challenge(request, realm: realm, stale: true, challenger: challenger, toTag: toTag, at: now)
    }

    /// Forgets the counts of nonces that are stale by now (at most once a lifetime's tenth).
    private mutating func prune(at now: Int64) {
        guard now - prunedAt >= nonces.lifetime / 10 else { return }
        prunedAt = now
        acceptedCounts = acceptedCounts.filter { nonce, _ in nonces.issueTime(of: nonce).map { now - $0 <= nonces.lifetime } ?? false }
    }

    private func challenge(_ request: SIPMessage, realm: String, stale: Bool, challenger: Challenger, toTag: String, at now: Int64) -> SIPMessage {
        var response = request.response(status: challenger.status.code, reason: challenger.status.reason, toTag: toTag)
        let nonce = nonces.make(at: now)
        for algorithm in algorithms {
            response.headers.add(challenger.challengeHeader, DigestChallenge(realm: realm, nonce: nonce, algorithm: algorithm, stale: stale).headerValue)
        }
        return response
    }
}

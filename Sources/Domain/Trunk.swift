/// A client's provider trunk (issue 11, ours): where calls to numbers outside the client go, and
/// the provider account this server registers when `register` is on.
public struct Trunk: Sendable, Equatable {
    public enum Transport: String, Sendable, CaseIterable {
        case udp, tcp
    }

    /// The registration's state as the API shows it (`status`).
    public enum Status: String, Sendable, CaseIterable {
        case registered, registering, failed
        case notRegistering = "not_registering"
    }

    public var id: Int64
    public var clientID: Int64
    public var name: String
    /// The provider's host name or IP address, where REGISTER and INVITEs go.
    public var host: String
    public var port: Int
    public var transport: Transport
    /// The account at the provider: the digest user name, and the user part of the REGISTER's To.
    public var username: String
    /// Kept in clear: the digest answer needs it (RFC 7616 §3.4.1). Never shown by the API.
    public var password: String
    public var register: Bool
    /// The registration lifetime asked for, in seconds (the provider may grant less).
    public var registerExpires: Int
    /// The host of `From` and `P-Asserted-Identity`; empty = `host`.
    public var fromDomain: String
    /// Number prefixes this trunk carries; empty = every number.
    public var prefixes: [String]
    /// Order among the client's trunks: the first that carries a number is tried first.
    public var position: Int
    /// Digits taken off the start of the number before it is sent, then `addPrefix` put before it.
    public var stripDigits: Int
    public var addPrefix: String
    /// The client DID shown as caller ID by default (normalized, `DIDNumber`); nil = none.
    public var callerID: String?
    /// Calls at once through this trunk; 0 = unlimited.
    public var maxCalls: Int
    public var status: Status
    /// Why the last registration or refresh failed; nil once it succeeded.
    public var lastError: String?
    public var createdAt: UnixTime

    public init(
        id: Int64, clientID: Int64, name: String, host: String, port: Int, transport: Transport, username: String, password: String,
        register: Bool, registerExpires: Int, fromDomain: String, prefixes: [String], position: Int, stripDigits: Int,
        addPrefix: String, callerID: String?, maxCalls: Int, status: Status, lastError: String?, createdAt: UnixTime
    ) {
        self.id = id
        self.clientID = clientID
        self.name = name
        self.host = host
        self.port = port
        self.transport = transport
        self.username = username
        self.password = password
        self.register = register
        self.registerExpires = registerExpires
        self.fromDomain = fromDomain
        self.prefixes = prefixes
        self.position = position
        self.stripDigits = stripDigits
        self.addPrefix = addPrefix
        self.callerID = callerID
        self.maxCalls = maxCalls
        self.status = status
        self.lastError = lastError
        self.createdAt = createdAt
    }

    /// The defaults of the API (Asterisk's outbound registration asks for an hour too).
    public static let defaultPort = 5060
    public static let defaultRegisterExpires = 3600
    public static let registerExpiresRange = 60...86_400

    /// `host` as a SIP URI writes it: an IPv6 address in brackets (RFC 3261 §19.1.1, §25.1).
    public var uriHost: String { Self.uriForm(host) }

    /// The host and port of the URIs this server sends to the trunk; 5060 is left out.
    public var uriHostPort: String { port == Self.defaultPort ? uriHost : "\(uriHost):\(port)" }

    /// The host `From` and `P-Asserted-Identity` name, as a URI writes it.
    public var callerDomain: String { fromDomain.isEmpty ? uriHost : Self.uriForm(fromDomain) }

    private static func uriForm(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// Whether this trunk carries `number` (`prefixes`, compared without a leading `+`).
    public func carries(_ number: String) -> Bool {
        guard !prefixes.isEmpty else { return true }
        let digits = OutsideNumber.comparable(number)
        return prefixes.contains { digits.hasPrefix(OutsideNumber.comparable($0)) }
    }

    /// `number` as this trunk sends it: `stripDigits` characters off its start, `addPrefix` before.
    public func rewritten(_ number: String) -> String {
        addPrefix + String(number.dropFirst(min(stripDigits, number.count)))
    }
}

/// Numbers outside the client (issue 11): a customer's mobile, another company's line.
public enum OutsideNumber {
    /// `+` then 2…20 digits, or 2…20 digits (`*` and `#` allowed after the first, as providers'
    /// feature codes use them).
    public static func isValid(_ text: String) -> Bool {
        let body = text.hasPrefix("+") ? text.utf8.dropFirst() : text.utf8[...]
        guard (2...20).contains(body.count), let first = body.first, (0x30...0x39).contains(first) else { return false }
        return body.allSatisfy { (0x30...0x39).contains($0) || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "#") }
    }

    /// The number without one leading `+`, the form prefixes are compared in.
    static func comparable(_ text: String) -> Substring {
        text.hasPrefix("+") ? text.dropFirst() : text[...]
    }

    /// The trunks that carry `number`, in the order they are tried (`position`, then id).
    public static func route(_ number: String, over trunks: [Trunk]) -> [Trunk] {
        trunks.filter { $0.carries(number) }.sorted { ($0.position, $0.id) < ($1.position, $1.id) }
    }
}

/// How the call-flow engine names a number outside the client among the parties it rings (an
/// agent is named by its extension name): extension names are digits only (`ExtensionName`),
/// so a name with `out:` before the number is never an agent's.
public enum OutsideParty {
    public static func name(of number: String) -> String { "out:" + number }

    /// The number a party name stands for; nil for an agent's name.
    public static func number(of party: String) -> String? {
        party.hasPrefix("out:") ? String(party.dropFirst(4)) : nil
    }
}

/// `CSeq: 4711 INVITE`.
public struct CSeq: Sendable, Equatable, CustomStringConvertible {
    public var number: UInt32
    public var method: String

    public init(number: UInt32, method: String) {
        self.number = number
        self.method = method
    }

    public init?(_ text: String) {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, parts[0].count <= 10, let number = UInt32(parts[0]), number < 1 << 31,
            parts[1].unicodeScalars.allSatisfy(SIPParser.isTokenCharacter)
        else { return nil }
        self.init(number: number, method: String(parts[1]))
    }

    public var description: String { "\(number) \(method)" }
}

/// `;name=value;flag` parameters, in order, names compared case-insensitively.
public struct SIPParameters: Sendable, Equatable {
    public var items: [(name: String, value: String?)]

    public init(_ items: [(name: String, value: String?)] = []) { self.items = items }

    init(parsing text: Substring) {
        items = text.split(separator: ";").compactMap { item in
            let parts = item.split(separator: "=", maxSplits: 1)
            guard let name = parts.first?.trimmingSIPWhitespace(), !name.isEmpty else { return nil }
            return (name, parts.count > 1 ? parts[1].trimmingSIPWhitespace() : nil)
        }
    }

    public subscript(name: String) -> String?? {
        items.first { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    public var description: String {
        items.map { ";\($0.name)" + ($0.value.map { "=\($0)" } ?? "") }.joined()
    }

    public static func == (lhs: SIPParameters, rhs: SIPParameters) -> Bool {
        lhs.items.count == rhs.items.count && zip(lhs.items, rhs.items).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// `sip:user@host:port;params` (RFC 3261 §19.1), without headers (`?…`), which are dropped.
public struct SIPURI: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var user: String?
    public var host: String
    public var port: Int?
    public var parameters: SIPParameters

    public init(scheme: String = "sip", user: String?, host: String, port: Int? = nil, parameters: SIPParameters = .init()) {
        self.scheme = scheme
        self.user = user
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let scheme = text[..<colon].lowercased()
        guard scheme == "sip" || scheme == "sips" else { return nil }
        var rest = text[text.index(after: colon)...]
        if let question = rest.firstIndex(of: "?") { rest = rest[..<question] }
        let parameterStart = rest.firstIndex(of: ";")
        let parameters = parameterStart.map { SIPParameters(parsing: rest[rest.index(after: $0)...]) } ?? SIPParameters()
        let address = parameterStart.map { rest[..<$0] } ?? rest
        var user: String?
        var hostPort = address
        if let at = address.lastIndex(of: "@") {
            user = String(address[..<at])
            hostPort = address[address.index(after: at)...]
        }
        var host = String(hostPort)
        var port: Int?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { return nil }
            host = String(hostPort[...close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65_535).contains(value) else { return nil }
                port = value
            } else if !after.isEmpty {
                return nil
            }
        } else if let portColon = hostPort.lastIndex(of: ":") {
            guard let value = Int(hostPort[hostPort.index(after: portColon)...]), (1...65_535).contains(value) else { return nil }
            host = String(hostPort[..<portColon])
            port = value
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "<" || $0 == ">" }) else { return nil }
        self.init(scheme: scheme, user: user, host: host, port: port, parameters: parameters)
    }

    public var description: String {
        "\(scheme):" + (user.map { "\($0)@" } ?? "") + host + (port.map { ":\($0)" } ?? "") + parameters.description
    }
}

/// `"Display" <sip:uri>;tag=x` or `sip:uri;tag=x` — the value of From, To and Contact.
public struct NameAddress: Sendable, Equatable, CustomStringConvertible {
    public var displayName: String?
    public var uri: SIPURI
    public var parameters: SIPParameters

    public init(displayName: String? = nil, uri: SIPURI, parameters: SIPParameters = .init()) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    public init?(_ text: String) {
        let value = text.trimmingSIPWhitespace()
        if let open = value.firstIndex(of: "<") {
            guard let close = value[open...].firstIndex(of: ">"), let uri = SIPURI(String(value[value.index(after: open)..<close])) else {
                return nil
            }
            var display = value[..<open].trimmingSIPWhitespace()
            if display.hasPrefix("\""), display.hasSuffix("\""), display.count >= 2 { display = String(display.dropFirst().dropLast()) }
            let rest = value[value.index(after: close)...].trimmingSIPWhitespace()
            self.init(
                displayName: display.isEmpty ? nil : display, uri: uri,
                parameters: rest.hasPrefix(";") ? SIPParameters(parsing: rest.dropFirst()[...]) : SIPParameters())
        } else {
            // Without angle brackets, parameters belong to the header, not the URI (RFC 3261 §20.10).
            let parts = value.split(separator: ";", maxSplits: 1)
            guard let first = parts.first, let uri = SIPURI(String(first)) else { return nil }
            self.init(uri: uri, parameters: parts.count > 1 ? SIPParameters(parsing: parts[1]) : SIPParameters())
        }
    }

    public var tag: String? { parameters["tag"] ?? nil }

    /// `name` as a display name `description` can quote: without `"` and `\` (RFC 3261 §25.1
    /// quoted-string), nor control characters.
    public static func displayable(_ name: String) -> String {
        String(name.unicodeScalars.filter { $0 != "\"" && $0 != "\\" && !($0.properties.generalCategory == .control) }.map(Character.init))
    }

    public var description: String {
        (displayName.map { "\"\($0)\" " } ?? "") + "<\(uri)>" + parameters.description
    }
}

/// One `Via` value: `SIP/2.0/UDP host:port;branch=z9hG4bK…;rport`.
public struct Via: Sendable, Equatable, CustomStringConvertible {
    public var transport: String
    public var host: String
    public var port: Int?
    public var parameters: SIPParameters

    public init(transport: String, host: String, port: Int?, parameters: SIPParameters) {
        self.transport = transport
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    public init?(_ text: String) {
        let value = text.trimmingSIPWhitespace()
        guard let space = value.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        let protocolParts = value[..<space].split(separator: "/")
        guard protocolParts.count == 3, protocolParts[0].uppercased() == "SIP", protocolParts[1] == "2.0" else { return nil }
        let rest = value[space...].trimmingSIPWhitespace()
        let sentBy = rest.split(separator: ";", maxSplits: 1)
        guard let address = sentBy.first, let uri = SIPURI("sip:" + address.trimmingSIPWhitespace()) else { return nil }
        self.init(
            transport: protocolParts[2].uppercased(), host: uri.host, port: uri.port,
            parameters: sentBy.count > 1 ? SIPParameters(parsing: sentBy[1]) : SIPParameters())
    }

    public var branch: String? { parameters["branch"] ?? nil }

    /// The Via of a new request sent from `host`:`port` over `transport` ("UDP", "TCP"): a fresh
    /// branch with the RFC 3261 magic cookie (§8.1.1.7), and `rport` (RFC 3581: answers come
    /// back to the port the request was sent from).
    public static func forNewRequest(transport: String, host: String, port: Int) -> String {
        "SIP/2.0/\(transport) \(sentBy(host: host, port: port));branch=z9hG4bK\(String(UInt64.random(in: .min ... .max), radix: 16));rport"
    }

    /// `host:port`, an IPv6 host in brackets.
    public static func sentBy(host: String, port: Int) -> String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    public var description: String {
        "SIP/2.0/\(transport) \(host)" + (port.map { ":\($0)" } ?? "") + parameters.description
    }
}

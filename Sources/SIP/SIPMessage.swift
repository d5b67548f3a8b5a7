/// A SIP request or response (RFC 3261 §7), as parsed from or serialised to the wire.
public struct SIPMessage: Sendable, Equatable {
    public enum StartLine: Sendable, Equatable {
        case request(method: String, uri: String)
        case response(status: Int, reason: String)
    }

    public var startLine: StartLine
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(startLine: StartLine, headers: SIPHeaders, body: [UInt8] = []) {
        self.startLine = startLine
        self.headers = headers
        self.body = body
    }

    public var isRequest: Bool { if case .request = startLine { true } else { false } }

    public var method: String? { if case .request(let method, _) = startLine { method } else { nil } }

    public var status: Int? { if case .response(let status, _) = startLine { status } else { nil } }

    /// The bytes on the wire: `Content-Length` is written from the body, whatever the headers say.
    public func serialized() -> [UInt8] {
        var text: String
        switch startLine {
        case .request(let method, let uri): text = "\(method) \(uri) SIP/2.0\r\n"
        case .response(let status, let reason): text = "SIP/2.0 \(status) \(reason)\r\n"
        }
        for field in headers.fields where field.name.lowercased() != "content-length" && field.name.lowercased() != "l" {
            text += "\(field.name): \(field.value)\r\n"
        }
        text += "Content-Length: \(body.count)\r\n\r\n"
        return Array(text.utf8) + body
    }
}

/// Header fields in their order, looked up by name case-insensitively, with the compact forms
/// of RFC 3261 §7.3.3 (`v` is `Via`, `i` is `Call-ID` …) read as their long names.
public struct SIPHeaders: Sendable, Equatable {
    public private(set) var fields: [(name: String, value: String)]

    static let compactForms: [String: String] = [
        "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length", "c": "content-type",
        "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via",
    ]

    public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

    static func canonical(_ name: String) -> String {
        let lower = name.lowercased()
        return compactForms[lower] ?? lower
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? {
        let wanted = Self.canonical(name)
        return fields.first { Self.canonical($0.name) == wanted }?.value
    }

    /// Every value of `name`, in order; comma-separated values of one line count separately
    /// for headers that may be lists (Via, Route, Record-Route, Path, Contact), as RFC 3261 §7.3.1 allows.
    public func values(_ name: String) -> [String] {
        let wanted = Self.canonical(name)
        let lines = fields.filter { Self.canonical($0.name) == wanted }.map(\.value)
        guard ["via", "route", "record-route", "path", "contact", "allow", "supported"].contains(wanted) else { return lines }
        return lines.flatMap(SIPHeaders.splitList)
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    /// Replaces every field of `name` by one with `value`.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append((name, value))
    }

    public mutating func remove(_ name: String) {
        let wanted = Self.canonical(name)
        fields.removeAll { Self.canonical($0.name) == wanted }
    }

    /// Splits on commas outside quotes and angle brackets (`"Doe, J" <sip:j@x>, <sip:k@y>`).
    static func splitList(_ value: String) -> [String] {
        var items: [String] = []
        var current = ""
        var inQuotes = false
        var inAngle = false
        var escaped = false
        for character in value {
            if escaped { current.append(character); escaped = false; continue }
            switch character {
            case "\\" where inQuotes: escaped = true; current.append(character)
            case "\"": inQuotes.toggle(); current.append(character)
            case "<" where !inQuotes: inAngle = true; current.append(character)
            case ">" where !inQuotes: inAngle = false; current.append(character)
            case "," where !inQuotes && !inAngle:
                items.append(current.trimmingSIPWhitespace())
                current = ""
            default: current.append(character)
            }
        }
        let last = current.trimmingSIPWhitespace()
        if !last.isEmpty || !items.isEmpty { items.append(last) }
        return items.filter { !$0.isEmpty }
    }

    public static func == (lhs: SIPHeaders, rhs: SIPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

extension StringProtocol {
    func trimmingSIPWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}

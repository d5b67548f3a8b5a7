/// Why bytes are not a SIP message. Each case says enough to answer 400 with a reason phrase,
/// or, when not even that is possible, to drop the datagram and count it.
public enum SIPParseError: Error, Equatable, CustomStringConvertible {
    case tooLarge(limit: Int)
    case noHeaderEnd
    case notText
    case malformedStartLine
    case unsupportedVersion(String)
    case malformedHeader(line: Int)
    case tooManyHeaders(limit: Int)
    case missingHeader(String)
    case malformedCSeq
    case cseqMethodMismatch
    case malformedContentLength
    case incompleteBody(expected: Int, received: Int)

    public var description: String {
        switch self {
        case .tooLarge(let limit): "message larger than \(limit) bytes"
        case .noHeaderEnd: "no empty line after the headers"
        case .notText: "headers are not UTF-8 text without NUL"
        case .malformedStartLine: "malformed request or status line"
        case .unsupportedVersion(let version): "unsupported version \(version)"
        case .malformedHeader(let line): "malformed header on line \(line)"
        case .tooManyHeaders(let limit): "more than \(limit) header fields"
        case .missingHeader(let name): "missing \(name) header"
        case .malformedCSeq: "malformed CSeq"
        case .cseqMethodMismatch: "CSeq method differs from the request method"
        case .malformedContentLength: "malformed Content-Length"
        case .incompleteBody(let expected, let received): "Content-Length \(expected) but \(received) body bytes"
        }
    }
}

/// Parses SIP messages (RFC 3261 §7) from bytes, any bytes: nothing here traps, every refusal is
/// a `SIPParseError`, and sizes are bounded before anything is allocated for them.
public enum SIPParser {
    public static let maxMessageSize = 65_535
    public static let maxHeaderFields = 128
    /// The headers without which no transaction can be matched or answered (RFC 3261 §8.1.1).
    static let mandatoryHeaders = ["Via", "From", "To", "Call-ID", "CSeq"]

    /// One whole message, as a UDP datagram carries it: a body longer than `Content-Length` is
    /// cut to it (RFC 3261 §18.3), a shorter one is an error; without `Content-Length` the body
    /// is the rest of the datagram.
    public static func parse(_ bytes: [UInt8]) throws(SIPParseError) -> SIPMessage {
        guard bytes.count <= maxMessageSize else { throw .tooLarge(limit: maxMessageSize) }
        guard let (headerEnd, bodyStart) = headerBoundary(in: bytes[...]) else { throw .noHeaderEnd }
        var message = try parseHead(bytes[..<headerEnd])
        let available = bytes.count - bodyStart
        if let declared = try contentLength(of: message) {
            guard declared <= available else { throw .incompleteBody(expected: declared, received: available) }
            message.body = Array(bytes[bodyStart..<(bodyStart + declared)])
        } else {
            message.body = Array(bytes[bodyStart...])
        }
        return message
    }

    /// Where the header section ends (before the empty line) and the body starts. Bare LF line
    /// ends are accepted as well as CRLF, as robust implementations do.
    static func headerBoundary(in bytes: ArraySlice<UInt8>) -> (headerEnd: Int, bodyStart: Int)? {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == 0x0A {
                var next = index + 1
                if next < bytes.endIndex, bytes[next] == 0x0D { next += 1 }
                if next < bytes.endIndex, bytes[next] == 0x0A { return (index, next + 1) }
            }
            index += 1
        }
        return nil
    }

    static func parseHead(_ head: ArraySlice<UInt8>) throws(SIPParseError) -> SIPMessage {
        // Lines are split on bytes: as Characters, "\r\n" is one grapheme and would not split on "\n".
        var lines: [Substring] = []
        for rawLine in head.split(separator: 0x0A, omittingEmptySubsequences: false) {
            let line = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine
            // NUL is no character of any header (RFC 3261 §25.1: TEXT-UTF8 excludes the
            // controls), and a name or number carrying one must not reach storage (PostgreSQL's
            // text cannot hold it: the lookup would fail as if the database did).
            guard !line.contains(0x00), let text = String(validating: line, as: UTF8.self) else { throw .notText }
            lines.append(text[...])
        }
        // RFC 3261 §7.5: empty lines before the start line are ignored.
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        guard let first = lines.first else { throw .malformedStartLine }
        let startLine = try parseStartLine(first)

        var fields: [(name: String, value: String)] = []
        for (offset, line) in lines.dropFirst().enumerated() {
            if line.isEmpty { continue }
            if line.first == " " || line.first == "\t" {
                // A folded continuation of the previous field's value.
                guard !fields.isEmpty else { throw .malformedHeader(line: offset + 2) }
                fields[fields.count - 1].value += " " + line.trimmingSIPWhitespace()
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw .malformedHeader(line: offset + 2) }
            let name = line[..<colon].trimmingSIPWhitespace()
            guard !name.isEmpty, name.unicodeScalars.allSatisfy(isTokenCharacter) else { throw .malformedHeader(line: offset + 2) }
            guard fields.count < maxHeaderFields else { throw .tooManyHeaders(limit: maxHeaderFields) }
            fields.append((name, line[line.index(after: colon)...].trimmingSIPWhitespace()))
        }
        let headers = SIPHeaders(fields)
        for name in mandatoryHeaders where headers[name] == nil { throw .missingHeader(name) }
        guard let cseq = CSeq(headers["CSeq"] ?? "") else { throw .malformedCSeq }
        if case .request(let method, _) = startLine, cseq.method != method { throw .cseqMethodMismatch }
        return SIPMessage(startLine: startLine, headers: headers)
    }

    static func parseStartLine(_ line: Substring) throws(SIPParseError) -> SIPMessage.StartLine {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformedStartLine }
        if parts[0].uppercased().hasPrefix("SIP/") {
            guard parts[0].uppercased() == "SIP/2.0" else { throw .unsupportedVersion(String(parts[0].prefix(16))) }
            guard parts[1].count == 3, let status = Int(parts[1]), (100...699).contains(status) else { throw .malformedStartLine }
            return .response(status: status, reason: String(parts[2]))
        }
        let method = parts[0]
        guard !method.isEmpty, method.unicodeScalars.allSatisfy(isTokenCharacter) else { throw .malformedStartLine }
        guard !parts[1].isEmpty, !parts[1].contains(where: { $0 == " " || $0 == "\t" }) else { throw .malformedStartLine }
        guard parts[2].uppercased() == "SIP/2.0" else {
            if parts[2].uppercased().hasPrefix("SIP/") { throw .unsupportedVersion(String(parts[2].prefix(16))) }
            throw .malformedStartLine
        }
        return .request(method: String(method), uri: String(parts[1]))
    }

    static func contentLength(of message: SIPMessage) throws(SIPParseError) -> Int? {
        guard let text = message.headers["Content-Length"] else { return nil }
        guard !text.isEmpty, text.count <= 6, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let length = Int(text) else {
            throw .malformedContentLength
        }
        return length
    }

    /// RFC 3261 §25.1 `token` characters.
    static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", ".", "!", "%", "*", "_", "+", "`", "'", "~": true
        default: false
        }
    }
}

/// Splits a TCP byte stream into messages by `Content-Length`, which a stream transport
/// requires (RFC 3261 §18.3). After an error the framing is lost: close the connection.
public struct SIPStreamFramer: Sendable {
    private var buffer: [UInt8] = []
    /// Where the search for the end of the headers resumes: a peer sending one byte at a time
    /// must not make every read rescan the whole buffer.
    private var searchFrom = 0

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Whether bytes of a message not yet complete are waiting (after `nextMessage` returned
    /// nil): a peer that stops half-way through a message holds them.
    public var holdsPartialMessage: Bool { buffer.contains { $0 != 0x0D && $0 != 0x0A } }

    /// The next whole message, or nil until more bytes arrive.
    public mutating func nextMessage() throws(SIPParseError) -> SIPMessage? {
        // CRLF keep-alives between messages (RFC 5626 §4.4.1) carry nothing.
        if searchFrom == 0 {
            let leading = buffer.prefix { $0 == 0x0D || $0 == 0x0A }.count
            if leading > 0 { buffer.removeFirst(leading) }
        }
        guard !buffer.isEmpty else { return nil }
        guard let (headerEnd, bodyStart) = SIPParser.headerBoundary(in: buffer[searchFrom...]) else {
            if buffer.count > SIPParser.maxMessageSize { throw .tooLarge(limit: SIPParser.maxMessageSize) }
            // The blank line may be split across reads: its first LF can be among the last 2 bytes.
            searchFrom = max(0, buffer.count - 2)
            return nil
        }
        searchFrom = headerEnd
        var message = try SIPParser.parseHead(buffer[..<headerEnd])
        guard let length = try SIPParser.contentLength(of: message) else { throw .missingHeader("Content-Length") }
        guard bodyStart + length <= SIPParser.maxMessageSize else { throw .tooLarge(limit: SIPParser.maxMessageSize) }
        guard buffer.count >= bodyStart + length else { return nil }
        message.body = Array(buffer[bodyStart..<(bodyStart + length)])
        buffer.removeFirst(bodyStart + length)
        searchFrom = 0
        return message
    }
}

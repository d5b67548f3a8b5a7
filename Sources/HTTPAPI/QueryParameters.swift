import Domain

/// The query string, decoded strictly: `+` is a space, `%XX` must be valid UTF-8, and control
/// characters are refused — each problem answered with 400 naming the parameter.
struct QueryParameters {
    private var values: [String: String] = [:]

    init(_ query: String?) throws {
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let rawName = parts[0]
            let name = try Self.decode(rawName, parameter: String(rawName))
            let value = parts.count > 1 ? try Self.decode(parts[1], parameter: name) : ""
            // The first occurrence wins, so a repeated parameter cannot override a checked one.
            if values[name] == nil { values[name] = value }
        }
    }

    subscript(name: String) -> String? { values[name] }

    private static func decode(_ text: Substring, parameter: String) throws -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    throw APIError.badParameter(APIError.printable(parameter), "malformed percent-encoding")
                }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw APIError.badParameter(APIError.printable(parameter), "not valid UTF-8")
        }
        guard !decoded.containsControlCharacters else {
            throw APIError.badParameter(APIError.printable(parameter), "control characters are not allowed")
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    // MARK: Typed readers

    /// The text when it is only ASCII digits: Swift's integer parsing would also take `+5`.
    static func digits(_ text: String) -> String? {
        !text.isEmpty && text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) ? text : nil
    }

    func localDateTime(_ name: String, in zone: ClientTimeZone) throws -> UnixTime? {
        guard let raw = values[name] else { return nil }
        guard let local = LocalDateTime(parsing: raw) else {
            throw APIError.badParameter(name, expected: "\(LocalDateTime.format) in the client's time zone (\(zone.identifier))", got: raw)
        }
        return zone.instant(of: local)
    }

    func positiveID(_ name: String) throws -> Int64? {
        guard let raw = values[name] else { return nil }
        guard let value = Self.digits(raw).flatMap({ Int64($0) }), value >= 1 else {
            throw APIError.badParameter(name, expected: "a positive integer id", got: raw)
        }
        return value
    }

    func limit(_ name: String = "limit", range: ClosedRange<Int>) throws -> Int? {
        guard let raw = values[name] else { return nil }
        guard let value = Self.digits(raw).flatMap({ Int($0) }), range.contains(value) else {
            throw APIError.badParameter(name, expected: "an integer from \(range.lowerBound) to \(range.upperBound)", got: raw)
        }
        return value
    }

    func flag(_ name: String, default absent: Bool = false) throws -> Bool {
        switch values[name] {
        case nil: absent
        case "false": false
        case "true": true
        case let raw?: throw APIError.badParameter(name, expected: "true or false", got: raw)
        }
    }

    func callUUID(_ name: String) throws -> CallUUID? {
        guard let raw = values[name] else { return nil }
        guard let uuid = CallUUID(raw) else {
            throw APIError.badParameter(name, expected: "a call_uuid of 32 upper-case hexadecimal digits", got: raw)
        }
        return uuid
    }
}
